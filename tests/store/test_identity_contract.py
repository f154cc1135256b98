"""The identity state's contract (``cove.store.identity_state.IdentityStore``): what every backend
must do for the user pool, the identity pool, IAM keys, signing keys and console admins. Runs on
SQLite and on PostgreSQL (the test server, a fresh schema per test)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from identity_stores import BACKENDS, open_identity_store, second_store

from cove.store.identity_state import (
    ConsoleAdmin,
    DuplicateUser,
    Group,
    IdentityStore,
    RefreshToken,
    StoredSigningKey,
    User,
)
from cove.store.postgres.identity import PostgresIdentityStore
from cove.store.sqlite.identity import SQLiteIdentityStore

pytestmark = pytest.mark.anyio


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdentityStore]:
    async with open_identity_store(request.param, tmp_path) as store:
        yield store


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


async def test_a_code_is_taken_once_and_only_while_it_is_valid(backend: IdentityStore) -> None:
    await backend.create_user(user("ada", code="123456", code_purpose="reset", code_expires_at=2000.0))
    assert await backend.take_code("ada", "654321", "reset", 1000.0) is False    # not the code
    assert await backend.take_code("ada", "123456", "signup", 1000.0) is False   # another purpose
    assert await backend.take_code("ada", "123456", "reset", 2000.5) is False    # expired
    assert await backend.take_code("ada", "123456", "reset", 1000.0) is True
    assert await backend.take_code("ada", "123456", "reset", 1000.0) is False    # used up
    ada = await backend.find_user("ada")
    assert ada is not None and ada.code is None


async def test_a_right_code_read_before_wrong_tries_dropped_it_cannot_be_taken(backend: IdentityStore) -> None:
    # What a burst of concurrent guesses does: one request has read the user (and the code) when the
    # others' wrong tries drop it; its right code must then find nothing to take.
    await backend.create_user(user("ada", code="123456", code_purpose="reset", code_expires_at=2000.0))
    read_early = await backend.find_user("ada")
    assert read_early is not None and read_early.code == "123456"
    dropped = [await backend.code_failed("ada", "123456", 5) for _ in range(5)]
    assert dropped == [False] * 4 + [True]
    assert await backend.take_code("ada", read_early.code, "reset", 1000.0) is False


async def test_concurrent_takes_of_a_code_succeed_once(backend: IdentityStore, tmp_path: Path) -> None:
    await backend.create_user(user("ada", code="123456", code_purpose="signup", code_expires_at=2000.0))
    async with second_store(backend, tmp_path) as other:
        taken = await asyncio.gather(*(store.take_code("ada", "123456", "signup", 1000.0)
                                       for store in [backend, other] * 3))
    assert taken.count(True) == 1


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
    async with second_store(backend, tmp_path) as other:
        counter = iter(range(100))
        values = await asyncio.gather(*(store.meta("secret", lambda: f"v{next(counter)}")
                                        for store in (backend, other, backend, other)))
    assert len(set(values)) == 1


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


# -- races between processes: the database decides --------------------------------------------------

async def test_concurrent_sign_ups_of_one_username_on_two_connections_one_wins(backend: IdentityStore,
                                                                             tmp_path: Path) -> None:
    async with second_store(backend, tmp_path) as other:
        for round_ in range(5):
            name = f"racer{round_}"
            twin = user(name, email=f"{name}-2@example.com")
            twin.sub = f"other-sub-{round_}"
            results = await asyncio.gather(backend.create_user(user(name, email=f"{name}@example.com")),
                                           other.create_user(twin), return_exceptions=True)
            assert sorted(type(r).__name__ for r in results) == ["DuplicateUser", "NoneType"], results
            # ...and the same email under two names
            results = await asyncio.gather(backend.create_user(user(f"{name}a", email=f"same{round_}@example.com")),
                                           other.create_user(user(f"{name}b", email=f"same{round_}@example.com")),
                                           return_exceptions=True)
            assert sorted(type(r).__name__ for r in results) == ["DuplicateUser", "NoneType"], results
        assert len(await other.list_users()) == 10


async def test_concurrent_wrong_codes_are_all_counted(backend: IdentityStore, tmp_path: Path) -> None:
    await backend.create_user(user("ada", code="123456", code_purpose="signup"))
    async with second_store(backend, tmp_path) as other:
        dropped = await asyncio.gather(*(store.code_failed("ada", "123456", 6) for store in [backend, other] * 3))
    assert dropped.count(True) == 1   # exactly the sixth try, whichever it was, dropped the code
    ada = await backend.find_user("ada")
    assert ada is not None and (ada.code, ada.code_attempts) == (None, 6)


# -- hostile values ------------------------------------------------------------------------------

async def test_wrong_passwords_lock_a_login_with_doubling_locks(backend: IdentityStore) -> None:
    assert await backend.login_lock("ada") is None
    for n in range(1, 5):   # the first four are free: counted, no lock
        await backend.login_failed("ada", 5, 900, 1000.0 + n)
        assert await backend.login_lock("ada") == 0
    locks = []
    for n in range(5, 17):
        await backend.login_failed("ada", 5, 900, 2000.0)
        locks.append(await backend.login_lock("ada"))
    assert locks == [2000.0 + s for s in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900)]
    for _ in range(100):   # no overflow however many
        await backend.login_failed("ada", 5, 900, 3000.0)
    assert await backend.login_lock("ada") == 3900.0
    assert await backend.login_lock("bob") is None   # logins apart
    assert await backend.forget_login_failures("ada") == 1
    assert await backend.login_lock("ada") is None


async def test_old_wrong_passwords_are_forgotten(backend: IdentityStore) -> None:
    await backend.login_failed("old", 5, 900, 100.0)
    await backend.login_failed("new", 5, 900, 200.0)
    assert await backend.prune_counts(failures_before=150.0, attempts_before=0.0) == 1
    assert await backend.login_lock("old") is None and await backend.login_lock("new") == 0


async def test_concurrent_wrong_passwords_are_all_counted(backend: IdentityStore, tmp_path: Path) -> None:
    """Wrong passwords sent to two processes at once (two stores on one database) all count."""
    async with second_store(backend, tmp_path) as other:
        await asyncio.gather(*(store.login_failed("ada", 5, 10**6, 50.0)
                               for _ in range(10) for store in (backend, other)))
    assert await backend.login_lock("ada") == 50.0 + 2 ** 15   # the 20th: 2 ** (20 - 5) s


async def test_attempts_count_within_a_window_and_start_again_after_it(backend: IdentityStore) -> None:
    assert [await backend.count_attempt("code:ada", 100.0 + i, 3600) for i in range(4)] == [1, 2, 3, 4]
    assert await backend.count_attempt("code:bob", 200.0, 3600) == 1            # keys apart
    assert await backend.count_attempt("code:ada", 3699.0, 3600) == 5           # still the first window
    assert await backend.count_attempt("code:ada", 3700.0, 3600) == 1           # an hour after its start
    assert await backend.count_attempt("code:ada", 3701.0, 3600) == 2
    assert await backend.prune_counts(failures_before=0.0, attempts_before=3000.0) == 1   # bob's window only
    assert await backend.count_attempt("code:bob", 3702.0, 3600) == 1


async def test_concurrent_attempts_are_all_counted(backend: IdentityStore, tmp_path: Path) -> None:
    async with second_store(backend, tmp_path) as other:
        counts = await asyncio.gather(*(store.count_attempt("code:ada", 10.0, 3600)
                                        for _ in range(10) for store in (backend, other)))
    assert sorted(counts) == list(range(1, 21))   # each attempt saw its own count: none lost, none twice


async def test_nul_characters_find_nothing_and_lookalike_keys_stay_apart(backend: IdentityStore) -> None:
    await backend.create_user(user("ada", email="ada@example.com"))
    for login in ("ada\x00", "\x00", "ada@example.com\x00x"):
        assert await backend.find_user(login) is None
        assert await backend.user_by_sub(login) is None
        assert await backend.find_refresh_token(login) is None
        assert await backend.find_iam_key(login) is None
        assert await backend.identity_login(login) is None
        assert await backend.console_admin(login) is None
        assert await backend.delete_user(login) is False
    # SQL-looking and case-differing keys are plain values
    for name in ("ada' OR '1'='1", "ADA", "ada%", "ada_"):
        assert await backend.find_user(name) is None
    await backend.create_user(user("ADA"))
    ada = await backend.find_user("ada")
    assert ada is not None and ada.username == "ada"
    # an attribute value may hold anything, NUL included
    await backend.update_user("ada", attributes={"name": "A\x00da \u2603", "custom:x": "'; DROP TABLE x; --"})
    ada = await backend.find_user("ada")
    assert ada is not None and ada.attributes == {"name": "A\x00da \u2603", "custom:x": "'; DROP TABLE x; --"}


async def test_a_username_with_a_nul_is_refused_or_kept_exactly(backend: IdentityStore) -> None:
    # PostgreSQL text cannot hold NUL: refused with a clear error; SQLite keeps it as given.
    try:
        await backend.create_user(user("bad\x00name"))
    except ValueError as exc:
        assert "NUL" in str(exc)
        assert await backend.list_users() == []
    else:
        found = await backend.list_users()
        assert [u.username for u in found] == ["bad\x00name"]


# -- signing keys ----------------------------------------------------------------------------------

def signing(kid: str, created: float, retired: float | None = None) -> StoredSigningKey:
    return StoredSigningKey(kid, f"-----BEGIN PRIVATE KEY-----\n{kid}\n-----END PRIVATE KEY-----\n", created, retired)


async def test_signing_keys_are_added_once_and_listed_oldest_first(backend: IdentityStore) -> None:
    assert await backend.signing_keys() == []
    assert await backend.add_signing_key(signing("b", 2.0)) is True
    assert await backend.add_signing_key(signing("a", 1.0, retired=1.5)) is True
    assert await backend.add_signing_key(signing("c", 2.0)) is True
    assert await backend.add_signing_key(signing("b", 9.0, retired=9.0)) is False  # the kid is taken: unchanged
    assert await backend.signing_keys() == [signing("a", 1.0, 1.5), signing("b", 2.0), signing("c", 2.0)]


async def test_a_rotation_retires_every_other_signing_key_at_once(backend: IdentityStore) -> None:
    await backend.add_signing_key(signing("old", 1.0, retired=1.5))
    await backend.add_signing_key(signing("a", 2.0))
    await backend.add_signing_key(signing("b", 3.0))
    assert await backend.add_signing_key(signing("new", 10.0), retire_others=True) is True
    assert await backend.signing_keys() == [signing("old", 1.0, 1.5), signing("a", 2.0, 10.0),
                                            signing("b", 3.0, 10.0), signing("new", 10.0)]


async def test_processes_starting_at_once_store_one_first_signing_key(backend: IdentityStore, tmp_path: Path) -> None:
    async with second_store(backend, tmp_path) as other:
        added = await asyncio.gather(*(store.add_first_signing_key(signing(f"k{i}", float(i)))
                                       for i, store in enumerate([backend, other] * 4)))
        assert added.count(True) == 1
        assert len(await other.signing_keys()) == 1
    # once every key is retired, a new first key may come
    await backend.add_signing_key(signing("z", 50.0), retire_others=True)
    assert await backend.add_first_signing_key(signing("y", 60.0)) is False
    assert [k.kid for k in await backend.signing_keys() if k.retired_at is None] == ["z"]


# -- console administrators ----------------------------------------------------------------------------

async def test_console_admins_are_set_listed_and_deleted(backend: IdentityStore) -> None:
    assert await backend.console_admins() == [] and await backend.console_admin("root") is None
    await backend.set_console_admin("root", "hash-1", 5.0)
    await backend.set_console_admin("alice", "hash-2", 6.0)
    await backend.set_console_admin("root", "hash-3", 99.0)   # a new password; created_at kept
    assert await backend.console_admins() == [ConsoleAdmin("alice", "hash-2", 6.0), ConsoleAdmin("root", "hash-3", 5.0)]
    assert await backend.console_admin("root") == ConsoleAdmin("root", "hash-3", 5.0)
    assert await backend.console_admin("ROOT") is None
    assert await backend.delete_console_admin("root") is True
    assert await backend.delete_console_admin("root") is False
    assert [a.username for a in await backend.console_admins()] == ["alice"]


# -- PostgreSQL: a database that cannot be reached ------------------------------------------------------

async def test_postgres_unreachable_is_database_unavailable_naming_the_host_not_the_password() -> None:
    import asyncpg

    from cove.store.base import DatabaseUnavailable
    from cove.store.postgres.identity import PostgresIdentityStore

    async def dead_pool() -> asyncpg.Pool:   # nothing listens on port 1
        return await asyncpg.create_pool("postgresql://cove:s3cret-pw@127.0.0.1:1/test", min_size=1, max_size=1,
                                         timeout=2)

    store = PostgresIdentityStore(dead_pool, where="127.0.0.1:1")
    for call in (store.find_user("ada"), store.meta("k", lambda: "v"), store.signing_keys(),
                 store.create_user(user("ada"))):
        with pytest.raises(DatabaseUnavailable) as caught:
            await call
        assert "127.0.0.1:1" in str(caught.value) and "s3cret" not in str(caught.value)


async def test_postgres_a_killed_connection_never_surfaces_as_a_driver_error(tmp_path: Path) -> None:
    import asyncpg
    from pg_support import SERVER_URL

    from cove.store.base import DatabaseUnavailable

    async with open_identity_store("postgres", tmp_path) as store:
        assert isinstance(store, PostgresIdentityStore)
        await store.create_user(user("ada"))
        killer = await asyncpg.connect(SERVER_URL)
        try:
            for _ in range(5):   # the server ends the pooled connection; the next calls find out
                async with store._connection() as conn:
                    pid = conn.get_server_pid()
                await killer.execute("SELECT pg_terminate_backend($1)", pid)
                outcomes: list[object] = []
                for _ in range(3):
                    try:
                        found = await store.find_user("ada")
                        outcomes.append(found is not None and found.username == "ada")
                    except DatabaseUnavailable as exc:
                        assert "127.0.0.1:5432" in str(exc)
                        outcomes.append("unavailable")
                # at most the first call fails (that connection is dropped, never reused), then it recovers
                assert outcomes[1:] == [True, True] and outcomes[0] in (True, "unavailable"), outcomes
        finally:
            await killer.close()
