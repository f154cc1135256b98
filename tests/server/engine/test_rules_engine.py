"""The rule matrix, in process: every rule x the operations it governs x the identities that matter.

These drive the real engine and SQLite store with Identity objects, so rule semantics are checked
independently of how identities are proven (tokens and signatures have their own tests, over HTTP).
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from cove.server.engine import Engine
from cove.server.identity import Identity
from cove.store import open_backend
from paths import TESTS

SCHEMA = TESTS / "schemas" / "rules_schema.py"

ALICE = Identity("userPool", claims={"sub": "sub-alice", "username": "alice", "email": "alice@example.com"})
BOB = Identity("userPool", claims={"sub": "sub-bob", "username": "bob", "cognito:groups": ["TeamB"],
                                   "email": "bob@example.com"})
ADMIN = Identity("userPool", claims={"sub": "sub-admin", "username": "admin", "cognito:groups": ["Admins", "HR"]})
JSON_GROUPS = Identity("userPool", claims={"sub": "sub-ops", "username": "ops", "cognito:groups": '["Ops"]'})
EDITOR = Identity("userPool", claims={"sub": "sub-ed", "username": "ed", "roles": "Editors,Writers"})
KEY = Identity("apiKey")
GUEST = Identity("iam", iam_kind="unauthenticated")
IAM_USER = Identity("iam", iam_kind="authenticated")
TRUSTED = Identity("iam", iam_kind="trusted")
LAMBDA = Identity("lambda", resolver_context={"tenant": "t1"})
OIDC_USER = Identity("oidc", claims={"sub": "oidc-1", "email": "o@example.com"})


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    spec = importlib.util.spec_from_file_location("rules_schema", SCHEMA)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    backend = open_backend(tmp_path)
    asyncio.run(backend.migrator.apply_schema(module.data.schema))
    return Engine(module.data.schema, backend.records)


class Api:
    """Sends the documents aws-amplify sends, as one identity."""

    def __init__(self, engine: Engine, model: str, fields: str) -> None:
        self.engine, self.model, self.fields = engine, model, fields

    def _run(self, doc: str, variables: dict[str, Any], who: Identity) -> tuple[Any, list[dict[str, Any]]]:
        body = self.engine.execute(doc, variables, None, who)
        data = body["data"]
        return (next(iter(data.values())) if data else None), body.get("errors", [])

    def create(self, who: Identity, **values: Any) -> tuple[Any, list[dict[str, Any]]]:
        m = self.model
        return self._run(f"mutation ($input: Create{m}Input!) {{ create{m}(input: $input) {{ {self.fields} }} }}",
                         {"input": values}, who)

    def get(self, who: Identity, id: str) -> tuple[Any, list[dict[str, Any]]]:
        m = self.model
        return self._run(f"query ($id: ID!) {{ get{m}(id: $id) {{ {self.fields} }} }}", {"id": id}, who)

    def update(self, who: Identity, **values: Any) -> tuple[Any, list[dict[str, Any]]]:
        m = self.model
        return self._run(f"mutation ($input: Update{m}Input!) {{ update{m}(input: $input) {{ {self.fields} }} }}",
                         {"input": values}, who)

    def delete(self, who: Identity, id: str) -> tuple[Any, list[dict[str, Any]]]:
        m = self.model
        return self._run(f"mutation ($input: Delete{m}Input!) {{ delete{m}(input: $input) {{ id }} }}",
                         {"input": {"id": id}}, who)

    def list_ids(self, who: Identity, flt: dict[str, Any] | None = None, limit: int = 100) -> list[str] | None:
        m = self.model
        plural = self.engine.schema.models[m].plural_name
        doc = (f"query ($filter: Model{m}FilterInput, $limit: Int, $nextToken: String) {{ list{plural}(filter: $filter, "
               f"limit: $limit, nextToken: $nextToken) {{ items {{ id }} nextToken }} }}")
        ids: list[str] = []
        token = None
        while True:
            page, errors = self._run(doc, {"filter": flt, "limit": limit, "nextToken": token}, who)
            if errors:
                return None
            ids += [i["id"] for i in page["items"]]
            token = page["nextToken"]
            if not token:
                return ids


def unauthorized(errors: list[dict[str, Any]]) -> bool:
    return bool(errors) and errors[0]["errorType"] == "Unauthorized"


def test_public_api_key(engine: Engine) -> None:
    api = Api(engine, "PublicNote", "id body")
    note, errors = api.create(KEY, body="hi")
    assert not errors and note["body"] == "hi"
    assert api.get(KEY, note["id"])[0] == note
    assert api.update(KEY, id=note["id"], body="x")[0]["body"] == "x"
    for who in (ALICE, GUEST, LAMBDA, OIDC_USER):
        assert unauthorized(api.get(who, note["id"])[1])
        assert unauthorized(api.create(who, body="no")[1])
        assert api.list_ids(who) is None
    assert api.delete(KEY, note["id"])[0] == {"id": note["id"]}


def test_owner_rule_full_lifecycle(engine: Engine) -> None:
    api = Api(engine, "OwnerNote", "id body owner")
    mine, errors = api.create(ALICE, body="alice's")
    assert not errors and mine["owner"] == "sub-alice::alice"  # read back as stored, as AppSync does
    stored = asyncio.run(engine.records.get(engine.schema.models["OwnerNote"], {"id": mine["id"]}))
    assert stored["owner"] == "sub-alice::alice"  # stored as sub::username
    theirs, _ = api.create(BOB, body="bob's")
    assert api.get(ALICE, mine["id"])[0] == mine
    data, errors = api.get(BOB, mine["id"])
    assert data is None and unauthorized(errors)
    assert set(api.list_ids(ALICE) or []) == {mine["id"]}
    assert set(api.list_ids(BOB) or []) == {theirs["id"]}
    assert unauthorized(api.update(BOB, id=mine["id"], body="hacked")[1])
    assert unauthorized(api.delete(BOB, mine["id"])[1])
    assert api.get(ALICE, mine["id"])[0]["body"] == "alice's"
    # an owner can neither create for someone else nor hand a record over
    assert unauthorized(api.create(ALICE, body="for bob", owner="sub-bob::bob")[1])
    assert unauthorized(api.update(ALICE, id=mine["id"], owner="bob")[1])
    assert api.create(ALICE, body="named myself", owner="alice")[0]["owner"] == "alice"
    assert api.update(ALICE, id=mine["id"], body="edited")[0]["body"] == "edited"
    for who in (KEY, GUEST, LAMBDA, ADMIN):
        assert unauthorized(api.get(who, mine["id"])[1])
    assert api.delete(ALICE, mine["id"])[0] == {"id": mine["id"]}
    missing, errors = api.update(ALICE, id=mine["id"], body="gone")
    assert missing is None and errors[0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"


def test_legacy_owner_values_match(engine: Engine) -> None:
    api = Api(engine, "OwnerNote", "id owner")
    by_sub, _ = api.create(TRUSTED, owner="sub-alice")
    by_name, _ = api.create(TRUSTED, owner="alice")
    other, _ = api.create(TRUSTED, owner="mallory")
    assert set(api.list_ids(ALICE) or []) == {by_sub["id"], by_name["id"]}
    assert other["id"] not in (api.list_ids(BOB) or [])
    assert set(api.list_ids(TRUSTED) or []) >= {by_sub["id"], by_name["id"], other["id"]}


def test_lists_never_leak_and_pages_stay_full(engine: Engine) -> None:
    api = Api(engine, "OwnerNote", "id")
    alice_ids = set()
    for i in range(30):
        who = ALICE if i % 3 == 0 else BOB
        note, _ = api.create(who, body=str(i))
        if who is ALICE:
            alice_ids.add(note["id"])
    doc = "query ($limit: Int) { listOwnerNotes(limit: $limit) { items { id owner } nextToken } }"
    page, _ = api._run(doc, {"limit": 4}, ALICE)
    assert len(page["items"]) == 4 and all(i["owner"] == "sub-alice::alice" for i in page["items"])
    assert set(api.list_ids(ALICE, limit=3) or []) == alice_ids
    assert set(api.list_ids(ALICE, {"body": {"beginsWith": "1"}}) or []) <= alice_ids


def test_owner_plus_authenticated_read(engine: Engine) -> None:
    api = Api(engine, "ReadableNote", "id body owner")
    note, _ = api.create(ALICE, body="shared")
    assert api.get(BOB, note["id"])[0]["body"] == "shared"
    assert note["id"] in (api.list_ids(BOB) or [])
    assert unauthorized(api.update(BOB, id=note["id"], body="x")[1])
    assert unauthorized(api.delete(BOB, note["id"])[1])


def test_identity_claim_and_owner_defined_in(engine: Engine) -> None:
    claim = Api(engine, "ClaimNote", "id owner")
    note, _ = claim.create(ALICE, body="by email")
    assert note["owner"] == "alice@example.com"
    assert unauthorized(claim.get(BOB, note["id"])[1])
    author = Api(engine, "AuthorNote", "id author")
    post, _ = author.create(BOB, body="by bob")
    assert post["author"] == "sub-bob::bob"
    assert unauthorized(author.get(ALICE, post["id"])[1])


def test_owners_defined_in_and_static_group(engine: Engine) -> None:
    api = Api(engine, "SharedDoc", "id editors")
    doc, _ = api.create(ALICE, body="d")
    assert doc["editors"] == ["sub-alice::alice"]
    assert unauthorized(api.get(BOB, doc["id"])[1])
    shared, errors = api.update(ALICE, id=doc["id"], editors=["sub-alice::alice", "sub-bob::bob"])
    assert not errors and shared["editors"] == ["sub-alice::alice", "sub-bob::bob"]
    assert api.get(BOB, doc["id"])[0]["id"] == doc["id"]
    # sharing by the bare username (or sub) works too: AppSync matches either part
    other, _ = api.create(ALICE, body="by name")
    shared, errors = api.update(ALICE, id=other["id"], editors=[*other["editors"], "bob"])
    assert not errors and api.get(BOB, other["id"])[0]["id"] == other["id"]
    # bob may not remove everyone but... himself out of alice's reach is fine; handing it away entirely is not
    assert unauthorized(api.update(BOB, id=doc["id"], editors=["sub-mallory::mallory"])[1])
    assert api.get(ADMIN, doc["id"])[0]["id"] == doc["id"]  # Admins see everything
    assert doc["id"] in (api.list_ids(ADMIN) or [])
    assert api.delete(ADMIN, doc["id"])[0] == {"id": doc["id"]}


def test_static_groups_and_claim_formats(engine: Engine) -> None:
    api = Api(engine, "AdminOnly", "id")
    rec, errors = api.create(ADMIN, body="x")
    assert not errors
    assert api.get(JSON_GROUPS, rec["id"])[0] == rec  # groups claim as a JSON string
    assert unauthorized(api.get(ALICE, rec["id"])[1]) and api.list_ids(BOB) is None
    claim = Api(engine, "ClaimGroup", "id")
    assert not claim.create(EDITOR, body="y")[1]  # comma-separated custom claim
    assert unauthorized(claim.create(ADMIN, body="z")[1])


def test_dynamic_group_fields(engine: Engine) -> None:
    api = Api(engine, "TeamPost", "id team")
    ok, errors = api.create(BOB, body="b", team="TeamB")
    assert not errors and ok["team"] == "TeamB"
    assert unauthorized(api.create(BOB, body="b", team="TeamA")[1])
    other, _ = api.create(TRUSTED, body="a", team="TeamA")
    assert set(api.list_ids(BOB) or []) == {ok["id"]}
    assert set(api.list_ids(KEY) or []) == {ok["id"], other["id"]}  # public read
    assert unauthorized(api.create(KEY, body="k", team="TeamB")[1])
    assert unauthorized(api.update(BOB, id=ok["id"], team="TeamA")[1])
    multi = Api(engine, "MultiTeamPost", "id teams")
    rec, errors = multi.create(BOB, body="m", teams=["TeamA", "TeamB"])
    assert not errors
    assert unauthorized(multi.get(ALICE, rec["id"])[1])
    assert multi.get(BOB, rec["id"])[0]["teams"] == ["TeamA", "TeamB"]


def test_guest_and_identity_pool(engine: Engine) -> None:
    api = Api(engine, "GuestBook", "id body")
    entry, errors = api.create(GUEST, body="hello")
    assert not errors
    assert api.get(GUEST, entry["id"])[0] == entry
    assert unauthorized(api.update(GUEST, id=entry["id"], body="x")[1])
    assert unauthorized(api.delete(GUEST, entry["id"])[1])
    assert api.update(IAM_USER, id=entry["id"], body="edited")[0]["body"] == "edited"
    for who in (ALICE, KEY):
        assert unauthorized(api.get(who, entry["id"])[1])


def test_authenticated_custom_and_trusted_iam(engine: Engine) -> None:
    members = Api(engine, "Members", "id")
    rec, _ = members.create(ALICE, body="m")
    assert members.get(BOB, rec["id"])[0] == rec and members.delete(BOB, rec["id"])[0] == rec
    assert unauthorized(members.create(OIDC_USER, body="x")[1])  # authenticated() means the user pool
    custom = Api(engine, "Custom", "id")
    c, errors = custom.create(LAMBDA, body="c")
    assert not errors and custom.get(LAMBDA, c["id"])[0] == c
    assert unauthorized(custom.get(KEY, c["id"])[1])
    for model in ("PublicNote", "OwnerNote", "AdminOnly", "Custom", "GuestBook"):
        api = Api(engine, model, "id")
        r, errors = api.create(TRUSTED, body="t")
        assert not errors and api.get(TRUSTED, r["id"])[0] == r


def test_operation_subsets(engine: Engine) -> None:
    ro = Api(engine, "ReadOnlyKey", "id owner")
    rec, _ = ro.create(ALICE, body="r")
    assert ro.get(KEY, rec["id"])[0]["id"] == rec["id"]
    assert unauthorized(ro.create(KEY, body="k")[1]) and unauthorized(ro.delete(KEY, rec["id"])[1])
    lo = Api(engine, "ListOnly", "id")
    made, _ = lo.create(TRUSTED, body="l")
    assert lo.list_ids(KEY) == [made["id"]]
    assert unauthorized(lo.get(KEY, made["id"])[1])


def test_field_level_rules(engine: Engine) -> None:
    api = Api(engine, "Salary", "id name amount owner")
    rec, errors = api.create(ALICE, name="alice", amount=100)
    assert errors and errors[0]["message"] == "Unauthorized on [amount]"  # only HR sets amounts
    assert engine.execute("query { listSalaries { items { id } } }", None, None, TRUSTED)["data"]["listSalaries"]["items"] == []
    rec, errors = api.create(ALICE, name="alice")
    assert not errors and rec["owner"] == "sub-alice::alice"
    hr, errors = api.update(ADMIN, id=rec["id"], amount=120)
    assert not errors and hr["amount"] == 120
    mine, errors = api.get(ALICE, rec["id"])
    assert not errors and mine["amount"] == 120  # the owner may read it
    data, errors = api.update(ALICE, id=rec["id"], amount=999)
    assert data is None and errors[0]["message"] == "Unauthorized on [amount]"
    data, errors = api.update(ALICE, id=rec["id"], owner="sub-bob::bob")
    assert data is None and errors[0]["errorType"] == "Unauthorized"
    assert api.get(ALICE, rec["id"])[0]["amount"] == 120  # nothing was written
    assert unauthorized(api.get(BOB, rec["id"])[1])


def test_field_read_denial_nulls_the_field_with_an_error(engine: Engine) -> None:
    api = Api(engine, "Profile", "id name ssn")
    mine, errors = api.create(ALICE, name="Alice", ssn="123")
    assert not errors and mine["ssn"] == "123"
    seen, errors = api.get(BOB, mine["id"])
    assert seen == {"id": mine["id"], "name": "Alice", "ssn": None}
    assert errors == [{"path": ["getProfile", "ssn"], "data": None, "errorType": "Unauthorized", "errorInfo": None,
                       "locations": errors[0]["locations"], "message": "Not Authorized to access ssn on type Profile"}]
    doc = "query { listProfiles { items { name ssn } } }"
    body = engine.execute(doc, None, None, BOB)
    assert body["data"]["listProfiles"]["items"] == [{"name": "Alice", "ssn": None}]
    assert body["errors"][0]["path"] == ["listProfiles", "items", 0, "ssn"]
    assert unauthorized(api.update(BOB, id=mine["id"], name="x")[1])


def test_lambda_denied_fields_are_nulled(engine: Engine) -> None:
    api = Api(engine, "Custom", "id body")
    rec, _ = api.create(LAMBDA, body="visible?")
    narrowed = Identity("lambda", resolver_context={}, denied_fields=frozenset({"Custom.body"}))
    assert api.get(narrowed, rec["id"]) == ({"id": rec["id"], "body": None}, [])


def test_hr_reads_fields_owners_cannot_write(engine: Engine) -> None:
    # ReadableNote-like sharing with a field only HR may read: the record is readable, the field is not.
    api = Api(engine, "Salary", "id name amount")
    rec, _ = api.create(ADMIN, name="someone", amount=5, owner="sub-carol::carol")
    carol = Identity("userPool", claims={"sub": "sub-carol", "username": "carol"})
    assert api.get(carol, rec["id"])[0]["amount"] == 5
    dave_hr = Identity("userPool", claims={"sub": "sub-dave", "username": "dave", "cognito:groups": ["HR"]})
    assert api.get(dave_hr, rec["id"])[0]["amount"] == 5
