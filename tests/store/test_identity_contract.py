"""The identity state's contract (``cove.store.identity_state.IdentityStore``): what every backend
must do for the user pool, the identity pool and IAM keys. Runs per backend (SQLite now)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cove.store.identity_state import DuplicateUser, Group, IdentityStore, RefreshToken, User
from cove.store.sqlite.identity import SQLiteIdentityStore

pytestmark = pytest.mark.anyio


def _open(name: str, folder: Path) -> IdentityStore:
    if name == "sqlite":
        return SQLiteIdentityStore(folder / "data.sqlite")
    raise AssertionError(f"no backend {name}")


@pytest.fixture(params=["sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdentityStore]:
    store = _open(request.param, tmp_path)
    yield store
    await store.close()


def user(name: str, *, email: str | None = None, phone: str | None = None, created: float = 1.0,
         **fields: Any) -> User:
    return User(username=name, sub=f"sub-{name}", email=email, phone_number=phone,
                attributes={"email": email or "", "custom:team": "blue"}, password_hash="hash", srp_salt="salt",
                srp_verifier="verifier", status="CONFIRMED", enabled=True, created_at=created, updated_at=created,
                **fields)


# -- users ---------------------------------------------------------------------------------------

async def test_a_user_reads_back_as_created(backend: IdentityStore) -> None:
    ada = user("ada", email="ada@example.com", phone="+15550001111", code="123456", code_purpose="signup",
               code_expires_at=99.5, code_attempts=2)
    await backend.create_user(ada)
    found = await backend.find_user("ada")
    assert found == ada and found is not ada
    assert isinstance(found.enabled, bool) and found.groups == []


async def test_users_are_found_by_username_email_phone_and_sub(backend: IdentityStore) -> None:
    await backend.create_user(user("ada", email="ada@example.com", phone="+15550001111"))
    await backend.create_user(user("bob", email="bob@example.com"))
    for login in ("ada", "ada@example.com", "ADA@Example.com", "+15550001111"):
        found = await backend.find_user(login)
        assert found is not None and found.username == "ada", login
    by_sub = await backend.user_by_sub("sub-bob")
    assert by_sub is not None and by_sub.username == "bob"
    for missing in ("carol", "carol@example.com", "+15559999999", "sub-ada", ""):
        assert await backend.find_user(missing) is None, missing
    assert await backend.user_by_sub("ada") is None


async def test_a_username_sub_email_or_phone_cannot_be_taken_twice(backend: IdentityStore) -> None:
    await backend.create_user(user("ada", email="ada@example.com", phone="+15550001111"))
    clashes = [user("ada"), user("other", email="ada@example.com"), user("other2", phone="+15550001111")]
    same_sub = user("other3")
    same_sub.sub = "sub-ada"
    for clash in [*clashes, same_sub]:
        with pytest.raises(DuplicateUser):
            await backend.create_user(clash)
    assert [u.username for u in await backend.list_users()] == ["ada"]
    # users without an email or a phone number do not clash on them
    await backend.create_user(user("x"))
    await backend.create_user(user("y"))


async def test_update_sets_fields_and_keeps_logins_unique(backend: IdentityStore) -> None:
    await backend.create_user(user("ada", email="ada@example.com"))
    await backend.create_user(user("bob", email="bob@example.com"))
    before = time.time()
    await backend.update_user("ada", attributes={"email": "ada@example.com", "name": "Ada"}, enabled=False,
                              status="RESET_REQUIRED", code=None, password_hash="new")
    ada = await backend.find_user("ada")
    assert ada is not None
    assert ada.attributes == {"email": "ada@example.com", "name": "Ada"}
    assert (ada.enabled, ada.status, ada.code, ada.password_hash) == (False, "RESET_REQUIRED", None, "new")
    assert ada.updated_at >= before and ada.created_at == 1.0
    with pytest.raises(DuplicateUser):
        await backend.update_user("ada", email="bob@example.com")
    await backend.update_user("ada", email="ada2@example.com", phone_number="+15550002222")
    assert (await backend.find_user("ada2@example.com")) is not None
    assert (await backend.find_user("+15550002222")) is not None
    await backend.update_user("nobody", status="CONFIRMED")  # no such user: nothing happens


async def test_wrong_tries_of_a_code_drop_it_at_the_limit(backend: IdentityStore) -> None:
    await backend.create_user(user("ada", code="123456", code_purpose="reset"))
    assert await backend.code_failed("ada", "123456", 3) is False
    assert await backend.code_failed("ada", "123456", 3) is False
    ada = await backend.find_user("ada")
    assert ada is not None and (ada.code, ada.code_attempts) == ("123456", 2)
    assert await backend.code_failed("ada", "999999", 3) is False  # not the stored code: not counted
    assert await backend.code_failed("ada", "123456", 3) is True
    ada = await backend.find_user("ada")
    assert ada is not None and ada.code is None


async def test_deleting_a_user_drops_their_groups_and_revokes_their_tokens(backend: IdentityStore) -> None:
    await backend.create_user(user("ada", email="ada@example.com"))
    await backend.ensure_group("Admins", 0)
    await backend.add_to_group("ada", "Admins")
    await backend.save_refresh_token("h1", RefreshToken("ada", "client", "origin-1", 10, time.time() + 60, False))
    assert await backend.delete_user("ada") is True
    assert await backend.find_user("ada") is None and await backend.find_user("ada@example.com") is None
    assert await backend.groups_of("ada") == []
    token = await backend.find_refresh_token("h1")
    assert token is not None and token.revoked
    assert await backend.delete_user("ada") is False
    await backend.create_user(user("ada", email="ada@example.com"))  # the address is free again
    assert await backend.groups_of("ada") == []


async def test_users_are_listed_oldest_first_with_their_groups(backend: IdentityStore) -> None:
    await backend.create_user(user("late", created=3.0))
    await backend.create_user(user("early", created=1.0))
    await backend.create_user(user("middle", created=2.0))
    await backend.ensure_group("Staff", 1)
    await backend.add_to_group("middle", "Staff")
    listed = await backend.list_users()
    assert [u.username for u in listed] == ["early", "middle", "late"]
    assert [u.groups for u in listed] == [[], ["Staff"], []]


# -- groups --------------------------------------------------------------------------------------

async def test_groups_are_listed_by_precedence_then_name(backend: IdentityStore) -> None:
    await backend.ensure_group("b-none")
    await backend.ensure_group("Staff", 1, "the staff")
    await backend.ensure_group("a-none")
    await backend.ensure_group("Admins", 0)
    assert await backend.list_groups() == [Group("Admins", 0, None), Group("Staff", 1, "the staff"),
                                           Group("a-none", None, None), Group("b-none", None, None)]
    await backend.ensure_group("Staff", 5)  # again: only the precedence changes
    await backend.ensure_group("Admins", 7)
    assert await backend.list_groups() == [Group("Staff", 5, "the staff"), Group("Admins", 7, None),
                                           Group("a-none", None, None), Group("b-none", None, None)]


async def test_memberships_follow_group_precedence(backend: IdentityStore) -> None:
    await backend.create_user(user("ada"))
    for name, precedence in (("Low", 2), ("High", 0), ("Mid", 1)):
        await backend.ensure_group(name, precedence)
    for name in ("Low", "High", "Mid", "High"):  # a second add is a no-op
        await backend.add_to_group("ada", name)
    assert await backend.groups_of("ada") == ["High", "Mid", "Low"]
    ada = await backend.find_user("ada")
    assert ada is not None and ada.groups == ["High", "Mid", "Low"]
    assert await backend.remove_from_group("ada", "Mid") is True
    assert await backend.remove_from_group("ada", "Mid") is False
    assert await backend.groups_of("ada") == ["High", "Low"]
    assert await backend.groups_of("nobody") == []


# -- refresh tokens ------------------------------------------------------------------------------

async def test_refresh_tokens_save_find_and_revoke(backend: IdentityStore) -> None:
    expires = time.time() + 3600
    await backend.save_refresh_token("h1", RefreshToken("ada", "client", "origin-1", 1700000000, expires, False))
    await backend.save_refresh_token("h2", RefreshToken("ada", "client", "origin-2", 1700000001, expires, False))
    await backend.save_refresh_token("h3", RefreshToken("bob", "client", "origin-3", 1700000002, expires, False))
    assert await backend.find_refresh_token("h1") == RefreshToken("ada", "client", "origin-1", 1700000000,
                                                                  expires, False)
    assert await backend.find_refresh_token("nope") is None
    assert await backend.revoked_origins("ada") == set()
    assert await backend.revoke_refresh_token("h1") is True
    assert await backend.revoke_refresh_token("nope") is False
    found = await backend.find_refresh_token("h1")
    assert found is not None and found.revoked is True
    assert await backend.revoked_origins("ada") == {"origin-1"}
    assert await backend.revoke_user_tokens("ada") == 1  # only h2 was still live
    assert await backend.revoke_user_tokens("ada") == 0
    assert await backend.revoked_origins("ada") == {"origin-1", "origin-2"}
    bob = await backend.find_refresh_token("h3")
    assert bob is not None and not bob.revoked


# -- identity pool -------------------------------------------------------------------------------

async def test_a_login_keeps_one_identity(backend: IdentityStore) -> None:
    first = await backend.identity_for_login("issuer:sub-ada", "eu:1")
    again = await backend.identity_for_login("issuer:sub-ada", "eu:2")
    assert first == again == "eu:1"
    assert await backend.identity_login("eu:1") == "issuer:sub-ada"
    assert await backend.identity_exists("eu:1") and not await backend.identity_exists("eu:2")


async def test_guests_get_a_new_identity_each_time_and_keep_it_when_they_sign_in(backend: IdentityStore) -> None:
    assert await backend.identity_for_login(None, "eu:g1") == "eu:g1"
    assert await backend.identity_for_login(None, "eu:g2") == "eu:g2"
    assert await backend.identity_login("eu:g1") is None
    assert await backend.link_identity("eu:g1", "issuer:sub-ada") is True
    assert await backend.identity_login("eu:g1") == "issuer:sub-ada"
    assert await backend.link_identity("eu:g1", "issuer:sub-bob") is False  # it has a login now
    assert await backend.link_identity("eu:g2", "issuer:sub-ada") is False  # that login has an identity
    assert await backend.identity_login("eu:g2") is None
    assert await backend.identity_for_login("issuer:sub-ada", "eu:new") == "eu:g1"
    assert await backend.link_identity("eu:missing", "issuer:sub-carol") is False
    assert await backend.identity_login("eu:missing") is None


# -- IAM keys ------------------------------------------------------------------------------------

async def test_iam_keys_create_find_list_and_revoke(backend: IdentityStore) -> None:
    first = await backend.create_iam_key("deploy")
    second = await backend.create_iam_key()
    assert first.access_key_id.startswith("AKIA") and len(first.access_key_id) == 20
    assert len(first.secret_access_key) == 40 and first.access_key_id != second.access_key_id
    assert (first.description, first.revoked, second.description) == ("deploy", False, None)
    assert await backend.find_iam_key(first.access_key_id) == first
    assert await backend.find_iam_key("AKIANOSUCHKEY0000000") is None
    assert [k.access_key_id for k in await backend.iam_keys()] == [first.access_key_id, second.access_key_id]
    assert await backend.revoke_iam_key(first.access_key_id) is True
    assert await backend.revoke_iam_key("AKIANOSUCHKEY0000000") is False
    revoked = await backend.find_iam_key(first.access_key_id)
    assert revoked is not None and revoked.revoked
    assert [k.revoked for k in await backend.iam_keys()] == [True, False]


# -- meta ----------------------------------------------------------------------------------------

async def test_meta_is_created_once_and_set_overwrites(backend: IdentityStore) -> None:
    made: list[str] = []

    def create() -> str:
        made.append("x")
        return f"value-{len(made)}"

    assert await backend.meta("pool", create) == "value-1"
    assert await backend.meta("pool", create) == "value-1" and made == ["x"]
    await backend.set_meta("pool", "changed")
    await backend.set_meta("fresh", "set")
    assert await backend.meta("pool", create) == "changed"
    assert await backend.meta("fresh", create) == "set" and made == ["x"]


async def test_concurrent_first_reads_of_meta_agree(backend: IdentityStore, tmp_path: Path) -> None:
    other = _open("sqlite", tmp_path) if isinstance(backend, SQLiteIdentityStore) else backend
    counter = iter(range(100))
    values = await asyncio.gather(*(store.meta("secret", lambda: f"v{next(counter)}")
                                    for store in (backend, other, backend, other)))
    assert len(set(values)) == 1
    if other is not backend:
        await other.close()


# -- SQLite: the data directory of older versions, and writes off the event loop ------------------

def test_sqlite_opens_a_data_directory_from_before_code_attempts(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE _cove_users (username TEXT PRIMARY KEY, sub TEXT NOT NULL UNIQUE, email TEXT, "
                   "phone_number TEXT, attributes TEXT NOT NULL, password_hash TEXT, srp_salt TEXT, "
                   "srp_verifier TEXT, status TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, "
                   "created_at REAL NOT NULL, updated_at REAL NOT NULL, code TEXT, code_purpose TEXT, "
                   "code_expires_at REAL)")
        db.execute("INSERT INTO _cove_users VALUES ('ada', 's', 'ada@example.com', NULL, '{\"a\":\"1\"}', 'h', "
                   "NULL, NULL, 'CONFIRMED', 1, 1.0, 1.0, NULL, NULL, NULL)")
    store = SQLiteIdentityStore(path)

    async def read() -> User | None:
        try:
            return await store.find_user("ada@example.com")
        finally:
            await store.close()

    ada = asyncio.run(read())
    assert ada is not None and (ada.attributes, ada.code_attempts, ada.enabled) == ({"a": "1"}, 0, True)


async def test_sqlite_a_write_waiting_for_a_lock_does_not_hold_the_event_loop(tmp_path: Path) -> None:
    store = SQLiteIdentityStore(tmp_path / "data.sqlite")
    blocker = sqlite3.connect(tmp_path / "data.sqlite", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process writing: the store's write must wait for it
        write = asyncio.ensure_future(store.set_meta("k", "v"))
        started = time.perf_counter()
        await asyncio.sleep(0.2)
        assert time.perf_counter() - started < 0.5 and not write.done()  # the loop ran on meanwhile
        assert await store.find_iam_key("AKIA") is None  # and reads go on (WAL)
        blocker.execute("COMMIT")
        await write
        assert await store.meta("k", lambda: "unused") == "v"
    finally:
        blocker.close()
        await store.close()
