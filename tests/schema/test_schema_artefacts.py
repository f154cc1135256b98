"""The generated artefacts against the reference: SDL (appsync-amplify-data.md section 5), model
introspection (section 4.5) and amplify_outputs.json (sections 4.1-4.2, Amplify's outputs schema).

SDL is compared through graphql-core's parsed schema (names, types and *order* of fields and
arguments), not as text, so whitespace and directive placement (unverified in the reference) do not
matter while everything a client can observe does.
"""

from __future__ import annotations

from typing import Any

import graphql
import pytest

from cove import a, define_data
from cove.outputs import build_outputs
from cove.schema.mis import to_mis
from cove.schema.model import Schema
from cove.schema.sdl import to_sdl


def fields_of(sdl: graphql.GraphQLSchema, name: str) -> list[tuple[str, str]]:
    """[(field, type)] of an object or input type, in declaration order."""
    t = sdl.get_type(name)
    assert isinstance(t, graphql.GraphQLObjectType | graphql.GraphQLInputObjectType), f"{name} missing"
    return [(fname, str(f.type)) for fname, f in t.fields.items()]


def args_of(sdl: graphql.GraphQLSchema, root: str, field: str) -> list[tuple[str, str]]:
    t = sdl.get_type(root)
    assert isinstance(t, graphql.GraphQLObjectType)
    return [(name, str(arg.type)) for name, arg in t.fields[field].args.items()]


def result_of(sdl: graphql.GraphQLSchema, root: str, field: str) -> str:
    t = sdl.get_type(root)
    assert isinstance(t, graphql.GraphQLObjectType)
    return str(t.fields[field].type)


def directive_names(node: Any) -> set[str]:
    return {d.name.value for d in node.directives or ()}


def spec(text: str) -> list[tuple[str, str]]:
    """`"a:T b:[T]"` -> [("a", "T"), ("b", "[T]")]: the reference tables, transcribed compactly."""
    return [tuple(item.split(":", 1)) for item in text.split()]  # type: ignore[misc]


# ------------------------------------------------------------------------------------------------
# The reference's Todo (section 4.5): owner rules plus public API-key read.


def reference_todo(**define: Any) -> Schema:
    schema = a.schema({
        "Todo": a.model({
            "content": a.string(),
            "done": a.boolean(),
            "priority": a.enum(["low", "medium", "high"]),
        }).authorization(lambda allow: [allow.owner(), allow.public_api_key().to(["read"])]),
    })
    return define_data(schema=schema, **define).schema


@pytest.fixture(scope="module")
def todo_sdl() -> graphql.GraphQLSchema:
    sdl = graphql.build_schema(to_sdl(reference_todo()))
    assert graphql.validate_schema(sdl) == []
    return sdl


# Scalar filter inputs: the exact operator sets and order of section 5 (from `definitions.ts`).
SCALAR_INPUTS = {
    "ModelStringInput": "ne:String eq:String le:String lt:String ge:String gt:String contains:String "
                        "notContains:String between:[String] beginsWith:String attributeExists:Boolean "
                        "attributeType:ModelAttributeTypes size:ModelSizeInput",
    "ModelIDInput": "ne:ID eq:ID le:ID lt:ID ge:ID gt:ID contains:ID notContains:ID between:[ID] beginsWith:ID "
                    "attributeExists:Boolean attributeType:ModelAttributeTypes size:ModelSizeInput",
    "ModelIntInput": "ne:Int eq:Int le:Int lt:Int ge:Int gt:Int between:[Int] attributeExists:Boolean "
                     "attributeType:ModelAttributeTypes",
    "ModelFloatInput": "ne:Float eq:Float le:Float lt:Float ge:Float gt:Float between:[Float] "
                       "attributeExists:Boolean attributeType:ModelAttributeTypes",
    "ModelBooleanInput": "ne:Boolean eq:Boolean attributeExists:Boolean attributeType:ModelAttributeTypes",
    "ModelSizeInput": "ne:Int eq:Int le:Int lt:Int ge:Int gt:Int between:[Int]",
    "ModelSubscriptionStringInput": "ne:String eq:String le:String lt:String ge:String gt:String contains:String "
                                    "notContains:String between:[String] beginsWith:String in:[String] "
                                    "notIn:[String]",
    "ModelSubscriptionIDInput": "ne:ID eq:ID le:ID lt:ID ge:ID gt:ID contains:ID notContains:ID between:[ID] "
                                "beginsWith:ID in:[ID] notIn:[ID]",
    "ModelSubscriptionIntInput": "ne:Int eq:Int le:Int lt:Int ge:Int gt:Int between:[Int] in:[Int] notIn:[Int]",
    "ModelSubscriptionFloatInput": "ne:Float eq:Float le:Float lt:Float ge:Float gt:Float between:[Float] "
                                   "in:[Float] notIn:[Float]",
    "ModelSubscriptionBooleanInput": "ne:Boolean eq:Boolean",
    "ModelStringKeyConditionInput": "eq:String le:String lt:String ge:String gt:String between:[String] "
                                    "beginsWith:String",
    "ModelIDKeyConditionInput": "eq:ID le:ID lt:ID ge:ID gt:ID between:[ID] beginsWith:ID",
    "ModelIntKeyConditionInput": "eq:Int le:Int lt:Int ge:Int gt:Int between:[Int]",
    "ModelFloatKeyConditionInput": "eq:Float le:Float lt:Float ge:Float gt:Float between:[Float]",
}


