"""Every model operation end to end over a real socket, with the documents aws-amplify sends."""

from __future__ import annotations

import re
import uuid

import pytest
from conftest import Sandbox

pytestmark = pytest.mark.both_backends

SEL = "id content done priority due tags listId createdAt updatedAt"
CREATE = f"mutation ($input: CreateTodoInput!, $condition: ModelTodoConditionInput) {{ createTodo(input: $input, condition: $condition) {{ {SEL} }} }}"
GET = f"query ($id: ID!) {{ getTodo(id: $id) {{ {SEL} }} }}"
UPDATE = f"mutation ($input: UpdateTodoInput!, $condition: ModelTodoConditionInput) {{ updateTodo(input: $input, condition: $condition) {{ {SEL} }} }}"
DELETE = f"mutation ($input: DeleteTodoInput!, $condition: ModelTodoConditionInput) {{ deleteTodo(input: $input, condition: $condition) {{ {SEL} }} }}"
LIST = (f"query ($filter: ModelTodoFilterInput, $limit: Int, $nextToken: String) {{ listTodos(filter: $filter, "
        f"limit: $limit, nextToken: $nextToken) {{ items {{ {SEL} }} nextToken __typename }} }}")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def create(box: Sandbox, **input: object) -> dict:
    body = box.gql(CREATE, {"input": input})
    assert "errors" not in body, body
    return body["data"]["createTodo"]


def test_create_fills_id_timestamps_and_defaults(sandbox: Sandbox) -> None:
    todo = create(sandbox, content="buy milk", priority="high", tags=["x", "y"], due="2026-12-01")
    uuid.UUID(todo["id"])
    assert ISO_MS.match(todo["createdAt"]) and todo["createdAt"] == todo["updatedAt"]
    assert todo["done"] is False  # .default(False)
    assert todo["content"] == "buy milk" and todo["priority"] == "high"
    assert todo["tags"] == ["x", "y"] and todo["due"] == "2026-12-01"
    assert todo["listId"] is None


