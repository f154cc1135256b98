"""Authorization on subscriptions, with real user-pool tokens from the sandbox's own user pool.

Every event is filtered per subscriber by its authorization: user A never receives user B's
owner-protected records, static and dynamic group rules hold, field-level rules null what a
subscriber may not read, several auth modes share one socket, and expired credentials end a
subscription with an error.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authkit import User, claims, short_lived_token
from conftest import Sandbox, start_sandbox
from realtime_support import Raw, api_key_auth, on_create, token_auth
from paths import TESTS

pytestmark = pytest.mark.both_backends

SCHEMA = TESTS / "schemas" / "realtime_schema.py"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("rt-auth"), SCHEMA, "--no-watch", backend=backend)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def alice(box: Sandbox) -> User:
    return User(box, "alice", ("Red",))


@pytest.fixture(scope="module")
def bob(box: Sandbox) -> User:
    return User(box, "bob", ("Blue",))


@pytest.fixture(scope="module")
def admin(box: Sandbox) -> User:
    return User(box, "admin", ("Admins",))


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


def bodies(conn: Raw, field: str, count: int) -> list[str]:
    return sorted(conn.expect("data")["payload"]["data"][field]["body"] for _ in range(count))


def test_owners_only_receive_their_own_records(alice: User, bob: User) -> None:
    a, b = alice.socket(), bob.socket()
    a.subscribe("a", on_create("id body owner", "Note"), auth=alice.auth())
    b.subscribe("b", on_create("id body owner", "Note"), auth=bob.auth())
    t = tag()
    alice.create("Note", body=t + " alice")
    bob.create("Note", body=t + " bob")
    got_a = a.expect("data")["payload"]["data"]["onCreateNote"]
    got_b = b.expect("data")["payload"]["data"]["onCreateNote"]
    assert got_a["body"] == t + " alice" and got_b["body"] == t + " bob"
    # the owner is read back as stored (sub::username), as over HTTP and as AppSync does
    assert got_a["owner"] == f"{alice.sub}::{alice.username}" and got_b["owner"] == f"{bob.sub}::{bob.username}"
    a.nothing(0.5)
    b.nothing(0.2)
    a.close()
    b.close()


def test_an_api_key_cannot_listen_to_owner_records(box: Sandbox) -> None:
    conn = Raw(box)
    conn.init()
    conn.start("k", on_create("id body", "Note"))
    frame = conn.expect("error")
    assert frame["payload"]["errors"][0]["errorType"] == "Unauthorized"
    conn.close()


def test_static_group_sees_everything_owners_see_theirs(alice: User, bob: User, admin: User) -> None:
    adm, b = admin.socket(), bob.socket()
    adm.subscribe("all", on_create("id body owner", "Memo"), auth=admin.auth())
    b.subscribe("mine", on_create("id body owner", "Memo"), auth=bob.auth())
    t = tag()
    alice.create("Memo", body=t + " a")
    bob.create("Memo", body=t + " b")
    assert bodies(adm, "onCreateMemo", 2) == [t + " a", t + " b"]
    assert bodies(b, "onCreateMemo", 1) == [t + " b"]
    b.nothing(0.5)
    adm.close()
    b.close()


def test_the_owner_argument_narrows_to_one_owner(alice: User, bob: User, admin: User) -> None:
    adm = admin.socket()
    adm.subscribe("o", "subscription ($owner: String) { onCreateMemo(owner: $owner) { id body } }",
                  {"owner": alice.username}, auth=admin.auth())
    t = tag()
    bob.create("Memo", body=t + " b")
    alice.create("Memo", body=t + " a")
    assert bodies(adm, "onCreateMemo", 1) == [t + " a"]
    adm.nothing(0.4)
    adm.close()


def test_dynamic_groups(alice: User, bob: User) -> None:
    red, blue = alice.socket(), bob.socket()  # alice is in Red, bob in Blue
    red.subscribe("r", on_create("id body team", "Board"), auth=alice.auth())
    blue.subscribe("b", on_create("id body team", "Board"), auth=bob.auth())
    t = tag()
    alice.create("Board", "id body team", body=t + " red", team="Red")
    alice.create("Board", "id body team", body=t + " blue", team="Blue")
    alice.create("Board", "id body team", body=t + " green", team="Green")
    assert bodies(red, "onCreateBoard", 1) == [t + " red"]
    assert bodies(blue, "onCreateBoard", 1) == [t + " blue"]
    red.nothing(0.4)
    blue.nothing(0.2)
    red.close()
    blue.close()


def test_field_level_rules_null_what_a_subscriber_may_not_read(alice: User, bob: User) -> None:
    a, b = alice.socket(), bob.socket()
    a.subscribe("a", on_create("id name ssn", "Profile"), auth=alice.auth())
    b.subscribe("b", on_create("id name ssn", "Profile"), auth=bob.auth())
    t = tag()
    alice.create("Profile", "id name ssn", name=t, ssn="123-45-6789")
    mine = a.expect("data")["payload"]
    theirs = b.expect("data")["payload"]
    assert mine["data"]["onCreateProfile"]["ssn"] == "123-45-6789" and "errors" not in mine
    assert theirs["data"]["onCreateProfile"]["name"] == t
    assert theirs["data"]["onCreateProfile"]["ssn"] is None
    assert theirs["errors"][0]["errorType"] == "Unauthorized"
    assert theirs["errors"][0]["path"] == ["onCreateProfile", "ssn"]
    a.close()
    b.close()


def test_several_auth_modes_on_one_socket(box: Sandbox, alice: User, bob: User) -> None:
    conn = Raw(box)  # the connection is authorized with the API key
    conn.init()
    t = tag()
    conn.subscribe("todos", on_create("id content"), {"filter": {"content": {"eq": t}}})  # API key
    conn.subscribe("notes", on_create("id body", "Note"), auth=alice.auth())              # alice's token
    bob.create("Note", body=t + " bob")
    alice.create("Note", body=t + " alice")
    httpx.post(box.url, headers={"x-api-key": box.api_key}, timeout=30, json={
        "query": "mutation ($i: CreateTodoInput!) { createTodo(input: $i) { id } }", "variables": {"i": {"content": t}}})
    frames = [conn.expect("data"), conn.expect("data")]
    by_id = {f["id"]: f["payload"]["data"] for f in frames}
    assert by_id["notes"]["onCreateNote"]["body"] == t + " alice"
    assert "onCreateTodo" in by_id["todos"]
    conn.nothing(0.4)
    conn.close()


def test_a_bad_token_in_a_start_is_refused(box: Sandbox, alice: User) -> None:
    conn = alice.socket()
    conn.start("bad", on_create("id body", "Note"), auth=token_auth(box, alice.token[:-4] + "AAAA"))
    frame = conn.expect("error")
    assert frame["id"] == "bad" and frame["payload"]["errors"][0]["errorType"] == "UnauthorizedException"
    conn.close()


def test_a_user_pool_connection_with_a_bad_token_gets_connection_error(box: Sandbox) -> None:
    conn = Raw(box, token_auth(box, "not.a.jwt"))
    conn.send({"type": "connection_init"})
    _, frames = conn.closed()
    assert frames[0]["type"] == "connection_error"
    assert frames[0]["payload"]["errors"][0]["errorCode"] == 401


def test_a_subscription_whose_token_expires_is_ended(box: Sandbox, alice: User) -> None:
    # A real access token from the sandbox's own signing keys, valid for 3 seconds.
    c = claims(alice.token)
    short = short_lived_token(box, validity=3, sub=c["sub"], username=c["username"], groups=["Red"],
                              origin_jti=c.get("origin_jti", str(uuid.uuid4())))
    conn = Raw(box, api_key_auth(box))
    conn.init()
    conn.subscribe("short", on_create("id body", "Note"), auth=token_auth(box, short))
    t = tag()
    alice.create("Note", body=t)
    assert conn.expect("data")["id"] == "short"
    frame = conn.expect("error", timeout=10)
    assert frame == {"id": "short", "type": "error", "payload": {"errors": [
        {"errorType": "UnauthorizedException", "message": "Token has expired."}]}}
    alice.create("Note", body=t)
    conn.nothing(0.5)
    conn.close()


def test_iam_signed_connection_and_starts(box: Sandbox) -> None:
    """SigV4: the connection signed over POST /graphql/connect with body {}, each start over POST /graphql
    with the start's data (Cove's client signs both as aws-amplify does; the server verifies both)."""
    import cove
    from cove.client import AwsCredentials, IamAuth

    out = subprocess.run([sys.executable, "-m", "cove", "iam", *box.data_args(), "create"],
                         capture_output=True, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in out.split())
    creds = AwsCredentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    client = cove.generate_client(config=box.outputs_path, auth_mode="iam", auth_providers={"iam": IamAuth(creds)})
    t = tag()
    with client.models.Note.on_create(headers={"x-extra": "signed too"}) as sub:
        client.models.Note.create({"body": t})
        assert sub.receive(timeout=10).body == t
    # a wrong secret fails the connection with a connection_error the client reports
    bad = cove.generate_client(config=box.outputs_path, auth_mode="iam",
                               auth_providers={"iam": IamAuth(AwsCredentials(creds.access_key_id, "wrong"))})
    with pytest.raises(cove.client.SubscriptionError, match="UnauthorizedException"):
        bad.models.Note.on_create()
    client.close()
    bad.close()