@pytest.mark.parametrize("name", list(SCALAR_INPUTS))
def test_scalar_filter_inputs(todo_sdl: graphql.GraphQLSchema, name: str) -> None:
    assert isinstance(todo_sdl.get_type(name), graphql.GraphQLInputObjectType)
    assert fields_of(todo_sdl, name) == spec(SCALAR_INPUTS[name])


def test_shared_enums(todo_sdl: graphql.GraphQLSchema) -> None:
    attribute_types = todo_sdl.get_type("ModelAttributeTypes")
    assert isinstance(attribute_types, graphql.GraphQLEnumType)
    assert list(attribute_types.values) == ["binary", "binarySet", "bool", "list", "map", "number", "numberSet",
                                            "string", "stringSet", "_null"]
    direction = todo_sdl.get_type("ModelSortDirection")
    assert isinstance(direction, graphql.GraphQLEnumType)
    assert list(direction.values) == ["ASC", "DESC"]


def test_aws_scalars_are_declared(todo_sdl: graphql.GraphQLSchema) -> None:
    for name in ("AWSDate", "AWSTime", "AWSDateTime", "AWSTimestamp", "AWSEmail", "AWSJSON", "AWSPhone", "AWSURL",
                 "AWSIPAddress"):
        assert isinstance(todo_sdl.get_type(name), graphql.GraphQLScalarType), name


def test_enum_filter_inputs(todo_sdl: graphql.GraphQLSchema) -> None:
    enum = todo_sdl.get_type("TodoPriority")
    assert isinstance(enum, graphql.GraphQLEnumType) and list(enum.values) == ["low", "medium", "high"]
    assert fields_of(todo_sdl, "ModelTodoPriorityInput") == spec("eq:TodoPriority ne:TodoPriority")
    assert fields_of(todo_sdl, "ModelTodoPriorityListInput") == spec(
        "eq:[TodoPriority] ne:[TodoPriority] contains:TodoPriority notContains:TodoPriority")


def test_model_type(todo_sdl: graphql.GraphQLSchema) -> None:
    assert fields_of(todo_sdl, "Todo") == spec(
        "id:ID! content:String done:Boolean priority:TodoPriority createdAt:AWSDateTime! updatedAt:AWSDateTime! "
        "owner:String")
    todo = todo_sdl.get_type("Todo")
    assert isinstance(todo, graphql.GraphQLObjectType)
    # Both rules' modes, plus IAM (Gen 2's generic IAM access for back-end code).
    assert directive_names(todo.ast_node) == {"aws_cognito_user_pools", "aws_api_key", "aws_iam"}


def test_connection_type(todo_sdl: graphql.GraphQLSchema) -> None:
    assert fields_of(todo_sdl, "ModelTodoConnection") == spec("items:[Todo]! nextToken:String")


