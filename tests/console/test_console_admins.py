"""Console administrators in the database, on SQLite and PostgreSQL: two processes of one database
accept the same admins and the same session cookies, a changed password or a deleted admin ends the
sessions everywhere, and the admins of an older data directory (their own tables) carry over."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from identity_stores import BACKENDS, open_identity_store, second_store

from cove.console.access import AdminStore, Sessions
from cove.identity.passwords import hash_password
from cove.store.identity_state import IdentityStore
from cove.store.sqlite.identity import SQLiteIdentityStore

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdentityStore]:
    async with open_identity_store(request.param, tmp_path) as opened:
        yield opened


async def test_a_session_from_one_process_is_accepted_by_another(store: IdentityStore, tmp_path: Path) -> None:
    here = AdminStore(store)
    await here.set_admin("ops", PASSWORD)
    assert await here.check("ops", PASSWORD) and not await here.check("ops", PASSWORD + "!")
    assert not await here.check("nobody", PASSWORD)
    cookie = await Sessions(here).issue("ops")
    async with second_store(store, tmp_path) as other:
        there = AdminStore(other)
        assert [a.username for a in await there.admins()] == ["ops"]
        assert await Sessions(there).verify(cookie) == "ops"
        # a new password set on the other process ends the session here at once
        await there.set_admin("ops", PASSWORD + " two")
        assert await Sessions(here).verify(cookie) is None
        fresh = await Sessions(there).issue("ops")
        assert await Sessions(here).verify(fresh) == "ops"
        assert await there.delete_admin("ops") is True and await there.delete_admin("ops") is False
        assert await Sessions(here).verify(fresh) is None


async def test_forged_and_malformed_cookies_are_refused(store: IdentityStore) -> None:
    admins = AdminStore(store)
    await admins.set_admin("ops", PASSWORD)
    sessions = Sessions(admins)
    good = await sessions.issue("ops")
    name, expires, mac = good.split(".")
    for cookie in (None, "", "ops", f"{name}.{expires}", f"{name}.{expires}.{'0' * 64}",
                   f"other.{expires}.{mac}", f"{name}.{int(expires) + 1}.{mac}", f"{name}.{'9' * 400}.{mac}",
                   f"{name}\x00.{expires}.{mac}", f"{name}.{expires}.{mac}.x", f"{name}.-1.{mac}",
                   f"{name}.{int(time.time()) - 10}.{mac}"):
        assert await sessions.verify(cookie) is None, cookie
    assert await sessions.verify(good) == "ops"


async def test_bad_admin_names_and_short_passwords_are_refused(store: IdentityStore) -> None:
    admins = AdminStore(store)
    for name in ("", "a.b", "a b", "a;b", "a,b", "a\x00b", "x" * 129):
        with pytest.raises(ValueError, match="admin name"):
            await admins.set_admin(name, PASSWORD)
    with pytest.raises(ValueError, match="12 characters"):
        await admins.set_admin("ops", "short")
    assert await admins.admins() == []


def test_admins_of_an_older_data_directory_carry_over(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "data.sqlite"
    secret = "ab" * 32
    with sqlite3.connect(path) as db:   # the tables console/access.py made before the admins moved
        db.execute("CREATE TABLE console_admins (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
                   "created_at REAL NOT NULL)")
        db.execute("CREATE TABLE console_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO console_admins VALUES ('ops', ?, 1700000000.0)", (hash_password(PASSWORD),))
        db.execute("INSERT INTO console_meta VALUES ('session_secret', ?)", (secret,))
    # a cookie issued before the upgrade
    expires = int(time.time()) + 600
    with sqlite3.connect(path) as db:
        stored_hash = db.execute("SELECT password_hash FROM console_admins").fetchone()[0]
    mac = hmac.new(bytes.fromhex(secret), f"ops.{expires}.{stored_hash}".encode(), hashlib.sha256).hexdigest()

    async def check() -> None:
        store = SQLiteIdentityStore(path)
        try:
            admins = AdminStore(store)
            assert [(a.username, a.created_at) for a in await admins.admins()] == [("ops", 1700000000.0)]
            assert await admins.check("ops", PASSWORD)
            assert await Sessions(admins).verify(f"ops.{expires}.{mac}") == "ops"
            await admins.delete_admin("ops")
        finally:
            await store.close()
        again = SQLiteIdentityStore(path)   # the old tables are gone: a deleted admin stays deleted
        try:
            assert await AdminStore(again).admins() == []
        finally:
            await again.close()

    asyncio.run(check())
    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not names & {"console_admins", "console_meta"}
