"""The schema DSL (`cove.a`, `cove.allow`, `define_data`) and what it compiles to.

Each feature is checked in both artefacts it reaches: the SDL Cove serves (parsed with graphql-core,
so a check reads types and arguments rather than text) and the model introspection schema (MIS)
written to amplify_outputs.json. Reference: appsync-amplify-data.md sections 2, 3.1-3.2, 4.4-4.5, 5.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest

from cove import SchemaError, a, allow, define_data
from cove.schema.mis import rule_mis, to_mis
from cove.schema.model import Schema
from cove.schema.naming import pluralize
from cove.schema.sdl import to_sdl


def public(al: Any) -> list[Any]:
    return [al.public_api_key()]


def compile_types(types: dict[str, Any], **options: Any) -> Schema:
    """Compile `types` with a schema-wide public API-key rule (models may still bring their own)."""
    return define_data(schema=a.schema(types).authorization(public), **options).schema


def gql(schema: Schema) -> graphql.GraphQLSchema:
    return graphql.build_schema(to_sdl(schema))


def type_fields(sdl: graphql.GraphQLSchema, name: str) -> dict[str, str]:
    """Field (or input field) name -> type as written in SDL, in declaration order."""
    t = sdl.get_type(name)
    assert t is not None, f"{name} is not in the SDL"
    return {fname: str(f.type) for fname, f in t.fields.items()}  # type: ignore[union-attr]


def args(sdl: graphql.GraphQLSchema, root: str, field: str) -> dict[str, str]:
    t = sdl.get_type(root)
    assert t is not None
    return {name: str(arg.type) for name, arg in t.fields[field].args.items()}  # type: ignore[union-attr]


def root_fields(sdl: graphql.GraphQLSchema, root: str) -> set[str]:
    t = sdl.get_type(root)
    return set(t.fields) if t is not None else set()  # type: ignore[union-attr]


def mis_model(schema: Schema, name: str) -> dict[str, Any]:
    return to_mis(schema)["models"][name]


def mis_attributes(schema: Schema, model: str, kind: str) -> list[dict[str, Any]]:
    return [attr for attr in mis_model(schema, model)["attributes"] if attr["type"] == kind]


def fails(match: str, build: Any) -> SchemaError:
    with pytest.raises(SchemaError, match=match) as info:
        build()
    return info.value


# ------------------------------------------------------------------------------------------------
# Field builders and modifiers

SCALAR_BUILDERS = [
    ("id", "ID"),
    ("string", "String"),
    ("integer", "Int"),
    ("float", "Float"),
    ("boolean", "Boolean"),
    ("date", "AWSDate"),
    ("time", "AWSTime"),
    ("datetime", "AWSDateTime"),
    ("timestamp", "AWSTimestamp"),
    ("email", "AWSEmail"),
    ("json", "AWSJSON"),
    ("phone", "AWSPhone"),
    ("url", "AWSURL"),
    ("ip_address", "AWSIPAddress"),
]


@pytest.mark.parametrize(("builder", "scalar"), SCALAR_BUILDERS)
def test_field_builder_maps_to_appsync_scalar(builder: str, scalar: str) -> None:
    schema = compile_types({"Thing": a.model({"value": getattr(a, builder)()})})
    assert type_fields(gql(schema), "Thing")["value"] == scalar
    field = mis_model(schema, "Thing")["fields"]["value"]
    assert field == {"name": "value", "isArray": False, "type": scalar, "isRequired": False, "attributes": []}


def test_every_appsync_scalar_has_a_builder() -> None:
    from cove.schema.model import SCALARS

    assert sorted(s for _, s in SCALAR_BUILDERS) == sorted(SCALARS)


@pytest.mark.parametrize(
    ("make", "sdl_type", "mis_flags"),
    [
        (lambda: a.string(), "String", {"isArray": False, "isRequired": False}),
        (lambda: a.string().required(), "String!", {"isArray": False, "isRequired": True}),
        (lambda: a.string().array(), "[String]", {"isArray": True, "isRequired": False, "isArrayNullable": True}),
        (lambda: a.string().required().array(), "[String!]",
         {"isArray": True, "isRequired": True, "isArrayNullable": True}),
        (lambda: a.string().array().required(), "[String]!",
         {"isArray": True, "isRequired": False, "isArrayNullable": False}),
        (lambda: a.string().required().array().required(), "[String!]!",
         {"isArray": True, "isRequired": True, "isArrayNullable": False}),
    ],
    ids=["plain", "required", "array", "required-array", "array-required", "required-array-required"],
)
def test_required_and_array_modifiers(make: Any, sdl_type: str, mis_flags: dict[str, bool]) -> None:
    schema = compile_types({"Thing": a.model({"tags": make()})})
    assert type_fields(gql(schema), "Thing")["tags"] == sdl_type
    field = mis_model(schema, "Thing")["fields"]["tags"]
    assert {k: field[k] for k in mis_flags} == mis_flags
    if not mis_flags["isArray"]:
        assert "isArrayNullable" not in field


def test_each_modifier_is_used_once() -> None:
    fails(r"\.required\(\) may be used only once", lambda: a.string().required().required())
    fails(r"\.array\(\) may be used only once", lambda: a.string().array().array())
    fails(r"\.default\(\) may be used only once", lambda: a.string().default("x").default("y"))


DEFAULTS = [
    ("id", "abc-1", "abc-1"),
    ("string", "hello", "hello"),
    ("integer", 3, 3),
    ("integer", -7, -7),
    ("float", 1.5, 1.5),
    ("float", 2, 2.0),
    ("boolean", False, False),
    ("boolean", True, True),
    ("date", "2024-02-29", "2024-02-29"),
    ("time", "12:30:00", "12:30:00"),
    ("datetime", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
    ("timestamp", 1700000000, 1700000000),
    ("email", "a@example.com", "a@example.com"),
    ("json", '{"a": [1, 2]}', '{"a":[1,2]}'),
    ("phone", "+1 555-0100", "+1 555-0100"),
    ("url", "https://example.com/x", "https://example.com/x"),
    ("ip_address", "10.0.0.1/8", "10.0.0.1/8"),
]


@pytest.mark.parametrize(("builder", "value", "stored"), DEFAULTS,
                         ids=[f"{b}-{v!r}" for b, v, _ in DEFAULTS])
def test_valid_default_is_accepted(builder: str, value: Any, stored: Any) -> None:
    schema = compile_types({"Thing": a.model({"value": getattr(a, builder)().default(value)})})
    field = schema.models["Thing"].fields["value"]
    assert field.has_default and field.default == stored
    assert type(field.default) is type(stored)


def test_enum_defaults() -> None:
    schema = compile_types({
        "Level": a.enum(["low", "high"]),
        "Thing": a.model({"inline": a.enum(["a", "b"]).default("b"), "ref": a.ref("Level").default("high")}),
    })
    assert schema.models["Thing"].fields["inline"].default == "b"
    assert schema.models["Thing"].fields["ref"].default == "high"


def test_defaults_are_applied_on_create(tmp_path: Path) -> None:
    """The defaults reach the wire: an empty create returns every default, a given value wins."""
    from cove.server.app import CoveApp
    from cove.store import open_backend

    # One default per builder (the first listed), an enum, and a required field with a default.
    fields: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for builder, value, stored in DEFAULTS:
        if f"f_{builder}" not in fields:
            fields[f"f_{builder}"] = getattr(a, builder)().default(value)
            expected[f"f_{builder}"] = stored
    fields["f_enum"] = a.enum(["lo", "hi"]).default("hi")
    expected["f_enum"] = "hi"
    fields["f_required"] = a.string().required().default("filled")
    expected["f_required"] = "filled"
    schema = compile_types({"Thing": a.model(fields)})
    selection = " ".join(expected)

    backend = open_backend(tmp_path)
    try:
        asyncio.run(backend.migrator.apply_schema(schema))
        key = asyncio.run(backend.keys.create_api_key(expires_at=time.time() + 3600)).key
        app = CoveApp(schema, backend)

        async def run() -> tuple[dict[str, Any], dict[str, Any]]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://cove.test") as client:
                empty = await client.post("/graphql", headers={"x-api-key": key}, json={
                    "query": f"mutation {{ createThing(input: {{}}) {{ {selection} }} }}"})
                given = await client.post("/graphql", headers={"x-api-key": key}, json={
                    "query": 'mutation { createThing(input: {f_string: "mine", f_boolean: true}) '
                             "{ f_string f_boolean } }"})
                return empty.json(), given.json()

        empty, given = asyncio.run(run())
    finally:
        asyncio.run(backend.close())
    assert empty == {"data": {"createThing": expected}}
    assert given == {"data": {"createThing": {"f_string": "mine", "f_boolean": True}}}


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda: a.integer().default("3"), "Int"),
        (lambda: a.integer().default(True), "Int"),
        (lambda: a.integer().default(1.5), "Int"),
        (lambda: a.float().default("1.5"), "Float"),
        (lambda: a.boolean().default("yes"), "Boolean"),
        (lambda: a.boolean().default(0), "Boolean"),
        (lambda: a.string().default(5), "String"),
        (lambda: a.date().default("2024-13-01"), "AWSDate"),
        (lambda: a.time().default("25:00"), "AWSTime"),
        (lambda: a.datetime().default("2024-01-01T00:00:00"), "AWSDateTime"),
        (lambda: a.timestamp().default("now"), "AWSTimestamp"),
        (lambda: a.email().default("not an email"), "AWSEmail"),
        (lambda: a.json().default("{not json"), "AWSJSON"),
        (lambda: a.phone().default("call me"), "AWSPhone"),
        (lambda: a.url().default("example.com"), "AWSURL"),
        (lambda: a.ip_address().default("300.1.1.1"), "AWSIPAddress"),
    ],
)
def test_default_of_the_wrong_type_names_model_and_field(make: Any, kind: str) -> None:
    error = fails(r"^Gadget\.setting: default .* is not a valid " + kind,
                  lambda: compile_types({"Gadget": a.model({"setting": make()})}))
    assert "Gadget.setting" in str(error)


def test_enum_default_must_be_a_value() -> None:
    fails(r"^Gadget\.level: default 'max' is not one of the enum's values \['lo', 'hi'\]",
          lambda: compile_types({"Gadget": a.model({"level": a.enum(["lo", "hi"]).default("max")})}))


@pytest.mark.parametrize(
    "make",
    [
        lambda: a.string().array().default("x"),
        lambda: a.integer().array().required().default(1),
        lambda: a.custom_type({"x": a.string()}).default({"x": "1"}),
        lambda: a.ref("Box").default({"size": 1}),
    ],
    ids=["array", "required-array", "inline-custom-type", "ref-custom-type"],
)
def test_default_refused_on_arrays_and_custom_types(make: Any) -> None:
    fails(r"^Gadget\.thing: \.default\(\) applies to scalar and enum fields only",
          lambda: compile_types({"Box": a.custom_type({"size": a.integer()}), "Gadget": a.model({"thing": make()})}))


def test_default_none_is_refused() -> None:
    fails(r"^Gadget\.note: \.default\(None\)", lambda: compile_types({"Gadget": a.model({"note": a.string().default(None)})}))


def test_defaulted_required_field_is_optional_on_create() -> None:
    sdl = gql(compile_types({"Thing": a.model({"done": a.boolean().required().default(False),
                                               "title": a.string().required()})}))
    assert type_fields(sdl, "Thing")["done"] == "Boolean!"
    create = type_fields(sdl, "CreateThingInput")
    assert create["done"] == "Boolean" and create["title"] == "String!"


# ------------------------------------------------------------------------------------------------
# Enums, refs and custom types


def test_inline_enum_becomes_model_field_type() -> None:
    schema = compile_types({"Todo": a.model({"priority": a.enum(["low", "medium", "high"])})})
    sdl = gql(schema)
    assert type_fields(sdl, "Todo")["priority"] == "TodoPriority"
    enum = sdl.get_type("TodoPriority")
    assert isinstance(enum, graphql.GraphQLEnumType)
    assert list(enum.values) == ["low", "medium", "high"]
    mis = to_mis(schema)
    assert mis["enums"]["TodoPriority"] == {"name": "TodoPriority", "values": ["low", "medium", "high"]}
    assert mis["models"]["Todo"]["fields"]["priority"]["type"] == {"enum": "TodoPriority"}
    assert type_fields(sdl, "ModelTodoFilterInput")["priority"] == "ModelTodoPriorityInput"


def test_inline_enum_name_is_pascal_case() -> None:
    schema = compile_types({"Ticket": a.model({"workState": a.enum(["open", "closed"])})})
    assert "TicketWorkState" in schema.enums
    assert type_fields(gql(schema), "Ticket")["workState"] == "TicketWorkState"


def test_ref_to_top_level_enum_and_custom_type() -> None:
    schema = compile_types({
        "Status": a.enum(["draft", "live"]),
        "Address": a.custom_type({"street": a.string().required(), "zip": a.string()}),
        "Shop": a.model({"status": a.ref("Status"), "statuses": a.ref("Status").array(),
                         "address": a.ref("Address").required()}),
    })
    sdl = gql(schema)
    assert type_fields(sdl, "Shop")["status"] == "Status"
    assert type_fields(sdl, "Shop")["address"] == "Address!"
    assert type_fields(sdl, "CreateShopInput")["address"] == "AddressInput!"
    assert type_fields(sdl, "ModelShopFilterInput")["status"] == "ModelStatusInput"
    assert type_fields(sdl, "ModelShopFilterInput")["statuses"] == "ModelStatusListInput"
    assert "address" not in type_fields(sdl, "ModelShopFilterInput")  # custom types cannot be filtered
    fields = mis_model(schema, "Shop")["fields"]
    assert fields["status"]["type"] == {"enum": "Status"}
    assert fields["address"]["type"] == {"nonModel": "Address"}
    assert fields["address"]["isRequired"] is True
    # A ref creates no new type.
    assert set(to_mis(schema)["enums"]) == {"Status"}


def test_custom_type_and_its_input_type() -> None:
    schema = compile_types({
        "Address": a.custom_type({"street": a.string().required(), "lines": a.string().array(),
                                  "geo": a.custom_type({"lat": a.float(), "lng": a.float()})}),
        "Person": a.model({"home": a.ref("Address"), "work": a.custom_type({"office": a.string(),
                                                                            "floor": a.integer().required()})}),
    })
    sdl = gql(schema)
    assert isinstance(sdl.get_type("Address"), graphql.GraphQLObjectType)
    assert type_fields(sdl, "Address") == {"street": "String!", "lines": "[String]", "geo": "AddressGeo"}
    assert isinstance(sdl.get_type("AddressInput"), graphql.GraphQLInputObjectType)
    assert type_fields(sdl, "AddressInput") == {"street": "String!", "lines": "[String]", "geo": "AddressGeoInput"}
    # Inline custom types are named <Owner><Field>, like inline enums.
    assert type_fields(sdl, "PersonWork") == {"office": "String", "floor": "Int!"}
    assert type_fields(sdl, "PersonWorkInput") == {"office": "String", "floor": "Int!"}
    assert type_fields(sdl, "CreatePersonInput")["work"] == "PersonWorkInput"
    assert type_fields(sdl, "UpdatePersonInput")["home"] == "AddressInput"
    mis = to_mis(schema)
    assert set(mis["nonModels"]) == {"Address", "AddressGeo", "PersonWork"}
    assert mis["nonModels"]["Address"]["name"] == "Address"
    assert mis["nonModels"]["Address"]["fields"]["street"] == {
        "name": "street", "isArray": False, "type": "String", "isRequired": True, "attributes": []}
    assert mis["nonModels"]["Address"]["fields"]["geo"]["type"] == {"nonModel": "AddressGeo"}
    assert mis["models"]["Person"]["fields"]["work"]["type"] == {"nonModel": "PersonWork"}


# ------------------------------------------------------------------------------------------------
# Implicit fields and identifiers


def test_implicit_id_and_timestamps() -> None:
    schema = compile_types({"Note": a.model({"body": a.string()})})
    sdl = gql(schema)
    assert type_fields(sdl, "Note") == {"id": "ID!", "body": "String", "createdAt": "AWSDateTime!",
                                        "updatedAt": "AWSDateTime!"}
    assert type_fields(sdl, "CreateNoteInput") == {"id": "ID", "body": "String"}
    assert type_fields(sdl, "UpdateNoteInput") == {"id": "ID!", "body": "String"}
    assert type_fields(sdl, "DeleteNoteInput") == {"id": "ID!"}
    fields = mis_model(schema, "Note")["fields"]
    assert list(fields) == ["id", "body", "createdAt", "updatedAt"]
    assert fields["id"] == {"name": "id", "isArray": False, "type": "ID", "isRequired": True, "attributes": []}
    for ts in ("createdAt", "updatedAt"):
        assert fields[ts] == {"name": ts, "isArray": False, "type": "AWSDateTime", "isRequired": False,
                              "attributes": [], "isReadOnly": True}
    assert mis_model(schema, "Note")["primaryKeyInfo"] == {
        "isCustomPrimaryKey": False, "primaryKeyFieldName": "id", "sortKeyFieldNames": []}
    assert mis_attributes(schema, "Note", "key") == []


def test_declared_id_is_kept() -> None:
    schema = compile_types({"Note": a.model({"id": a.id(), "body": a.string()})})
    assert type_fields(gql(schema), "Note")["id"] == "ID!"
    assert list(mis_model(schema, "Note")["fields"])[:2] == ["id", "body"]


def test_custom_identifier_single_field() -> None:
    schema = compile_types({"Country": a.model({"code": a.string().required(), "name": a.string()})
                            .identifier(["code"])})
    sdl = gql(schema)
    assert "id" not in type_fields(sdl, "Country")
    assert args(sdl, "Query", "getCountry") == {"code": "String!"}
    assert args(sdl, "Query", "listCountries") == {"filter": "ModelCountryFilterInput", "limit": "Int",
                                                  "nextToken": "String", "sortBy": "[ModelCountrySortInput!]"}
    assert type_fields(sdl, "CreateCountryInput") == {"code": "String!", "name": "String"}
    assert type_fields(sdl, "DeleteCountryInput") == {"code": "String!"}
    assert mis_model(schema, "Country")["primaryKeyInfo"] == {
        "isCustomPrimaryKey": True, "primaryKeyFieldName": "code", "sortKeyFieldNames": []}
    assert mis_attributes(schema, "Country", "key") == [{"type": "key", "properties": {"fields": ["code"]}}]


def test_composite_identifier_with_one_sort_key() -> None:
    schema = compile_types({"Order": a.model({
        "customerId": a.string().required(), "placedAt": a.datetime().required(), "total": a.float(),
    }).identifier(["customerId", "placedAt"])})
    sdl = gql(schema)
    assert args(sdl, "Query", "getOrder") == {"customerId": "String!", "placedAt": "AWSDateTime!"}
    assert args(sdl, "Query", "listOrders") == {
        "customerId": "String", "placedAt": "ModelStringKeyConditionInput", "filter": "ModelOrderFilterInput",
        "limit": "Int", "nextToken": "String", "sortDirection": "ModelSortDirection",
        "sortBy": "[ModelOrderSortInput!]"}
    assert type_fields(sdl, "CreateOrderInput") == {"customerId": "String!", "placedAt": "AWSDateTime!",
                                                   "total": "Float"}
    assert type_fields(sdl, "UpdateOrderInput") == {"customerId": "String!", "placedAt": "AWSDateTime!",
                                                   "total": "Float"}
    assert type_fields(sdl, "DeleteOrderInput") == {"customerId": "String!", "placedAt": "AWSDateTime!"}
    assert "customerId" not in type_fields(sdl, "ModelOrderConditionInput")
    assert "placedAt" not in type_fields(sdl, "ModelOrderConditionInput")
    assert mis_model(schema, "Order")["primaryKeyInfo"] == {
        "isCustomPrimaryKey": True, "primaryKeyFieldName": "customerId", "sortKeyFieldNames": ["placedAt"]}
    assert mis_attributes(schema, "Order", "key") == [
        {"type": "key", "properties": {"fields": ["customerId", "placedAt"]}}]


@pytest.mark.parametrize(("builder", "condition"), [
    ("integer", "ModelIntKeyConditionInput"), ("timestamp", "ModelIntKeyConditionInput"),
    ("float", "ModelFloatKeyConditionInput"), ("id", "ModelIDKeyConditionInput"),
    ("date", "ModelStringKeyConditionInput"), ("string", "ModelStringKeyConditionInput"),
])
def test_sort_key_condition_follows_the_sort_key_type(builder: str, condition: str) -> None:
    sdl = gql(compile_types({"Reading": a.model({
        "sensor": a.string().required(), "at": getattr(a, builder)().required()}).identifier(["sensor", "at"])}))
    assert args(sdl, "Query", "listReadings")["at"] == condition


def test_composite_sort_key() -> None:
    schema = compile_types({"Line": a.model({
        "orderId": a.string().required(), "day": a.date().required(), "seq": a.integer().required(),
        "sku": a.string(),
    }).identifier(["orderId", "day", "seq"])})
    sdl = gql(schema)
    assert args(sdl, "Query", "getLine") == {"orderId": "String!", "day": "AWSDate!", "seq": "Int!"}
    assert args(sdl, "Query", "listLines") == {
        "orderId": "String", "daySeq": "ModelLinePrimaryCompositeKeyConditionInput",
        "filter": "ModelLineFilterInput", "limit": "Int", "nextToken": "String",
        "sortDirection": "ModelSortDirection", "sortBy": "[ModelLineSortInput!]"}
    assert type_fields(sdl, "ModelLinePrimaryCompositeKeyInput") == {"day": "AWSDate", "seq": "Int"}
    key_input = "ModelLinePrimaryCompositeKeyInput"
    assert type_fields(sdl, "ModelLinePrimaryCompositeKeyConditionInput") == {
        "eq": key_input, "le": key_input, "lt": key_input, "ge": key_input, "gt": key_input,
        "between": f"[{key_input}]", "beginsWith": key_input}
    assert mis_model(schema, "Line")["primaryKeyInfo"]["sortKeyFieldNames"] == ["day", "seq"]


def test_identifier_fields_must_be_required() -> None:
    fails(r"^Country\.code: identifier fields must be \.required\(\)",
          lambda: compile_types({"Country": a.model({"code": a.string()}).identifier(["code"])}))


def test_identifier_fields_must_exist() -> None:
    fails(r"^Country\.iso: identifier field is not a field of the model",
          lambda: compile_types({"Country": a.model({"code": a.string().required()}).identifier(["iso"])}))


def test_identifier_fields_must_be_scalars() -> None:
    fails(r"^Country\.tags: identifier fields must be scalars or enums",
          lambda: compile_types({"Country": a.model({"tags": a.string().required().array()}).identifier(["tags"])}))
    fails(r"^Country: \.identifier\(\[\]\) needs at least one field",
          lambda: compile_types({"Country": a.model({"code": a.string()}).identifier([])}))


# ------------------------------------------------------------------------------------------------
# Secondary indexes


def todo_with_indexes(indexes: Any) -> Schema:
    return compile_types({"Todo": a.model({
        "status": a.enum(["open", "done"]), "title": a.string().required(), "rank": a.integer(),
    }).secondary_indexes(indexes)})


def test_secondary_index_query_field() -> None:
    schema = todo_with_indexes(lambda index: [index("status").sort_keys(["createdAt"])])
    sdl = gql(schema)
    assert args(sdl, "Query", "listTodoByStatusAndCreatedAt") == {
        "status": "TodoStatus!", "createdAt": "ModelStringKeyConditionInput",
        "sortDirection": "ModelSortDirection", "filter": "ModelTodoFilterInput", "limit": "Int",
        "nextToken": "String"}
    query = sdl.get_type("Query")
    assert str(query.fields["listTodoByStatusAndCreatedAt"].type) == "ModelTodoConnection"  # type: ignore[union-attr]
    assert mis_attributes(schema, "Todo", "key") == [{"type": "key", "properties": {
        "name": "todosByStatusAndCreatedAt", "queryField": "listTodoByStatusAndCreatedAt",
        "fields": ["status", "createdAt"]}}]


def test_secondary_index_without_sort_key() -> None:
    schema = todo_with_indexes(lambda index: [index("title")])
    sdl = gql(schema)
    assert args(sdl, "Query", "listTodoByTitle") == {
        "title": "String!", "sortDirection": "ModelSortDirection", "filter": "ModelTodoFilterInput",
        "limit": "Int", "nextToken": "String"}
    assert mis_attributes(schema, "Todo", "key")[0]["properties"] == {
        "name": "todosByTitle", "queryField": "listTodoByTitle", "fields": ["title"]}


def test_secondary_index_name_and_query_field() -> None:
    schema = todo_with_indexes(lambda index: [
        index("rank").name("byRank").query_field("todosByRank"),
        index("title").query_field(None),
        index("title").sort_keys(["rank", "status"]).name("byTitle"),
    ])
    sdl = gql(schema)
    queries = root_fields(sdl, "Query")
    assert "todosByRank" in queries and "listTodoByRank" not in queries
    assert not any(q.startswith("listTodoByTitle") for q in queries if q != "listTodoByTitleAndRankAndStatus")
    assert args(sdl, "Query", "listTodoByTitleAndRankAndStatus") == {
        "title": "String!", "rankStatus": "ModelTodoByTitleCompositeKeyConditionInput",
        "sortDirection": "ModelSortDirection", "filter": "ModelTodoFilterInput", "limit": "Int",
        "nextToken": "String"}
    assert type_fields(sdl, "ModelTodoByTitleCompositeKeyInput") == {"rank": "Int", "status": "TodoStatus"}
    keys = [attr["properties"] for attr in mis_attributes(schema, "Todo", "key")]
    assert keys == [
        {"name": "byRank", "queryField": "todosByRank", "fields": ["rank"]},
        {"name": "todosByTitle", "fields": ["title"]},  # an index without a client query
        {"name": "byTitle", "queryField": "listTodoByTitleAndRankAndStatus", "fields": ["title", "rank", "status"]},
    ]


def test_secondary_index_fields_must_exist() -> None:
    fails(r"^Todo\.nope: index fields must be scalar or enum fields of the model",
          lambda: todo_with_indexes(lambda index: [index("nope")]))
    fails(r"^Todo\.missing: index fields",
          lambda: todo_with_indexes(lambda index: [index("title").sort_keys(["missing"])]))


# ------------------------------------------------------------------------------------------------
# Disabled operations

ALL_ROOT_FIELDS = {"getTodo", "listTodos", "createTodo", "updateTodo", "deleteTodo",
                   "onCreateTodo", "onUpdateTodo", "onDeleteTodo"}


@pytest.mark.parametrize(
    ("disabled", "removed", "properties"),
    [
        ([], set(), {}),
        (["queries"], {"getTodo", "listTodos"}, {"queries": None}),
        (["get"], {"getTodo"}, {"queries": {"get": None}}),
        (["list"], {"listTodos"}, {"queries": {"list": None}}),
        (["mutations"], {"createTodo", "updateTodo", "deleteTodo", "onCreateTodo", "onUpdateTodo", "onDeleteTodo"},
         {"mutations": None}),
        (["delete"], {"deleteTodo", "onDeleteTodo"}, {"mutations": {"delete": None}}),
        (["create", "update"], {"createTodo", "updateTodo", "onCreateTodo", "onUpdateTodo"},
         {"mutations": {"create": None, "update": None}}),
        (["subscriptions"], {"onCreateTodo", "onUpdateTodo", "onDeleteTodo"}, {"subscriptions": None}),
        (["onCreate"], {"onCreateTodo"}, {"subscriptions": {"onCreate": None}}),
        (["queries", "delete", "onUpdate"], {"getTodo", "listTodos", "deleteTodo", "onDeleteTodo", "onUpdateTodo"},
         {"queries": None, "mutations": {"delete": None}, "subscriptions": {"onUpdate": None}}),
        (["subscriptions", "create"], {"createTodo", "onCreateTodo", "onUpdateTodo", "onDeleteTodo"},
         {"subscriptions": None, "mutations": {"create": None}}),
    ],
)
def test_disable_operations(disabled: list[str], removed: set[str], properties: dict[str, Any]) -> None:
    # A second model keeps every root type non-empty, so only Todo's fields are compared.
    schema = compile_types({"Todo": a.model({"content": a.string()}).disable_operations(disabled),
                            "Other": a.model({})})
    sdl = gql(schema)
    present = {f for root in ("Query", "Mutation", "Subscription") for f in root_fields(sdl, root) if "Todo" in f}
    # Cove's own countTodos and aggregateTodos come and go with listTodos
    cove_fields = {"countTodos", "aggregateTodos"}
    assert present - cove_fields == ALL_ROOT_FIELDS - removed
    assert (present & cove_fields == cove_fields) == ("listTodos" in present)
    # The MIS carries `@model(...)`'s arguments as Amplify writes them: only what was disabled.
    assert mis_attributes(schema, "Todo", "model") == [{"type": "model", "properties": properties}]
    # The type itself stays.
    assert "Todo" in sdl.type_map


def test_disable_operations_rejects_unknown_names() -> None:
    fails(r"^Todo: \.disable_operations\(\): unknown operation 'remove'",
          lambda: compile_types({"Todo": a.model({}).disable_operations(["remove"])}))


# ------------------------------------------------------------------------------------------------
# Relationships


def blog_schema() -> Schema:
    return compile_types({
        "Blog": a.model({"name": a.string(), "posts": a.has_many("Post", "blogId"),
                         "settings": a.has_one("Settings", "blogId")}),
        "Post": a.model({"title": a.string().required(), "blogId": a.id(), "blog": a.belongs_to("Blog", "blogId")}),
        "Settings": a.model({"theme": a.string(), "blogId": a.id(), "blog": a.belongs_to("Blog", "blogId")}),
    })


def test_has_many_field_is_a_paginated_connection() -> None:
    sdl = gql(blog_schema())
    blog = sdl.get_type("Blog")
    assert str(blog.fields["posts"].type) == "ModelPostConnection"  # type: ignore[union-attr]
    assert args(sdl, "Blog", "posts") == {"filter": "ModelPostFilterInput", "sortDirection": "ModelSortDirection",
                                          "limit": "Int", "nextToken": "String"}
    assert type_fields(sdl, "Post")["blog"] == "Blog"
    assert type_fields(sdl, "Blog")["settings"] == "Settings"


def test_relationship_fields_are_not_inputs_or_filters() -> None:
    sdl = gql(blog_schema())
    for input_type in ("CreateBlogInput", "UpdateBlogInput", "ModelBlogFilterInput", "ModelBlogConditionInput",
                       "ModelSubscriptionBlogFilterInput"):
        assert {"posts", "settings"}.isdisjoint(type_fields(sdl, input_type)), input_type
    assert "blog" not in type_fields(sdl, "CreatePostInput")
    assert type_fields(sdl, "CreatePostInput")["blogId"] == "ID"


def test_relationship_associations_in_mis() -> None:
    mis = to_mis(blog_schema())["models"]
    assert mis["Blog"]["fields"]["posts"] == {
        "name": "posts", "isArray": True, "type": {"model": "Post"}, "isRequired": False, "attributes": [],
        "isArrayNullable": True, "association": {"connectionType": "HAS_MANY", "associatedWith": ["blogId"]}}
    assert mis["Post"]["fields"]["blog"] == {
        "name": "blog", "isArray": False, "type": {"model": "Blog"}, "isRequired": False, "attributes": [],
        "association": {"connectionType": "BELONGS_TO", "targetNames": ["blogId"]}}
    settings = mis["Blog"]["fields"]["settings"]
    assert settings["type"] == {"model": "Settings"} and settings["isArray"] is False
    assert settings["association"]["connectionType"] == "HAS_ONE"
    assert settings["association"]["associatedWith"] == ["blogId"]


def test_relationship_to_composite_key_parent() -> None:
    schema = compile_types({
        "Shelf": a.model({"room": a.string().required(), "slot": a.integer().required(),
                          "books": a.has_many("Book", ["shelfRoom", "shelfSlot"])}).identifier(["room", "slot"]),
        "Book": a.model({"shelfRoom": a.string(), "shelfSlot": a.integer(),
                         "shelf": a.belongs_to("Shelf", ["shelfRoom", "shelfSlot"])}),
    })
    mis = to_mis(schema)["models"]
    assert mis["Shelf"]["fields"]["books"]["association"]["associatedWith"] == ["shelfRoom", "shelfSlot"]
    assert mis["Book"]["fields"]["shelf"]["association"]["targetNames"] == ["shelfRoom", "shelfSlot"]
    gql(schema)


def test_relationship_errors_name_model_and_field() -> None:
    fails(r"^Blog\.posts: related model 'Article' is not defined in the schema",
          lambda: compile_types({"Blog": a.model({"posts": a.has_many("Article", "blogId")})}))
    fails(r"^Blog\.posts: reference field Post\.blogId is not defined; declare it",
          lambda: compile_types({"Blog": a.model({"posts": a.has_many("Post", "blogId")}),
                                 "Post": a.model({"title": a.string()})}))
    fails(r"^Post\.blog: reference field Post\.blogId is not defined",
          lambda: compile_types({"Blog": a.model({}), "Post": a.model({"blog": a.belongs_to("Blog", "blogId")})}))
    fails(r"^Book\.shelf: references \['shelfRoom'\] must name one field per identifier field of Shelf",
          lambda: compile_types({
              "Shelf": a.model({"room": a.string().required(), "slot": a.integer().required()})
              .identifier(["room", "slot"]),
              "Book": a.model({"shelfRoom": a.string(), "shelf": a.belongs_to("Shelf", "shelfRoom")})}))


def test_relationships_only_on_models() -> None:
    fails(r"^Address\.owner: relationships belong on models",
          lambda: compile_types({"Address": a.custom_type({"owner": a.belongs_to("Person", "personId")}),
                                 "Person": a.model({})}))


# ------------------------------------------------------------------------------------------------
# Authorization: where rules come from


def test_schema_level_rules_apply_to_models_without_their_own() -> None:
    schema = define_data(schema=a.schema({
        "Open": a.model({"x": a.string()}),
        "Private": a.model({"x": a.string()}).authorization(lambda al: [al.owner()]),
    }).authorization(lambda al: [al.public_api_key().to(["read"])])).schema
    open_rules = mis_attributes(schema, "Open", "auth")[0]["properties"]["rules"]
    assert open_rules == [{"allow": "public", "provider": "apiKey", "operations": ["read"]}]
    private_rules = mis_attributes(schema, "Private", "auth")[0]["properties"]["rules"]
    assert [r["allow"] for r in private_rules] == ["owner"]
    sdl = to_sdl(schema)
    assert "type Open @aws_api_key" in sdl
    assert "type Private @aws_cognito_user_pools" in sdl and "type Private @aws_api_key" not in sdl


def test_model_without_rules_is_refused() -> None:
    error = fails(r"^Model Post is missing authorization rules",
                  lambda: define_data(schema=a.schema({"Post": a.model({"title": a.string()})})))
    assert "authorization(lambda allow:" in str(error)


def test_authorization_callback_must_return_rules() -> None:
    fails(r"^Post: \.authorization\(\) must return allow\.\* rules",
          lambda: define_data(schema=a.schema({"Post": a.model({}).authorization(lambda al: ["public"])})))
    # A single rule (not in a list) is accepted.
    schema = define_data(schema=a.schema({"Post": a.model({}).authorization(lambda al: al.public_api_key())})).schema
    assert schema.models["Post"].rules[0].provider == "apiKey"


# ------------------------------------------------------------------------------------------------
# Owner rules: implicit fields, MIS, subscriptions


def owner_schema(*rules: Any) -> Schema:
    return compile_types({"Todo": a.model({"content": a.string()}).authorization(lambda al: [r(al) for r in rules])})


def test_owner_rule_adds_implicit_owner_field() -> None:
    schema = owner_schema(lambda al: al.owner())
    sdl = gql(schema)
    assert type_fields(sdl, "Todo")["owner"] == "String"
    assert type_fields(sdl, "CreateTodoInput")["owner"] == "String"
    assert type_fields(sdl, "UpdateTodoInput")["owner"] == "String"
    assert type_fields(sdl, "ModelTodoFilterInput")["owner"] == "ModelStringInput"
    assert type_fields(sdl, "ModelTodoConditionInput")["owner"] == "ModelStringInput"
    # Not in MIS fields: clients derive it from the auth attribute.
    assert "owner" not in mis_model(schema, "Todo")["fields"]
    assert mis_attributes(schema, "Todo", "auth") == [{"type": "auth", "properties": {"rules": [{
        "allow": "owner", "provider": "userPools", "ownerField": "owner", "identityClaim": "cognito:username",
        "operations": ["create", "update", "delete", "read"]}]}}]


def test_owner_field_is_dropped_from_subscription_filter_and_becomes_an_argument() -> None:
    sdl = gql(owner_schema(lambda al: al.owner()))
    sub_filter = type_fields(sdl, "ModelSubscriptionTodoFilterInput")
    assert "owner" not in sub_filter
    assert list(sub_filter) == ["id", "content", "createdAt", "updatedAt", "and", "or"]
    for op in ("onCreateTodo", "onUpdateTodo", "onDeleteTodo"):
        assert args(sdl, "Subscription", op) == {"filter": "ModelSubscriptionTodoFilterInput", "owner": "String"}


def test_no_owner_argument_without_owner_rules() -> None:
    sdl = gql(owner_schema(lambda al: al.public_api_key()))
    assert args(sdl, "Subscription", "onCreateTodo") == {"filter": "ModelSubscriptionTodoFilterInput"}
    assert "owner" not in type_fields(sdl, "Todo")


def test_owner_defined_in_and_owners_defined_in() -> None:
    schema = owner_schema(lambda al: al.owner_defined_in("author"), lambda al: al.owners_defined_in("editors"))
    sdl = gql(schema)
    fields = type_fields(sdl, "Todo")
    assert fields["author"] == "String" and fields["editors"] == "[String]"
    assert "owner" not in fields
    assert type_fields(sdl, "CreateTodoInput")["editors"] == "[String]"
    assert {"author", "editors"}.isdisjoint(type_fields(sdl, "ModelSubscriptionTodoFilterInput"))
    assert args(sdl, "Subscription", "onUpdateTodo") == {
        "filter": "ModelSubscriptionTodoFilterInput", "author": "String", "editors": "String"}
    assert {"author", "editors"}.isdisjoint(mis_model(schema, "Todo")["fields"])
    rules = mis_attributes(schema, "Todo", "auth")[0]["properties"]["rules"]
    assert [(r["ownerField"], r["identityClaim"]) for r in rules] == [
        ("author", "cognito:username"), ("editors", "cognito:username")]


def test_declared_owner_field_stays_in_mis() -> None:
    schema = compile_types({"Todo": a.model({"content": a.string(), "owner": a.string()})
                            .authorization(lambda al: [al.owner()])})
    assert mis_model(schema, "Todo")["fields"]["owner"]["type"] == "String"
    assert "owner" not in type_fields(gql(schema), "ModelSubscriptionTodoFilterInput")


def test_owner_field_must_be_a_string() -> None:
    fails(r"^Todo\.owner: owner and group fields must be strings",
          lambda: compile_types({"Todo": a.model({"owner": a.integer()}).authorization(lambda al: [al.owner()])}))


def test_group_field_rules() -> None:
    schema = owner_schema(lambda al: al.group_defined_in("team"), lambda al: al.groups_defined_in("teams"))
    sdl = gql(schema)
    assert type_fields(sdl, "Todo")["team"] == "String"
    assert type_fields(sdl, "Todo")["teams"] == "[String]"
    assert {"team", "teams"}.isdisjoint(type_fields(sdl, "ModelSubscriptionTodoFilterInput"))
    assert {"team", "teams"}.isdisjoint(mis_model(schema, "Todo")["fields"])
    rules = mis_attributes(schema, "Todo", "auth")[0]["properties"]["rules"]
    assert rules == [
        {"allow": "groups", "provider": "userPools", "groupClaim": "cognito:groups", "groupsField": "team",
         "operations": ["create", "update", "delete", "read"]},
        {"allow": "groups", "provider": "userPools", "groupClaim": "cognito:groups", "groupsField": "teams",
         "operations": ["create", "update", "delete", "read"]},
    ]


# ------------------------------------------------------------------------------------------------
# allow.* builders and .to()

OPS = ["create", "update", "delete", "read"]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: allow.public_api_key(), {"allow": "public", "provider": "apiKey"}),
        (lambda: allow.guest(), {"allow": "public", "provider": "identityPool"}),
        (lambda: allow.authenticated(), {"allow": "private", "provider": "userPools"}),
        (lambda: allow.authenticated("identityPool"), {"allow": "private", "provider": "identityPool"}),
        (lambda: allow.authenticated("oidc"), {"allow": "private", "provider": "oidc"}),
        (lambda: allow.owner(), {"allow": "owner", "provider": "userPools", "ownerField": "owner",
                                 "identityClaim": "cognito:username"}),
        (lambda: allow.owner("oidc"), {"allow": "owner", "provider": "oidc", "ownerField": "owner",
                                       "identityClaim": "cognito:username"}),
        (lambda: allow.owner().identity_claim("sub"), {"allow": "owner", "provider": "userPools",
                                                       "ownerField": "owner", "identityClaim": "sub"}),
        (lambda: allow.owner_defined_in("author"), {"allow": "owner", "provider": "userPools", "ownerField": "author",
                                                    "identityClaim": "cognito:username"}),
        (lambda: allow.owners_defined_in("editors", "oidc"), {
            "allow": "owner", "provider": "oidc", "ownerField": "editors", "identityClaim": "cognito:username"}),
        (lambda: allow.group("Admin"), {"allow": "groups", "provider": "userPools", "groupClaim": "cognito:groups",
                                        "groups": ["Admin"]}),
        (lambda: allow.groups(["A", "B"], "oidc").with_claim_in("roles"), {
            "allow": "groups", "provider": "oidc", "groupClaim": "roles", "groups": ["A", "B"]}),
        (lambda: allow.group_defined_in("team"), {"allow": "groups", "provider": "userPools",
                                                  "groupClaim": "cognito:groups", "groupsField": "team"}),
        (lambda: allow.groups_defined_in("teams"), {"allow": "groups", "provider": "userPools",
                                                    "groupClaim": "cognito:groups", "groupsField": "teams"}),
        (lambda: allow.custom(), {"allow": "custom", "provider": "function"}),
    ],
    ids=["public_api_key", "guest", "authenticated", "authenticated-identityPool", "authenticated-oidc", "owner",
         "owner-oidc", "owner-identity_claim", "owner_defined_in", "owners_defined_in", "group", "groups",
         "group_defined_in", "groups_defined_in", "custom"],
)
def test_allow_builders(make: Any, expected: dict[str, Any]) -> None:
    assert rule_mis(make().build()) == {**expected, "operations": OPS}


def test_to_narrows_operations() -> None:
    rule = allow.owner().to(["read", "delete"]).build()
    assert rule.operations == ("read", "delete")
    assert rule_mis(rule)["operations"] == ["read", "delete"]
    assert rule.grants("get") and rule.grants("list") and rule.grants("listen") and not rule.grants("create")
    narrow = allow.authenticated().to(["get", "list", "listen"]).build()
    assert narrow.operations == ("get", "list", "listen")


def test_to_rejects_unknown_operations() -> None:
    fails(r"^allow\.owner\(\)\.to\(\): unknown operation 'fly'", lambda: allow.owner().to(["fly"]))
    fails(r"^allow\.public_api_key\(\)\.to\(\[\]\)", lambda: allow.public_api_key().to([]))


@pytest.mark.parametrize("other", ["get", "list", "listen"])
def test_to_rejects_read_mixed_with_read_operations(other: str) -> None:
    fails(r"'read' already includes", lambda: allow.authenticated().to(["read", other]))


@pytest.mark.parametrize("op", ["get", "list", "listen"])
def test_field_level_rules_refuse_non_field_operations(op: str) -> None:
    fails(rf"^Todo\.secret: '{op}' operation is not allowed at the field level",
          lambda: compile_types({"Todo": a.model({
              "secret": a.string().authorization(lambda al: [al.owner().to([op])])})}))


@pytest.mark.parametrize("op", ["list", "listen"])
def test_relationship_field_rules_refuse_non_field_operations(op: str) -> None:
    fails(rf"^Blog\.posts: '{op}' operation is not allowed at the field level",
          lambda: compile_types({
              "Blog": a.model({"posts": a.has_many("Post", "blogId").authorization(lambda al: [al.owner().to([op])])}),
              "Post": a.model({"blogId": a.id()})}))


def test_field_level_rules_allow_field_operations() -> None:
    schema = compile_types({"Todo": a.model({
        "secret": a.string().authorization(lambda al: [al.owner().to(["read", "create", "update", "delete"])])})})
    rules = schema.models["Todo"].fields["secret"].rules
    assert rules is not None and rules[0].operations == ("read", "create", "update", "delete")


@pytest.mark.parametrize(
    "make",
    [
        lambda: allow.owner("apiKey"),
        lambda: allow.owner("identityPool"),
        lambda: allow.authenticated("apiKey"),
        lambda: allow.authenticated("function"),
        lambda: allow.group("Admin", "identityPool"),
        lambda: allow.groups_defined_in("teams", "apiKey"),
        lambda: allow.custom("userPools"),
        lambda: allow.owner_defined_in("author", "nonsense"),
    ],
)
def test_bad_providers_are_refused(make: Any) -> None:
    fails(r"^allow\.\w+\(\): provider '\w+' is not one of", make)


def test_provider_spellings() -> None:
    assert allow.authenticated("user_pools").build().provider == "userPools"
    assert allow.authenticated("userPool").build().provider == "userPools"
    assert allow.authenticated("identity_pool").build().provider == "identityPool"
    assert allow.custom("lambda").build().provider == "function"


def test_claim_modifiers_apply_to_their_rule_kind() -> None:
    fails(r"identity_claim\(\) applies to owner rules only", lambda: allow.group("A").identity_claim("sub"))
    fails(r"with_claim_in\(\) applies to group rules only", lambda: allow.owner().with_claim_in("roles"))
    fails(r"name at least one group", lambda: allow.groups([]))


# ------------------------------------------------------------------------------------------------
# camelCase aliases


def test_camel_case_aliases_compile_to_the_same_schema() -> None:
    snake = define_data(schema=a.schema({
        "Blog": a.model({"ip": a.ip_address(), "posts": a.has_many("Post", "blogId"),
                         "meta": a.has_one("Meta", "blogId"), "extra": a.custom_type({"x": a.string()})})
        .disable_operations(["delete"])
        .authorization(lambda al: [al.public_api_key(), al.owner_defined_in("author").identity_claim("sub"),
                                   al.owners_defined_in("editors"), al.group_defined_in("team"),
                                   al.groups_defined_in("teams"), al.group("A").with_claim_in("roles")]),
        "Post": a.model({"blogId": a.id(), "status": a.enum(["a", "b"]), "blog": a.belongs_to("Blog", "blogId")})
        .secondary_indexes(lambda index: [index("status").sort_keys(["createdAt"]).query_field("byStatus")]),
        "Meta": a.model({"blogId": a.id(), "blog": a.belongs_to("Blog", "blogId")}),
    }).authorization(public)).schema
    camel = define_data(schema=a.schema({
        "Blog": a.model({"ip": a.ipAddress(), "posts": a.hasMany("Post", "blogId"),
                         "meta": a.hasOne("Meta", "blogId"), "extra": a.customType({"x": a.string()})})
        .disableOperations(["delete"])
        .authorization(lambda al: [al.publicApiKey(), al.ownerDefinedIn("author").identityClaim("sub"),
                                   al.ownersDefinedIn("editors"), al.groupDefinedIn("team"),
                                   al.groupsDefinedIn("teams"), al.group("A").withClaimIn("roles")]),
        "Post": a.model({"blogId": a.id(), "status": a.enum(["a", "b"]), "blog": a.belongsTo("Blog", "blogId")})
        .secondaryIndexes(lambda index: [index("status").sortKeys(["createdAt"]).queryField("byStatus")]),
        "Meta": a.model({"blogId": a.id(), "blog": a.belongsTo("Blog", "blogId")}),
    }).authorization(public)).schema
    assert to_sdl(camel) == to_sdl(snake)
    assert to_mis(camel) == to_mis(snake)
    assert "byStatus" in root_fields(gql(camel), "Query")


def test_value_required_alias() -> None:
    field = a.has_many("Post", "blogId").valueRequired()
    assert field.required_ is True


# ------------------------------------------------------------------------------------------------
# Invalid schemas: every error names the model and field


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ({"Todo": a.model({"owner": a.ref("Person")})},
         r"^Todo\.owner: a\.ref\('Person'\) names no enum or custom type in the schema"),
        ({"Person": a.model({}), "Todo": a.model({"owner": a.ref("Person")})},
         r"^Todo\.owner: a\.ref\('Person'\) names no enum or custom type"),
        ({"Todo": a.model({"state": a.enum(["open", "in progress"])})},
         r"^Todo\.state: enum TodoState: 'in progress' is not a valid enum value"),
        ({"Todo": a.model({"state": a.enum([])})}, r"^Todo\.state: enum TodoState: give at least one value"),
        ({"Todo": a.model({"state": a.enum(["a", "a"])})}, r"^Todo\.state: enum TodoState: values repeat"),
        ({"State": a.enum(["1st"])}, r"^enum State: '1st' is not a valid enum value"),
        ({"State": a.enum(["a", 2])}, r"^enum State: 2 is not a valid enum value"),
        ({"Todo": a.model({"bad-name": a.string()})}, r"^Todo\.bad-name: not a valid field name"),
        ({"Todo": a.model({"__typename": a.string()})}, r"^Todo\.__typename: not a valid field name"),
        ({"Todo": a.model({"x": "String"})}, r"^Todo\.x: expected a field builder"),
        ({"Bad Name": a.model({})}, r"^'Bad Name' is not a valid type name"),
        ({"_Hidden": a.model({})}, r"^'_Hidden' is not a valid type name"),
        ({"Todo": "model"}, r"^Todo: expected a\.model\(\)"),
        ({"Todo": a.model({"priority": a.enum(["lo", "hi"])}), "TodoPriority": a.enum(["x"])},
         r"^Todo\.priority: inline enum name TodoPriority clashes with another type"),
    ],
)
def test_invalid_schemas(types: dict[str, Any], message: str) -> None:
    fails(message, lambda: compile_types(types))


def test_define_data_takes_a_schema() -> None:
    fails(r"define_data\(schema=\.\.\.\) takes the result of a\.schema",
          lambda: define_data(schema={"Todo": a.model({})}))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize(("singular", "plural"), [
    ("Person", "People"), ("Category", "Categories"), ("Box", "Boxes"), ("Todo", "Todos"),
    ("Child", "Children"), ("Day", "Days"), ("Address", "Addresses"), ("Church", "Churches"),
    ("Wish", "Wishes"), ("SalesPerson", "SalesPeople"),
])
def test_pluralization(singular: str, plural: str) -> None:
    assert pluralize(singular) == plural
    schema = compile_types({singular: a.model({"x": a.string()})})
    assert mis_model(schema, singular)["pluralName"] == plural
    assert f"list{plural}" in root_fields(gql(schema), "Query")
    assert f"get{singular}" in root_fields(gql(schema), "Query")


# ------------------------------------------------------------------------------------------------
# define_data(authorization_modes=...)


@pytest.mark.parametrize(("name", "mode"), [
    ("api_key", "apiKey"), ("apiKey", "apiKey"), ("API_KEY", "apiKey"),
    ("user_pool", "userPool"), ("userPool", "userPool"), ("AMAZON_COGNITO_USER_POOLS", "userPool"),
    ("identity_pool", "identityPool"), ("identityPool", "identityPool"),
    ("iam", "iam"), ("AWS_IAM", "iam"),
    ("oidc", "oidc"), ("OPENID_CONNECT", "oidc"),
    ("lambda", "lambda"), ("AWS_LAMBDA", "lambda"),
])
@pytest.mark.parametrize("key", ["default_authorization_mode", "defaultAuthorizationMode"])
def test_authorization_mode_names(key: str, name: str, mode: str) -> None:
    schema = compile_types({"Todo": a.model({})}, authorization_modes={key: name})
    assert schema.authorization_modes.default == mode


def test_authorization_mode_defaults() -> None:
    modes = compile_types({"Todo": a.model({})}).authorization_modes
    assert modes.default == "apiKey" and modes.api_key_expires_in_days == 7


@pytest.mark.parametrize("options", [
    {"api_key_authorization_mode": {"expires_in_days": 30, "description": "dev"}},
    {"apiKeyAuthorizationMode": {"expiresInDays": 30, "description": "dev"}},
])
def test_api_key_mode_in_either_spelling(options: dict[str, Any]) -> None:
    modes = compile_types({"Todo": a.model({})}, authorization_modes=options).authorization_modes
    assert modes.api_key_expires_in_days == 30 and modes.api_key_description == "dev"


@pytest.mark.parametrize("options", [
    {"lambda_authorization_mode": {"function": "authorizer", "time_to_live_in_seconds": 120}},
    {"lambdaAuthorizationMode": {"function": "authorizer", "timeToLiveInSeconds": 120}},
])
def test_lambda_mode_in_either_spelling(options: dict[str, Any]) -> None:
    modes = compile_types({"Todo": a.model({})}, authorization_modes=options).authorization_modes
    assert modes.lambda_function == "authorizer" and modes.lambda_ttl_seconds == 120
    assert "lambda" in modes.enabled()


@pytest.mark.parametrize(("options", "message"), [
    ({"default_mode": "api_key"}, r"unknown key 'default_mode'"),
    ({"defaultAuthorizationMode": "password"}, r"unknown authorization mode 'password'"),
    ({"default_authorization_mode": "userPools"}, r"unknown authorization mode 'userPools'"),
    ({"api_key_authorization_mode": {"expires_in_days": 0}}, r"expires_in_days must be a whole number from 1 to 365"),
    ({"api_key_authorization_mode": {"expires_in_days": 366}}, r"expires_in_days must be a whole number"),
    ({"apiKeyAuthorizationMode": {"expiresInDays": 7.5}}, r"expires_in_days must be a whole number"),
    ({"apiKeyAuthorizationMode": {"expiresInDays": "7"}}, r"expires_in_days must be a whole number"),
    ({"apiKeyAuthorizationMode": {"expiresInDays": True}}, r"expires_in_days must be a whole number"),
    ({"api_key_authorization_mode": {"expires": 7}}, r"unknown key 'expires' in api_key_authorization_mode"),
    ({"lambda_authorization_mode": {"fn": "x"}}, r"unknown key 'fn' in lambda_authorization_mode"),
])
def test_bad_authorization_modes(options: dict[str, Any], message: str) -> None:
    fails(message, lambda: compile_types({"Todo": a.model({})}, authorization_modes=options))