def test_create_update_delete_inputs(todo_sdl: graphql.GraphQLSchema) -> None:
    assert fields_of(todo_sdl, "CreateTodoInput") == spec(
        "id:ID content:String done:Boolean priority:TodoPriority owner:String")
    assert fields_of(todo_sdl, "UpdateTodoInput") == spec(
        "id:ID! content:String done:Boolean priority:TodoPriority owner:String")
    assert fields_of(todo_sdl, "DeleteTodoInput") == spec("id:ID!")


def test_condition_and_filter_inputs(todo_sdl: graphql.GraphQLSchema) -> None:
    assert fields_of(todo_sdl, "ModelTodoConditionInput") == spec(
        "content:ModelStringInput done:ModelBooleanInput priority:ModelTodoPriorityInput "
        "createdAt:ModelStringInput updatedAt:ModelStringInput owner:ModelStringInput "
        "and:[ModelTodoConditionInput] or:[ModelTodoConditionInput] not:ModelTodoConditionInput")
    assert fields_of(todo_sdl, "ModelTodoFilterInput") == spec(
        "id:ModelIDInput content:ModelStringInput done:ModelBooleanInput priority:ModelTodoPriorityInput "
        "createdAt:ModelStringInput updatedAt:ModelStringInput owner:ModelStringInput "
        "and:[ModelTodoFilterInput] or:[ModelTodoFilterInput] not:ModelTodoFilterInput")


def test_subscription_filter_input(todo_sdl: graphql.GraphQLSchema) -> None:
    # Enums are filtered as strings; no `not`; the owner field is removed (the server filters on it).
    assert fields_of(todo_sdl, "ModelSubscriptionTodoFilterInput") == spec(
        "id:ModelSubscriptionIDInput content:ModelSubscriptionStringInput done:ModelSubscriptionBooleanInput "
        "priority:ModelSubscriptionStringInput createdAt:ModelSubscriptionStringInput "
        "updatedAt:ModelSubscriptionStringInput "
        "and:[ModelSubscriptionTodoFilterInput] or:[ModelSubscriptionTodoFilterInput]")


def test_root_fields(todo_sdl: graphql.GraphQLSchema) -> None:
    assert args_of(todo_sdl, "Query", "getTodo") == spec("id:ID!")
    assert result_of(todo_sdl, "Query", "getTodo") == "Todo"
    # AppSync's arguments first; Cove's sortBy after them (optional, so AppSync's documents still fit)
    assert args_of(todo_sdl, "Query", "listTodos") == spec(
        "filter:ModelTodoFilterInput limit:Int nextToken:String sortBy:[ModelTodoSortInput!]")
    assert result_of(todo_sdl, "Query", "listTodos") == "ModelTodoConnection"
    assert args_of(todo_sdl, "Query", "countTodos") == spec("filter:ModelTodoFilterInput")
    assert result_of(todo_sdl, "Query", "countTodos") == "Int"
    assert args_of(todo_sdl, "Query", "aggregateTodos") == spec(
        "function:ModelAggregateFunction! field:ModelTodoOrderableField groupBy:ModelTodoOrderableField "
        "filter:ModelTodoFilterInput maxGroups:Int")
    assert fields_of(todo_sdl, "ModelTodoSortInput") == spec("field:ModelTodoOrderableField! direction:ModelSortDirection")
    assert args_of(todo_sdl, "Mutation", "transactWrite") == spec("items:[TransactWriteItemInput!]!")
    assert fields_of(todo_sdl, "TransactCreateTodoInput") == spec("input:CreateTodoInput! condition:ModelTodoConditionInput")
    for op in ("create", "update", "delete"):
        field = f"{op}Todo"
        assert args_of(todo_sdl, "Mutation", field) == [
            ("input", f"{op.capitalize()}TodoInput!"), ("condition", "ModelTodoConditionInput")]
        assert result_of(todo_sdl, "Mutation", field) == "Todo"
    subscription = todo_sdl.get_type("Subscription")
    assert isinstance(subscription, graphql.GraphQLObjectType)
    for op in ("create", "update", "delete"):
        field = f"on{op.capitalize()}Todo"
        assert args_of(todo_sdl, "Subscription", field) == spec("filter:ModelSubscriptionTodoFilterInput owner:String")
        assert result_of(todo_sdl, "Subscription", field) == "Todo"
        node = subscription.fields[field].ast_node
        assert node is not None
        (subscribe,) = [d for d in node.directives if d.name.value == "aws_subscribe"]
        assert graphql.print_ast(subscribe) == f'@aws_subscribe(mutations: ["{op}Todo"])'


