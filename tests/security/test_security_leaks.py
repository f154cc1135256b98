"""Hostile tests: no reader receives, or can guess, a value their own query could not read.

Each test is one class of leak, tried over real sockets (HTTP and the real-time WebSocket) with real
user-pool tokens: subscription payloads rendered for the writer instead of the subscriber (at depth),
filters and conditions used as oracles for fields hidden by field-level rules, and Lambda
``deniedFields`` naming whole operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from authkit import User
from conftest import EXAMPLES, Sandbox, start_sandbox
from realtime_support import Raw, api_key_auth

pytestmark = pytest.mark.both_backends

SCHEMA = EXAMPLES / "leaks_schema.py"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[tuple[Sandbox, dict[str, User]]]:
    box = start_sandbox(tmp_path_factory.mktemp("leaks"), SCHEMA, "--no-watch", backend=backend)
    users = {"alice": User(box, "alice"), "bob": User(box, "bob"), "admin": User(box, "admin", ("Admins",))}
    yield box, users
    box.stop()


def unauthorized(body: dict[str, Any]) -> bool:
    return any(e.get("errorType") == "Unauthorized" for e in body.get("errors") or ())


def make_blog(owner: User, name: str = "b", secret: str = "s3cr3t") -> str:
    body = owner.gql("mutation ($i: CreateBlogInput!) { createBlog(input: $i) { id } }",
                     {"i": {"name": name, "secret": secret}})
    assert "errors" not in body, body
    return str(body["data"]["createBlog"]["id"])


def make_ticket(owner: User, **values: Any) -> str:
    body = owner.gql("mutation ($i: CreateTicketInput!) { createTicket(input: $i) { id } }", {"i": values})
    assert "errors" not in body, body
    return str(body["data"]["createTicket"]["id"])


CREATE_POST = ("mutation ($i: CreatePostInput!) { createPost(input: $i) { id title blog { id name secret } } }")


# ------------------------------------------------------------------------------------------------
# Subscription payloads are rendered for the subscriber, at every depth


def test_subscriber_does_not_receive_a_related_record_it_may_not_read(world: Any) -> None:
    box, users = world
    alice = users["alice"]
    blog_id = make_blog(alice, "alice's blog", "the-secret")
    # An API key reads posts but no blog at all: its own getBlog is refused.
    own = box.gql("query ($id: ID!) { getBlog(id: $id) { id name } }", {"id": blog_id})
    assert own["data"]["getBlog"] is None and unauthorized(own), own
    conn = Raw(box, api_key_auth(box))
    conn.init()
    conn.subscribe("s", "subscription { onCreatePost { id title blog { id name secret } } }")
    written = alice.gql(CREATE_POST, {"i": {"title": "t", "blogId": blog_id}})
    assert written["data"]["createPost"]["blog"]["secret"] == "the-secret"  # the writer may read it
    event = conn.expect("data")["payload"]
    conn.close()
    assert event["data"]["onCreatePost"]["title"] == "t"
    assert event["data"]["onCreatePost"]["blog"] is None, event
    assert "the-secret" not in str(event) and "alice's blog" not in str(event)
    assert unauthorized(event), event


def test_subscriber_does_not_receive_a_nested_field_hidden_by_field_rules(world: Any) -> None:
    box, users = world
    alice, bob = users["alice"], users["bob"]
    blog_id = make_blog(alice, "shared name", "nested-secret")
    own = bob.gql("query ($id: ID!) { getBlog(id: $id) { name secret } }", {"id": blog_id})
    assert own["data"]["getBlog"] == {"name": "shared name", "secret": None} and unauthorized(own), own
    conn = bob.socket()
    conn.subscribe("s", "subscription { onCreatePost { id blog { name secret } } }", auth=False)
    alice.gql(CREATE_POST, {"i": {"title": "t2", "blogId": blog_id}})
    event = conn.expect("data")["payload"]
    conn.close()
    assert event["data"]["onCreatePost"]["blog"] == {"name": "shared name", "secret": None}, event
    assert "nested-secret" not in str(event)
    assert unauthorized(event), event


def test_subscriber_to_a_has_many_sees_only_what_its_list_would(world: Any) -> None:
    box, users = world
    alice = users["alice"]
    blog_id = make_blog(alice, "b3", "deep-secret")
    alice.gql(CREATE_POST, {"i": {"title": "first", "blogId": blog_id}})
    conn = Raw(box, api_key_auth(box))
    conn.init()
    conn.subscribe("s", "subscription { onCreatePost { id blog { posts { items { blog { secret } } } } } }")
    alice.gql("mutation ($i: CreatePostInput!) { createPost(input: $i) { id blog { posts { items { "
              "blog { secret } } } } } }", {"i": {"title": "second", "blogId": blog_id}})
    event = conn.expect("data")["payload"]
    conn.close()
    assert "deep-secret" not in str(event), event
    assert event["data"]["onCreatePost"]["blog"] is None and unauthorized(event), event


# ------------------------------------------------------------------------------------------------
# Filters and conditions are no oracle for fields the caller may not read


LIST_TICKETS = "query ($f: ModelTicketFilterInput) { listTickets(filter: $f) { items { id title } } }"


def test_list_filter_on_a_never_readable_field_is_refused(world: Any) -> None:
    _, users = world
    bob, admin = users["bob"], users["admin"]
    make_ticket(bob, title="filter-me", verdict="approved")
    for flt in ({"verdict": {"beginsWith": "a"}},
                {"and": [{"title": {"eq": "filter-me"}}, {"verdict": {"attributeExists": True}}]},
                {"or": [{"title": {"eq": "nothing"}}, {"not": {"verdict": {"beginsWith": "z"}}}]}):
        body = bob.gql(LIST_TICKETS, {"f": flt})
        assert body["data"]["listTickets"] is None and unauthorized(body), (flt, body)
        assert "verdict" in body["errors"][0]["message"]
    # Admins may read it, so they may filter on it.
    body = admin.gql(LIST_TICKETS, {"f": {"verdict": {"beginsWith": "a"}, "title": {"eq": "filter-me"}}})
    assert [t["title"] for t in body["data"]["listTickets"]["items"]] == ["filter-me"], body


def test_filter_on_an_owner_only_field_never_matches_others_records(world: Any) -> None:
    _, users = world
    alice, bob = users["alice"], users["bob"]
    make_ticket(alice, title="pin-probe", pin="1234")
    answers = []
    for flt in ({"pin": {"beginsWith": "1"}}, {"pin": {"beginsWith": "9"}}, {"not": {"pin": {"beginsWith": "1"}}},
                {"not": {"pin": {"beginsWith": "9"}}}, {"pin": {"attributeExists": True}}):
        body = bob.gql(LIST_TICKETS, {"f": {"and": [{"title": {"eq": "pin-probe"}}, flt]}})
        assert "errors" not in body, body
        answers.append(len(body["data"]["listTickets"]["items"]))
    # The answer does not depend on alice's pin: a prefix oracle tells bob nothing.
    assert answers[0] == answers[1] and answers[2] == answers[3], answers
    assert answers[0] == 0 and answers[4] == 0
    mine = alice.gql(LIST_TICKETS, {"f": {"and": [{"title": {"eq": "pin-probe"}}, {"pin": {"beginsWith": "1"}}]}})
    assert len(mine["data"]["listTickets"]["items"]) == 1, mine


def test_index_query_keys_on_a_never_readable_field_are_refused(world: Any) -> None:
    _, users = world
    bob = users["bob"]
    make_ticket(bob, title="indexed", verdict="rejected")
    body = bob.gql('query { ticketsByTitle(title: "indexed", verdict: {beginsWith: "r"}) { items { id } } }')
    assert body["data"]["ticketsByTitle"] is None and unauthorized(body), body
    body = bob.gql('query { ticketsByVerdict(verdict: "rejected") { items { id } } }')
    assert body["data"]["ticketsByVerdict"] is None and unauthorized(body), body
    fine = bob.gql('query { ticketsByTitle(title: "indexed") { items { title } } }')
    assert fine["data"]["ticketsByTitle"]["items"] == [{"title": "indexed"}], fine


def test_conditions_of_update_and_delete_on_a_never_readable_field_are_refused(world: Any) -> None:
    _, users = world
    bob = users["bob"]
    ticket = make_ticket(bob, title="conditional", verdict="approved")
    update = ("mutation ($i: UpdateTicketInput!, $c: ModelTicketConditionInput) "
              "{ updateTicket(input: $i, condition: $c) { id title } }")
    delete = ("mutation ($i: DeleteTicketInput!, $c: ModelTicketConditionInput) "
              "{ deleteTicket(input: $i, condition: $c) { id } }")
    for cond in ({"verdict": {"beginsWith": "a"}}, {"not": {"verdict": {"eq": "x"}}}):
        body = bob.gql(update, {"i": {"id": ticket, "title": "changed"}, "c": cond})
        assert body["data"]["updateTicket"] is None and unauthorized(body), body
        body = bob.gql(delete, {"i": {"id": ticket}, "c": cond})
        assert body["data"]["deleteTicket"] is None and unauthorized(body), body
    # Nothing was written by the refused requests.
    got = bob.gql("query ($id: ID!) { getTicket(id: $id) { title } }", {"id": ticket})
    assert got["data"]["getTicket"]["title"] == "conditional", got


def test_subscription_filter_on_a_hidden_field_is_refused_or_blind(world: Any) -> None:
    box, users = world
    alice, bob = users["alice"], users["bob"]
    conn = bob.socket()
    query = ("subscription ($f: ModelSubscriptionTicketFilterInput) { onCreateTicket(filter: $f) { id title } }")
    conn.start("v", query, {"f": {"verdict": {"beginsWith": "a"}}}, auth=False)
    refused = conn.expect("error")
    assert refused["id"] == "v" and refused["payload"]["errors"][0]["errorType"] == "Unauthorized", refused
    # An owner-only field: the filter never matches a record whose pin bob may not read.
    conn.subscribe("p", query, {"f": {"pin": {"beginsWith": "4"}}}, auth=False)
    conn.subscribe("all", query, {"f": {"title": {"eq": "sub-probe"}}}, auth=False)
    make_ticket(alice, title="sub-probe", pin="4321")
    event = conn.expect("data")
    assert event["id"] == "all", event
    conn.nothing(0.5)
    conn.close()


# ------------------------------------------------------------------------------------------------
# Lambda deniedFields naming operations


@pytest.fixture
def lambda_box(sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("COVE_TEST_AUTHORIZER_LOG", str(tmp_path))
    return sandbox_factory(EXAMPLES / "lambda_schema.py", "--no-watch")


def test_lambda_denied_fields_deny_named_operations(lambda_box: Any) -> None:
    box = lambda_box

    def call(token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        r = box.post(query, variables, headers={"x-api-key": None, "authorization": token})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    made = call("denyops-1", 'mutation { createMemo(input: {text: "t", secret: "hidden"}) { id text } }')
    memo = made["data"]["createMemo"]["id"]
    for query, root in (("query { listMemos { items { id } } }", "listMemos"),
                        (f'query {{ getMemo(id: "{memo}") {{ id text }} }}', "getMemo"),
                        (f'mutation {{ deleteMemo(input: {{id: "{memo}"}}) {{ id }} }}', "deleteMemo")):
        body = call("denyops-1", query)
        assert body["data"] is None or body["data"][root] is None, body
        assert unauthorized(body), body
    # The memo still exists: the denied delete wrote nothing.
    still = call("allow-ada", f'query {{ getMemo(id: "{memo}") {{ id text }} }}')
    assert still["data"]["getMemo"]["text"] == "t", still
    # Memo.secret is denied, so filtering on it is refused too.
    body = call("allow-ada", 'query { listMemos(filter: {secret: {beginsWith: "h"}}) { items { id } } }')
    assert body["data"]["listMemos"] is None and unauthorized(body), body
    # A denied subscription field is refused at start.
    conn = Raw(box, {"Authorization": "denyops-2", "host": f"127.0.0.1:{box.port}"})
    conn.init()
    conn.start("s", "subscription { onCreateMemo { id } }", auth=False)
    frame = conn.expect("error")
    assert frame["payload"]["errors"][0]["errorType"] == "Unauthorized", frame
    conn.close()