def test_create_with_client_id_and_duplicate_id(sandbox: Sandbox) -> None:
    my_id = f"my-{uuid.uuid4()}"
    assert create(sandbox, id=my_id, content="a")["id"] == my_id
    body = sandbox.gql(CREATE, {"input": {"id": my_id, "content": "again"}})
    assert body["data"] == {"createTodo": None}
    (err,) = body["errors"]
    assert err["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    assert err["path"] == ["createTodo"] and err["locations"][0]["line"] == 1
    # the first record is untouched
    assert sandbox.gql(GET, {"id": my_id})["data"]["getTodo"]["content"] == "a"


def test_create_condition_is_evaluated_against_no_item(sandbox: Sandbox) -> None:
    ok = sandbox.gql(CREATE, {"input": {"content": "c1"}, "condition": {"content": {"attributeExists": False}}})
    assert ok["data"]["createTodo"]["content"] == "c1"
    bad = sandbox.gql(CREATE, {"input": {"content": "c2"}, "condition": {"content": {"eq": "c2"}}})
    assert bad["data"]["createTodo"] is None
    assert bad["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    found = sandbox.gql(LIST, {"filter": {"content": {"eq": "c2"}}})["data"]["listTodos"]["items"]
    assert found == []  # nothing half-written


def test_get_existing_and_missing(sandbox: Sandbox) -> None:
    todo = create(sandbox, content="get me")
    assert sandbox.gql(GET, {"id": todo["id"]})["data"]["getTodo"] == todo
    assert sandbox.gql(GET, {"id": "does-not-exist"}) == {"data": {"getTodo": None}}


def test_update_is_partial_and_bumps_updated_at(sandbox: Sandbox) -> None:
    todo = create(sandbox, content="before", priority="low", tags=["t"])
    body = sandbox.gql(UPDATE, {"input": {"id": todo["id"], "done": True}})
    updated = body["data"]["updateTodo"]
    assert updated["done"] is True and updated["content"] == "before" and updated["tags"] == ["t"]
    assert updated["createdAt"] == todo["createdAt"] and updated["updatedAt"] >= todo["updatedAt"]
    # explicit null clears an optional field
    cleared = sandbox.gql(UPDATE, {"input": {"id": todo["id"], "priority": None}})["data"]["updateTodo"]
    assert cleared["priority"] is None and cleared["done"] is True


def test_update_rejects_null_for_required_field_and_writes_nothing(sandbox: Sandbox) -> None:
    todo = create(sandbox, content="keep")
    body = sandbox.gql(UPDATE, {"input": {"id": todo["id"], "content": None, "done": True}})
    assert body["data"]["updateTodo"] is None
    assert body["errors"][0]["errorType"] == "InvalidArgumentsError"
    after = sandbox.gql(GET, {"id": todo["id"]})["data"]["getTodo"]
    assert after == todo


def test_update_condition_and_missing_record(sandbox: Sandbox) -> None:
    todo = create(sandbox, content="cond", priority="low")
    fail = sandbox.gql(UPDATE, {"input": {"id": todo["id"], "content": "x"},
                                "condition": {"priority": {"eq": "high"}}})
    assert fail["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    assert sandbox.gql(GET, {"id": todo["id"]})["data"]["getTodo"]["content"] == "cond"
    ok = sandbox.gql(UPDATE, {"input": {"id": todo["id"], "content": "x"},
                              "condition": {"priority": {"eq": "low"}}})
    assert ok["data"]["updateTodo"]["content"] == "x"
    missing = sandbox.gql(UPDATE, {"input": {"id": "nope", "content": "x"}})
    assert missing["data"]["updateTodo"] is None
    assert missing["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    # an update must never create a record
    assert sandbox.gql(GET, {"id": "nope"})["data"]["getTodo"] is None


def test_delete_returns_record_and_honours_condition(sandbox: Sandbox) -> None:
    todo = create(sandbox, content="bye", done=False)
    fail = sandbox.gql(DELETE, {"input": {"id": todo["id"]}, "condition": {"done": {"eq": True}}})
    assert fail["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    assert sandbox.gql(GET, {"id": todo["id"]})["data"]["getTodo"] is not None
    gone = sandbox.gql(DELETE, {"input": {"id": todo["id"]}, "condition": {"done": {"eq": False}}})
    assert gone["data"]["deleteTodo"] == todo
    assert sandbox.gql(GET, {"id": todo["id"]})["data"]["getTodo"] is None
    again = sandbox.gql(DELETE, {"input": {"id": todo["id"]}})
    assert again["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"


def test_list_default_limit_is_100_and_pages_are_full(sandbox_factory) -> None:
    box = sandbox_factory()
    ids = {create(box, content=f"n{i}", done=i % 3 == 0)["id"] for i in range(130)}
    first = box.gql(LIST, {})["data"]["listTodos"]
    assert len(first["items"]) == 100 and first["nextToken"]
    assert first["__typename"] == "ModelTodoConnection"
    second = box.gql(LIST, {"nextToken": first["nextToken"]})["data"]["listTodos"]
    assert len(second["items"]) == 30 and second["nextToken"] is None
    assert {t["id"] for t in first["items"] + second["items"]} == ids
    # filtered pages: every page but the last is full, no duplicates, nothing missed
    done_ids = {t for t in ids if True}
    seen: list[str] = []
    token = None
    pages = []
    while True:
        page = box.gql(LIST, {"filter": {"done": {"eq": True}}, "limit": 7, "nextToken": token})["data"]["listTodos"]
        pages.append(len(page["items"]))
        seen += [t["id"] for t in page["items"]]
        token = page["nextToken"]
        if token is None:
            break
    expected = {t["id"] for t in first["items"] + second["items"] if t["done"]}
    assert len(seen) == len(set(seen)) and set(seen) == expected and done_ids
    assert all(n == 7 for n in pages[:-1]) and 1 <= pages[-1] <= 7


def test_next_token_is_opaque_and_tamper_evident(sandbox_factory) -> None:
    box = sandbox_factory()
    for i in range(3):
        create(box, content=f"t{i}")
    token = box.gql(LIST, {"limit": 1})["data"]["listTodos"]["nextToken"]
    assert token and "t0" not in token
    for bad in ["garbage", token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x." + token]:
        body = box.gql(LIST, {"limit": 1, "nextToken": bad})
        assert body["data"]["listTodos"] is None
        assert body["errors"][0]["errorType"] == "InvalidArgumentsError"
        assert "nextToken" in body["errors"][0]["message"]
    # a token from one model's list is refused by another's
    lists = "query ($nextToken: String) { listTodoLists(nextToken: $nextToken) { items { id } } }"
    body = box.gql(lists, {"nextToken": token})
    assert body["errors"][0]["errorType"] == "InvalidArgumentsError"


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_list_limit_bounds(sandbox: Sandbox, limit: int) -> None:
    body = sandbox.gql(LIST, {"limit": limit})
    assert body["data"]["listTodos"] is None
    err = body["errors"][0]
    assert err["errorType"] == "InvalidArgumentsError" and "between 1 and 1000" in err["message"]


def test_sort_direction_needs_a_sort_key(sandbox: Sandbox) -> None:
    q = "query { listTodos(sortDirection: DESC) { items { id } } }"
    sandbox_schema_has_arg = sandbox.gql("{ __type(name: \"Query\") { fields { name args { name } } } }")
    fields = {f["name"]: [a["name"] for a in f["args"]] for f in sandbox_schema_has_arg["data"]["__type"]["fields"]}
    # as AppSync: no sortDirection without a sort key (Cove's sortBy, after AppSync's, takes a direction per field)
    assert fields["listTodos"] == ["filter", "limit", "nextToken", "sortBy"]
    body = sandbox.gql(q)
    assert body["data"] is None and "sortDirection" in body["errors"][0]["message"]


def test_relationships_resolve_both_ways(sandbox: Sandbox) -> None:
    lst = sandbox.gql("mutation ($input: CreateTodoListInput!) { createTodoList(input: $input) { id name } }",
                      {"input": {"name": "groceries"}})["data"]["createTodoList"]
    a = create(sandbox, content="eggs", listId=lst["id"])
    b = create(sandbox, content="ham", listId=lst["id"])
    create(sandbox, content="unrelated")
    body = sandbox.gql("query ($id: ID!) { getTodoList(id: $id) { name todos(limit: 1) { items { content } nextToken } "
                       "all: todos { items { id list { name } } } } }", {"id": lst["id"]})
    got = body["data"]["getTodoList"]
    assert got["name"] == "groceries"
    assert len(got["todos"]["items"]) == 1 and got["todos"]["nextToken"]
    assert {t["id"] for t in got["all"]["items"]} == {a["id"], b["id"]}
    assert all(t["list"] == {"name": "groceries"} for t in got["all"]["items"])


def test_aliases_fragments_typename_and_directives(sandbox: Sandbox) -> None:
    todo = create(sandbox, content="frag", priority="medium")
    q = """
    query Q($id: ID!, $withPriority: Boolean!) {
      __typename
      first: getTodo(id: $id) { ...Basic p: priority @include(if: $withPriority) __typename }
      second: getTodo(id: $id) { ... on Todo { content } }
    }
    fragment Basic on Todo { id content }
    """
    body = sandbox.gql(q, {"id": todo["id"], "withPriority": True})
    assert body == {"data": {"__typename": "Query",
                             "first": {"id": todo["id"], "content": "frag", "p": "medium", "__typename": "Todo"},
                             "second": {"content": "frag"}}}
    body = sandbox.gql(q, {"id": todo["id"], "withPriority": False})
    assert "p" not in body["data"]["first"]


def test_operation_name_selects_operation(sandbox: Sandbox) -> None:
    todo = create(sandbox, content="named")
    doc = f"query A {{ getTodo(id: \"{todo['id']}\") {{ content }} }} query B {{ __typename }}"
    r = sandbox.post("", raw=f'{{"query": {__import__("json").dumps(doc)}, "operationName": "A"}}'.encode())
    assert r.json() == {"data": {"getTodo": {"content": "named"}}}
    r = sandbox.post("", raw=f'{{"query": {__import__("json").dumps(doc)}}}'.encode())
    assert "operation name" in r.json()["errors"][0]["message"]


def test_introspection_works(sandbox: Sandbox) -> None:
    body = sandbox.gql("{ __schema { queryType { name } mutationType { name } } }")
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}}}}
    body = sandbox.gql('{ __type(name: "ModelStringInput") { inputFields { name } } }')
    names = [f["name"] for f in body["data"]["__type"]["inputFields"]]
    assert names == ["ne", "eq", "le", "lt", "ge", "gt", "contains", "notContains", "between", "beginsWith",
                     "attributeExists", "attributeType", "size"]


DECLARED_TIMESTAMPS = '''
from cove import a, define_data

schema = a.schema({
    "Event": a.model({
        "title": a.string().required(),
        "createdAt": a.datetime().required(),
        "updatedAt": a.datetime().required(),
    }).secondary_indexes(lambda index: [index("title").sort_keys(["createdAt"]).query_field("eventsByTitle")])
      .authorization(lambda allow: [allow.public_api_key()]),
})
data = define_data(schema=schema)
'''


def test_declared_timestamps_behave_as_on_appsync(tmp_path, sandbox_factory) -> None:
    """A model declaring createdAt/updatedAt (here required, and a sort key): optional in the inputs,
    filled on create, updatedAt refreshed on every update, a given value kept."""
    source = tmp_path / "events.py"
    source.write_text(DECLARED_TIMESTAMPS)
    box = sandbox_factory(source)
    made = box.gql('mutation { createEvent(input: {title: "t"}) { id createdAt updatedAt } }')
    assert "errors" not in made, made
    event = made["data"]["createEvent"]
    assert event["createdAt"] and event["updatedAt"] == event["createdAt"]
    old = box.gql('mutation { createEvent(input: {title: "t", createdAt: "2020-01-01T00:00:00.000Z"}) { createdAt } }')
    assert old["data"]["createEvent"]["createdAt"] == "2020-01-01T00:00:00.000Z"
    by_title = box.gql('query { eventsByTitle(title: "t", createdAt: {lt: "2021-01-01T00:00:00.000Z"}) '
                       '{ items { createdAt } } }')
    assert by_title == {"data": {"eventsByTitle": {"items": [{"createdAt": "2020-01-01T00:00:00.000Z"}]}}}
    updated = box.gql('mutation ($id: ID!) { updateEvent(input: {id: $id, title: "u"}) { updatedAt createdAt } }',
                      {"id": event["id"]})["data"]["updateEvent"]
    assert updated["updatedAt"] > event["updatedAt"] and updated["createdAt"] == event["createdAt"]