def test_create_input_required_fields_and_defaults() -> None:
    """Required fields keep `!` on create unless they have a default; timestamps never appear; update
    requires only the key."""
    schema = define_data(schema=a.schema({
        "Todo": a.model({
            "title": a.string().required(),
            "done": a.boolean().required().default(False),
            "rank": a.integer().default(0),
            "tags": a.string().required().array().required(),
            "notes": a.string(),
        }),
    }).authorization(lambda allow: [allow.public_api_key()])).schema
    sdl = graphql.build_schema(to_sdl(schema))
    assert fields_of(sdl, "CreateTodoInput") == spec(
        "id:ID title:String! done:Boolean rank:Int tags:[String!]! notes:String")
    assert fields_of(sdl, "UpdateTodoInput") == spec(
        "id:ID! title:String done:Boolean rank:Int tags:[String!] notes:String")
    assert fields_of(sdl, "DeleteTodoInput") == spec("id:ID!")
    assert fields_of(sdl, "ModelTodoConditionInput") == spec(
        "title:ModelStringInput done:ModelBooleanInput rank:ModelIntInput tags:ModelStringInput "
        "notes:ModelStringInput createdAt:ModelStringInput updatedAt:ModelStringInput "
        "and:[ModelTodoConditionInput] or:[ModelTodoConditionInput] not:ModelTodoConditionInput")


# ------------------------------------------------------------------------------------------------
# A rich schema: every feature at once builds and validates with graphql-core.


def rich_schema() -> Schema:
    schema = a.schema({
        "Status": a.enum(["draft", "live", "archived"]),
        "Address": a.custom_type({
            "street": a.string().required(),
            "lines": a.string().array(),
            "geo": a.custom_type({"lat": a.float(), "lng": a.float()}),
            "kind": a.enum(["home", "work"]),
            "status": a.ref("Status"),
        }),
        "Blog": a.model({
            "name": a.string().required(),
            "posts": a.has_many("Post", "blogId"),
            "profile": a.has_one("Profile", "blogId"),
        }).authorization(lambda allow: [allow.public_api_key().to(["read"]), allow.owner(),
                                        allow.group("Admins")]),
        "Post": a.model({
            "blogId": a.id(),
            "blog": a.belongs_to("Blog", "blogId"),
            "title": a.string().required(),
            "status": a.ref("Status").required().default("draft"),
            "statuses": a.ref("Status").array(),
            "mood": a.enum(["happy", "sad"]),
            "address": a.ref("Address"),
            "meta": a.custom_type({"views": a.integer(), "tags": a.string().required().array().required()}),
            "rating": a.float().default(0.5),
            "secret": a.string().authorization(lambda allow: [allow.owner().to(["read", "update"])]),
            "i": a.id(), "s": a.string(), "n": a.integer(), "f": a.float(), "b": a.boolean(), "d": a.date(),
            "t": a.time(), "dt": a.datetime(), "ts": a.timestamp(), "e": a.email(), "j": a.json(), "p": a.phone(),
            "u": a.url(), "ip": a.ip_address(),
        }).secondary_indexes(lambda index: [
            index("blogId").sort_keys(["title"]),
            index("status").sort_keys(["createdAt", "title"]).name("byStatus"),
            index("title").query_field(None),
            index("n").query_field("postsByNumber"),
        ]).authorization(lambda allow: [allow.owner_defined_in("author"), allow.owners_defined_in("editors"),
                                        allow.group_defined_in("team"), allow.groups_defined_in("teams"),
                                        allow.authenticated().to(["read"]), allow.guest().to(["get", "list"]),
                                        allow.custom()]),
        "Profile": a.model({"blogId": a.id(), "blog": a.belongs_to("Blog", "blogId"), "bio": a.string()}),
        "Reading": a.model({
            "sensor": a.string().required(), "day": a.date().required(), "seq": a.integer().required(),
            "value": a.float(),
        }).identifier(["sensor", "day", "seq"]).disable_operations(["delete", "onUpdate"]),
        "Country": a.model({"code": a.string().required(), "name": a.string()}).identifier(["code"])
        .disable_operations(["mutations"]),
        "Log": a.model({"line": a.string()}).disable_operations(["queries", "subscriptions"]),
        "echo": a.query().arguments({"msg": a.string().required(), "address": a.ref("Address")})
        .returns(a.ref("Address")).handler(lambda event: None)
        .authorization(lambda allow: [allow.public_api_key()]),
        "bump": a.mutation().arguments({"id": a.id().required(), "by": a.integer().array()})
        .returns(a.custom_type({"ok": a.boolean().required()})).handler(lambda event: None),
    }).authorization(lambda allow: [allow.authenticated()])
    return define_data(schema=schema, authorization_modes={"default_authorization_mode": "user_pool"}).schema


def test_rich_schema_builds_and_validates() -> None:
    sdl = graphql.build_schema(to_sdl(rich_schema()))
    assert graphql.validate_schema(sdl) == []
    introspection = graphql.graphql_sync(sdl, graphql.get_introspection_query())
    assert introspection.errors is None
    # graphql-core's printer round-trips it.
    assert graphql.build_schema(graphql.print_schema(sdl))


def test_rich_schema_pieces() -> None:
    sdl = graphql.build_schema(to_sdl(rich_schema()))
    query = sdl.get_type("Query")
    mutation = sdl.get_type("Mutation")
    subscription = sdl.get_type("Subscription")
    assert isinstance(query, graphql.GraphQLObjectType)
    assert isinstance(mutation, graphql.GraphQLObjectType)
    assert isinstance(subscription, graphql.GraphQLObjectType)
    assert {"listPostByBlogIdAndTitle", "listPostByStatusAndCreatedAtAndTitle", "postsByNumber",
            "echo"} <= set(query.fields)
    assert args_of(sdl, "Query", "listPostByStatusAndCreatedAtAndTitle")[:2] == [
        ("status", "Status!"), ("createdAtTitle", "ModelPostByStatusCompositeKeyConditionInput")]
    assert fields_of(sdl, "ModelPostByStatusCompositeKeyInput") == spec("createdAt:AWSDateTime title:String")
    assert args_of(sdl, "Query", "listReadings")[:2] == [
        ("sensor", "String"), ("daySeq", "ModelReadingPrimaryCompositeKeyConditionInput")]
    assert "deleteReading" not in mutation.fields and "onDeleteReading" not in subscription.fields
    assert "onUpdateReading" not in subscription.fields and "onCreateReading" in subscription.fields
    assert not any(f.endswith("Country") for f in mutation.fields) and "getCountry" in query.fields
    assert not any(f.endswith("Country") for f in subscription.fields)
    assert "getLog" not in query.fields and "createLog" in mutation.fields
    assert not any(f.endswith("Log") for f in subscription.fields)
    assert args_of(sdl, "Mutation", "bump") == spec("id:ID! by:[Int]")
    assert result_of(sdl, "Mutation", "bump") == "BumpReturnType"
    assert fields_of(sdl, "BumpReturnType") == spec("ok:Boolean!")
    assert args_of(sdl, "Query", "echo") == spec("msg:String! address:AddressInput")
    assert fields_of(sdl, "ModelPostFilterInput")[:4] == spec(
        "id:ModelIDInput blogId:ModelIDInput title:ModelStringInput status:ModelStatusInput")
    assert ("statuses", "ModelStatusListInput") in fields_of(sdl, "ModelPostFilterInput")
    sub_filter = dict(fields_of(sdl, "ModelSubscriptionPostFilterInput"))
    assert {"author", "editors", "team", "teams"}.isdisjoint(sub_filter)
    assert sub_filter["status"] == "ModelSubscriptionStringInput"
    assert args_of(sdl, "Subscription", "onCreatePost") == spec(
        "filter:ModelSubscriptionPostFilterInput author:String editors:String")
    assert fields_of(sdl, "Post")[-4:] == spec("author:String editors:[String] team:String teams:[String]")


# ------------------------------------------------------------------------------------------------
# Model introspection: the reference's section 4.5 example

# Transcribed from appsync-amplify-data.md section 4.5 (`data.model_introspection`).
REFERENCE_MIS: dict[str, Any] = {
    "version": 1,
    "models": {
        "Todo": {
            "name": "Todo",
            "pluralName": "Todos",
            "syncable": True,
            "fields": {
                "id": {"name": "id", "isArray": False, "type": "ID", "isRequired": True, "attributes": []},
                "content": {"name": "content", "isArray": False, "type": "String", "isRequired": False,
                            "attributes": []},
                "done": {"name": "done", "isArray": False, "type": "Boolean", "isRequired": False, "attributes": []},
                "priority": {"name": "priority", "isArray": False, "type": {"enum": "TodoPriority"},
                             "isRequired": False, "attributes": []},
                "createdAt": {"name": "createdAt", "isArray": False, "type": "AWSDateTime", "isRequired": False,
                              "attributes": [], "isReadOnly": True},
                "updatedAt": {"name": "updatedAt", "isArray": False, "type": "AWSDateTime", "isRequired": False,
                              "attributes": [], "isReadOnly": True},
            },
            "attributes": [
                {"type": "model", "properties": {}},
                {"type": "auth", "properties": {"rules": [
                    {"provider": "userPools", "ownerField": "owner", "allow": "owner",
                     "identityClaim": "cognito:username", "operations": ["create", "update", "delete", "read"]},
                    {"allow": "public", "provider": "apiKey", "operations": ["read"]},
                ]}},
            ],
            "primaryKeyInfo": {"isCustomPrimaryKey": False, "primaryKeyFieldName": "id", "sortKeyFieldNames": []},
        },
    },
    "enums": {"TodoPriority": {"name": "TodoPriority", "values": ["low", "medium", "high"]}},
    "nonModels": {},
}


def test_mis_matches_reference_example() -> None:
    mis = to_mis(reference_todo())
    # Ordering: Python compares dicts by content, so the *key order inside JSON objects* is ignored
    # here. Cove writes e.g. {"name", "fields", "syncable", "pluralName", ...} where the example has
    # {"name", "pluralName", "syncable", "fields", ...}, puts "isReadOnly" after "attributes" as the
    # example does but "provider" after "allow" in rules. JSON objects are unordered (RFC 8259) and
    # aws-amplify reads MIS by key, so none of that is observable. Lists are compared in order
    # (rules, operations, enum values, sort keys), and so is the order of model *fields*, checked
    # separately below: the client builds its default selection set by iterating them.
    assert mis == REFERENCE_MIS
    assert list(mis["models"]["Todo"]["fields"]) == ["id", "content", "done", "priority", "createdAt", "updatedAt"]
    assert list(mis["models"]) == ["Todo"]


def test_mis_is_json() -> None:
    import json

    mis = to_mis(rich_schema())
    assert json.loads(json.dumps(mis)) == mis


# ------------------------------------------------------------------------------------------------
# amplify_outputs.json

# Amplify's outputs schema (@aws-amplify/client-config, schema_v1.x): `additionalProperties: false`
# at the top level and in `data`.
OUTPUTS_TOP_LEVEL = {"$schema", "version", "analytics", "auth", "data", "geo", "notifications", "storage", "custom"}
OUTPUTS_DATA = {"aws_region", "url", "model_introspection", "api_key", "default_authorization_type",
                "authorization_types"}
OUTPUTS_DATA_REQUIRED = {"aws_region", "url", "default_authorization_type", "authorization_types"}
APPSYNC_AUTH_TYPES = {"AMAZON_COGNITO_USER_POOLS", "API_KEY", "AWS_IAM", "AWS_LAMBDA", "OPENID_CONNECT"}


def test_outputs_match_reference_example() -> None:
    schema = reference_todo(authorization_modes={"default_authorization_mode": "user_pool"})
    url = "https://h3k5m7n9p1q3r5s7t9v1w3x5yz.appsync-api.eu-central-1.amazonaws.com/graphql"
    outputs = build_outputs(schema, url=url, api_key="da2-k4j5h6g7f8d9s0a1q2w3e4r5t6", region="eu-central-1")
    assert outputs["$schema"] == "https://amplify.aws/2024-02/outputs-schema.json"
    assert isinstance(outputs["version"], str) and outputs["version"].startswith("1.")
    assert set(outputs) <= OUTPUTS_TOP_LEVEL
    assert outputs["data"] == {
        "url": url,
        "aws_region": "eu-central-1",
        "api_key": "da2-k4j5h6g7f8d9s0a1q2w3e4r5t6",
        "default_authorization_type": "AMAZON_COGNITO_USER_POOLS",
        "authorization_types": ["API_KEY", "AWS_IAM"],
        "model_introspection": REFERENCE_MIS,
    }


@pytest.mark.parametrize(("mode", "default_type"), [
    ("api_key", "API_KEY"), ("user_pool", "AMAZON_COGNITO_USER_POOLS"), ("iam", "AWS_IAM"),
    ("identity_pool", "AWS_IAM"),
])
@pytest.mark.parametrize("api_key", ["da2-abc", None])
def test_outputs_shape(mode: str, default_type: str, api_key: str | None) -> None:
    schema = reference_todo(authorization_modes={"default_authorization_mode": mode})
    outputs = build_outputs(schema, url="http://127.0.0.1:20002/graphql", api_key=api_key,
                            custom={"cove": {"version": "x"}})
    assert set(outputs) <= OUTPUTS_TOP_LEVEL
    assert {"$schema", "version", "data"} <= set(outputs)
    assert outputs["custom"] == {"cove": {"version": "x"}}
    data = outputs["data"]
    assert OUTPUTS_DATA_REQUIRED <= set(data) <= OUTPUTS_DATA
    assert data["url"] == "http://127.0.0.1:20002/graphql"
    assert data["aws_region"] == "us-east-1"
    assert data["default_authorization_type"] == default_type
    types = data["authorization_types"]
    assert set(types) <= APPSYNC_AUTH_TYPES and len(types) == len(set(types))
    assert default_type not in types
    assert default_type == "AWS_IAM" or "AWS_IAM" in types  # Gen 2 always enables IAM
    if api_key is None:
        assert "api_key" not in data and (default_type == "API_KEY" or "API_KEY" not in types)
    else:
        assert data["api_key"] == api_key and (default_type == "API_KEY" or "API_KEY" in types)
    assert data["model_introspection"] == to_mis(schema)


def test_outputs_without_custom_section() -> None:
    outputs = build_outputs(reference_todo(), url="http://x/graphql", api_key="da2-x")
    assert "custom" not in outputs


def test_a_custom_operation_keeps_a_name_cove_would_generate() -> None:
    """countTodos, searchTodos, aggregateTodos and transactWrite are Cove's own fields; a custom query or
    mutation of the same name wins (the schema builds, the field is the custom one)."""
    schema = define_data(schema=a.schema({
        "Todo": a.model({"content": a.string()}).searchable(["content"]),
        "countTodos": a.query().returns(a.string()).handler(lambda event: "custom"),
        "searchTodos": a.query().arguments({"q": a.string()}).returns(a.string()).handler(lambda event: "custom"),
        "transactWrite": a.mutation().returns(a.integer()).handler(lambda event: 1),
    }).authorization(lambda allow: [allow.public_api_key()])).schema
    sdl = graphql.build_schema(to_sdl(schema))
    assert result_of(sdl, "Query", "countTodos") == "String"
    assert args_of(sdl, "Query", "searchTodos") == spec("q:String")
    assert result_of(sdl, "Mutation", "transactWrite") == "Int"
    assert result_of(sdl, "Query", "aggregateTodos") == "[ModelAggregateGroup!]"
