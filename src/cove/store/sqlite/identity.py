"""The identity state (``cove.store.identity_state.IdentityStore``) in the data's SQLite file.

Its tables sit next to the records (a sandbox stays one file). Reads run on the caller's thread
without suspending: each is one indexed statement of microseconds, and in WAL mode a reader never
waits for a writer. Writes run on one writer thread per store: a commit fsyncs the WAL (the
connection keeps SQLite's default ``synchronous = FULL``), and with ``cove serve --workers`` it may
wait up to ``busy_timeout`` for another process's write, neither of which may hold the event loop
that serves GraphQL. Sign-in and sign-up do a few statements around argon2 and SRP work (tens of
milliseconds, run on threads by ``cove.identity``), so a thread hop per write costs them nothing.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import orjson

from cove.private_files import private_database
from cove.store.identity_state import (
    CONSOLE_SECRET,
    ConsoleAdmin,
    DuplicateUser,
    Group,
    IamKey,
    RefreshToken,
    StoredSigningKey,
    User,
    new_iam_key,
)

from .connection import connect

_P = ParamSpec("_P")
_T = TypeVar("_T")

_TABLES = """
CREATE TABLE IF NOT EXISTS _cove_identity_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _cove_users (
    username TEXT PRIMARY KEY,
    sub TEXT NOT NULL UNIQUE,
    email TEXT,
    phone_number TEXT,
    attributes TEXT NOT NULL,
    password_hash TEXT,
    srp_salt TEXT,
    srp_verifier TEXT,
    status TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    code TEXT,
    code_purpose TEXT,
    code_expires_at REAL,
    code_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS _cove_users_email ON _cove_users (email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS _cove_users_phone ON _cove_users (phone_number) WHERE phone_number IS NOT NULL;
CREATE TABLE IF NOT EXISTS _cove_groups (
    name TEXT PRIMARY KEY,
    description TEXT,
    precedence INTEGER,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS _cove_user_groups (
    username TEXT NOT NULL,
    group_name TEXT NOT NULL,
    PRIMARY KEY (username, group_name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _cove_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    client_id TEXT NOT NULL,
    origin_jti TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS _cove_refresh_tokens_user ON _cove_refresh_tokens (username);
CREATE TABLE IF NOT EXISTS _cove_identities (
    identity_id TEXT PRIMARY KEY,
    login_key TEXT UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS _cove_signing_keys (
    kid TEXT PRIMARY KEY,
    pem TEXT NOT NULL,
    created_at REAL NOT NULL,
    retired_at REAL
);
CREATE TABLE IF NOT EXISTS _cove_console_admins (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS _cove_login_failures (
    login_key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until REAL NOT NULL,
    last_failed REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS _cove_login_failures_last ON _cove_login_failures (last_failed);
CREATE TABLE IF NOT EXISTS _cove_attempts (
    attempt_key TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _cove_attempts_start ON _cove_attempts (window_start);
CREATE TABLE IF NOT EXISTS _cove_iam_keys (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    description TEXT,
    created_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""

_USER_COLUMNS = ("username, sub, email, phone_number, attributes, password_hash, srp_salt, srp_verifier, status, "
                 "enabled, created_at, updated_at, code, code_purpose, code_expires_at, code_attempts")
# The User fields update_user may set (names are put into SQL: only these, never a caller's string).
_UPDATABLE = frozenset(_USER_COLUMNS.replace(" ", "").split(",")) - {"username", "created_at"}
# The lock after the n-th wrong password, as in UserPool (the shift is capped: SQLite's wraps past 63).
_LOCK = "CASE WHEN {n} >= :free THEN :now + min(1 << min({n} - :free, 30), :max) ELSE 0 END"
_IAM_COLUMNS = "access_key_id, secret_access_key, description, created_at, revoked"
_KEY_COLUMNS = "kid, pem, created_at, retired_at"
# Set once the PEM files older versions kept in <data_dir>/keys were copied into the database.
KEY_FILES_IMPORTED = "signing_key_files_imported"
_log = logging.getLogger("cove.identity")


def _connect(path: Path) -> sqlite3.Connection:
    # FULL: a sign-up, a revoked token or a counted wrong password survives a power cut once answered.
    return connect(path, synchronous="FULL", cached_statements=128)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception (connections are in autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _user_row(row: tuple[Any, ...]) -> User:
    return User(row[0], row[1], row[2], row[3], orjson.loads(row[4]), row[5], row[6], row[7], row[8],
                bool(row[9]), row[10], row[11], row[12], row[13], row[14], row[15])


def _iam_row(row: tuple[Any, ...]) -> IamKey:
    return IamKey(row[0], row[1], row[2], row[3], bool(row[4]))


class SQLiteIdentityStore:
    """One connection per thread (the loop's for reads, the writer's for writes; the command line's
    own), so no two threads share a connection or a transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = private_database(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._conn.executescript(_TABLES)
        columns = {r[1] for r in self._conn.execute("PRAGMA table_info(_cove_users)")}
        if "code_attempts" not in columns:  # a data directory from before codes counted wrong tries
            self._conn.execute("ALTER TABLE _cove_users ADD COLUMN code_attempts INTEGER NOT NULL DEFAULT 0")
        self._import_key_files(self.path.parent / "keys")
        self._import_console_tables()

    def _import_key_files(self, folder: Path) -> None:
        """Data directories of older versions kept the signing keys as ``keys/<kid>.pem``: copy them
        in once, so tokens issued before the upgrade still verify. The newest file keeps signing
        unless the database has a signing key already; the others verify until their tokens expire."""
        if self._meta_row(KEY_FILES_IMPORTED) is not None:
            return
        files = sorted(folder.glob("*.pem"), key=lambda p: (p.stat().st_mtime_ns, p.name)) if folder.is_dir() else []
        keys = []
        for path in files:
            try:
                keys.append((path.stem, path.read_text("ascii"), path.stat().st_mtime))
            except (OSError, UnicodeDecodeError) as exc:
                _log.warning("signing key file %s not imported: %s", path, exc)
        now = time.time()
        with _Transaction(self._conn) as conn:
            if conn.execute("SELECT 1 FROM _cove_identity_meta WHERE key = ?", (KEY_FILES_IMPORTED,)).fetchone():
                return  # another process did it meanwhile
            signing = conn.execute("SELECT 1 FROM _cove_signing_keys WHERE retired_at IS NULL").fetchone()
            for i, (kid, pem, mtime) in enumerate(keys):
                retired = None if i == len(keys) - 1 and signing is None else now
                conn.execute(f"INSERT OR IGNORE INTO _cove_signing_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?)",
                             (kid, pem, mtime, retired))
            conn.execute("INSERT INTO _cove_identity_meta (key, value) VALUES (?, ?)", (KEY_FILES_IMPORTED, str(now)))

    def _import_console_tables(self) -> None:
        """Older versions kept console admins in ``console_admins`` and their session secret in
        ``console_meta``; move both into the identity tables (once: the old tables are dropped)."""
        if self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'console_admins'"
                              ).fetchone() is None:
            return
        with _Transaction(self._conn) as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'console_admins'").fetchone() is None:
                return
            conn.execute("INSERT OR IGNORE INTO _cove_console_admins (username, password_hash, created_at) "
                         "SELECT username, password_hash, created_at FROM console_admins")
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'console_meta'").fetchone() is not None:
                conn.execute("INSERT OR IGNORE INTO _cove_identity_meta (key, value) SELECT ?, value "
                             "FROM console_meta WHERE key = 'session_secret'", (CONSOLE_SECRET,))
                conn.execute("DROP TABLE console_meta")
            conn.execute("DROP TABLE console_admins")

    @property
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
            with self._lock:
                self._all.append(conn)
        return conn

    async def _write(self, work: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run ``work`` on the writer thread (see the module's docstring for why)."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="cove-identity-writer")
            writer = self._writer
        return await asyncio.get_running_loop().run_in_executor(writer, lambda: work(*args, **kwargs))

    async def close(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
            conns, self._all = self._all, []
        if writer is not None:
            writer.shutdown(wait=True)
        for conn in conns:
            conn.close()
        self._local = threading.local()

    # -- meta ----------------------------------------------------------------------------------
    def _meta_row(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM _cove_identity_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def meta(self, key: str, create: Callable[[], Any]) -> str:
        value = self._meta_row(key)
        if value is None:
            value = await self._write(self._create_meta, key, str(create()))
        return value

    def _create_meta(self, key: str, value: str) -> str:
        # Another process may have created it meanwhile: its value wins, for every process.
        self._conn.execute("INSERT OR IGNORE INTO _cove_identity_meta (key, value) VALUES (?, ?)", (key, value))
        stored = self._meta_row(key)
        assert stored is not None
        return stored

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(self._execute, "INSERT INTO _cove_identity_meta (key, value) VALUES (?, ?) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def _execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any]) -> int:
        """One autocommitted statement; the number of rows it changed."""
        return self._conn.execute(sql, params).rowcount

    # -- users ---------------------------------------------------------------------------------
    def _with_groups(self, row: tuple[Any, ...] | None) -> User | None:
        if row is None:
            return None
        user = _user_row(row)
        user.groups = self._groups_of(user.username)
        return user

    async def create_user(self, user: User) -> None:
        await self._write(self._insert_user, user)

    def _insert_user(self, user: User) -> None:
        try:
            self._conn.execute(
                f"INSERT INTO _cove_users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user.username, user.sub, user.email, user.phone_number, orjson.dumps(user.attributes).decode(),
                 user.password_hash, user.srp_salt, user.srp_verifier, user.status, int(user.enabled),
                 user.created_at, user.updated_at, user.code, user.code_purpose, user.code_expires_at,
                 user.code_attempts))
        except sqlite3.IntegrityError:
            raise DuplicateUser(user.username) from None

    async def find_user(self, login: str) -> User | None:
        conn = self._conn
        row = conn.execute(f"SELECT {_USER_COLUMNS} FROM _cove_users WHERE username = ?", (login,)).fetchone()
        if row is None:
            row = conn.execute(f"SELECT {_USER_COLUMNS} FROM _cove_users WHERE email = ? OR phone_number = ?",
                               (login.lower(), login)).fetchone()
        return self._with_groups(row)

    async def user_by_sub(self, sub: str) -> User | None:
        return self._with_groups(self._conn.execute(f"SELECT {_USER_COLUMNS} FROM _cove_users WHERE sub = ?",
                                                    (sub,)).fetchone())

    async def update_user(self, username: str, **changes: Any) -> None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"update_user cannot set {', '.join(sorted(unknown))}")
        if "attributes" in changes:
            changes["attributes"] = orjson.dumps(changes["attributes"]).decode()
        if "enabled" in changes:
            changes["enabled"] = int(changes["enabled"])
        changes["updated_at"] = time.time()
        assigns = ", ".join(f"{name} = ?" for name in changes)
        await self._write(self._update_user, f"UPDATE _cove_users SET {assigns} WHERE username = ?",
                          (*changes.values(), username))

    def _update_user(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            self._conn.execute(sql, params)
        except sqlite3.IntegrityError:
            raise DuplicateUser(params[-1]) from None

    async def code_failed(self, username: str, code: str, limit: int) -> bool:
        return await self._write(self._code_failed, username, code, limit)

    def _code_failed(self, username: str, code: str, limit: int) -> bool:
        with _Transaction(self._conn) as conn:
            conn.execute("UPDATE _cove_users SET code_attempts = code_attempts + 1 WHERE username = ? AND code = ?",
                         (username, code))
            dropped = conn.execute("UPDATE _cove_users SET code = NULL WHERE username = ? AND code = ? "
                                   "AND code_attempts >= ?", (username, code, limit)).rowcount
        return dropped > 0

    async def take_code(self, username: str, code: str, purpose: str, now: float) -> bool:
        return await self._write(self._execute, "UPDATE _cove_users SET code = NULL WHERE username = ? "
                                 "AND code = ? AND code_purpose = ? AND code_expires_at >= ?",
                                 (username, code, purpose, now)) > 0

    # -- wrong passwords -------------------------------------------------------------------------
    async def login_lock(self, key: str) -> float | None:
        row = self._conn.execute("SELECT locked_until FROM _cove_login_failures WHERE login_key = ?",
                                 (key,)).fetchone()
        return float(row[0]) if row else None

    async def login_failed(self, key: str, free: int, max_seconds: float, now: float) -> None:
        params = {"key": key, "free": free, "max": float(max_seconds), "now": now}
        await self._write(self._execute,
                          f"INSERT INTO _cove_login_failures (login_key, failures, locked_until, last_failed) "
                          f"VALUES (:key, 1, {_LOCK.format(n='1')}, :now) ON CONFLICT (login_key) DO UPDATE SET "
                          f"failures = failures + 1, locked_until = {_LOCK.format(n='failures + 1')}, "
                          f"last_failed = :now", params)

    async def forget_login_failures(self, key: str) -> int:
        return await self._write(self._execute, "DELETE FROM _cove_login_failures WHERE login_key = ?", (key,))

    async def count_attempt(self, key: str, now: float, window: float) -> int:
        return await self._write(self._count_attempt, key, now, float(window))

    def _count_attempt(self, key: str, now: float, window: float) -> int:
        # SET reads the row as it was before the update, as in PostgreSQL.
        rows = self._conn.execute(   # every row fetched: the statement (and its commit) is then done
            "INSERT INTO _cove_attempts (attempt_key, window_start, attempts) VALUES (:key, :now, 1) "
            "ON CONFLICT (attempt_key) DO UPDATE SET "
            "attempts = CASE WHEN window_start <= :now - :window THEN 1 ELSE attempts + 1 END, "
            "window_start = CASE WHEN window_start <= :now - :window THEN :now ELSE window_start END "
            "RETURNING attempts", {"key": key, "now": now, "window": window}).fetchall()
        return int(rows[0][0]) if rows else 1

    async def prune_counts(self, failures_before: float, attempts_before: float) -> int:
        return await self._write(self._prune_counts, failures_before, attempts_before)

    def _prune_counts(self, failures_before: float, attempts_before: float) -> int:
        with _Transaction(self._conn) as conn:
            return (conn.execute("DELETE FROM _cove_login_failures WHERE last_failed < ?", (failures_before,)).rowcount
                    + conn.execute("DELETE FROM _cove_attempts WHERE window_start < ?", (attempts_before,)).rowcount)

    async def delete_user(self, username: str) -> bool:
        return await self._write(self._delete_user, username)

    def _delete_user(self, username: str) -> bool:
        with _Transaction(self._conn) as conn:
            deleted = conn.execute("DELETE FROM _cove_users WHERE username = ?", (username,)).rowcount
            conn.execute("DELETE FROM _cove_user_groups WHERE username = ?", (username,))
            conn.execute("UPDATE _cove_refresh_tokens SET revoked = 1 WHERE username = ?", (username,))
        return deleted > 0

    async def list_users(self) -> list[User]:
        rows = self._conn.execute(f"SELECT {_USER_COLUMNS} FROM _cove_users ORDER BY created_at").fetchall()
        return [user for row in rows if (user := self._with_groups(row)) is not None]

    # -- groups --------------------------------------------------------------------------------
    async def ensure_group(self, name: str, precedence: int | None = None, description: str | None = None) -> None:
        await self._write(self._execute, "INSERT INTO _cove_groups (name, description, precedence, created_at) "
                          "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET precedence = excluded.precedence",
                          (name, description, precedence, time.time()))

    async def list_groups(self) -> list[Group]:
        rows = self._conn.execute("SELECT name, precedence, description FROM _cove_groups "
                                  "ORDER BY precedence IS NULL, precedence, name").fetchall()
        return [Group(*row) for row in rows]

    async def add_to_group(self, username: str, group: str) -> None:
        await self._write(self._execute, "INSERT OR IGNORE INTO _cove_user_groups (username, group_name) "
                          "VALUES (?, ?)", (username, group))

    async def remove_from_group(self, username: str, group: str) -> bool:
        removed = await self._write(self._execute, "DELETE FROM _cove_user_groups WHERE username = ? "
                                    "AND group_name = ?", (username, group))
        return removed > 0

    async def groups_of(self, username: str) -> list[str]:
        return self._groups_of(username)

    def _groups_of(self, username: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT ug.group_name FROM _cove_user_groups ug LEFT JOIN _cove_groups g ON g.name = ug.group_name "
            "WHERE ug.username = ? ORDER BY g.precedence IS NULL, g.precedence, ug.group_name", (username,)).fetchall()
        return [row[0] for row in rows]

    # -- refresh tokens ------------------------------------------------------------------------
    async def save_refresh_token(self, token_hash: str, token: RefreshToken) -> None:
        await self._write(self._execute, "INSERT INTO _cove_refresh_tokens (token_hash, username, client_id, "
                          "origin_jti, auth_time, created_at, expires_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                          (token_hash, token.username, token.client_id, token.origin_jti, token.auth_time,
                           time.time(), token.expires_at))

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = self._conn.execute("SELECT username, client_id, origin_jti, auth_time, expires_at, revoked "
                                 "FROM _cove_refresh_tokens WHERE token_hash = ?", (token_hash,)).fetchone()
        return RefreshToken(row[0], row[1], row[2], row[3], row[4], bool(row[5])) if row else None

    async def revoke_refresh_token(self, token_hash: str) -> bool:
        revoked = await self._write(self._execute, "UPDATE _cove_refresh_tokens SET revoked = 1 WHERE token_hash = ?",
                                    (token_hash,))
        return revoked > 0

    async def revoke_user_tokens(self, username: str) -> int:
        return await self._write(self._execute, "UPDATE _cove_refresh_tokens SET revoked = 1 WHERE username = ? "
                                 "AND revoked = 0", (username,))

    async def revoked_origins(self, username: str) -> set[str]:
        rows = self._conn.execute("SELECT origin_jti FROM _cove_refresh_tokens WHERE username = ? AND revoked = 1",
                                  (username,)).fetchall()
        return {row[0] for row in rows}

    # -- identity pool -------------------------------------------------------------------------
    async def identity_for_login(self, login_key: str | None, new_id: str) -> str:
        return await self._write(self._identity_for_login, login_key, new_id)

    def _identity_for_login(self, login_key: str | None, new_id: str) -> str:
        conn = self._conn
        if login_key is None:
            conn.execute("INSERT INTO _cove_identities (identity_id, login_key, created_at) VALUES (?, NULL, ?)",
                         (new_id, time.time()))
            return new_id
        conn.execute("INSERT OR IGNORE INTO _cove_identities (identity_id, login_key, created_at) VALUES (?, ?, ?)",
                     (new_id, login_key, time.time()))
        row = conn.execute("SELECT identity_id FROM _cove_identities WHERE login_key = ?", (login_key,)).fetchone()
        return str(row[0])

    async def link_identity(self, identity_id: str, login_key: str) -> bool:
        return await self._write(self._link_identity, identity_id, login_key)

    def _link_identity(self, identity_id: str, login_key: str) -> bool:
        try:
            linked = self._conn.execute("UPDATE _cove_identities SET login_key = ? WHERE identity_id = ? "
                                        "AND login_key IS NULL", (login_key, identity_id)).rowcount
        except sqlite3.IntegrityError:  # the login has an identity of its own
            return False
        return linked > 0

    async def identity_exists(self, identity_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM _cove_identities WHERE identity_id = ?",
                                  (identity_id,)).fetchone() is not None

    async def identity_login(self, identity_id: str) -> str | None:
        row = self._conn.execute("SELECT login_key FROM _cove_identities WHERE identity_id = ?",
                                 (identity_id,)).fetchone()
        return row[0] if row else None

    # -- static IAM keys (trusted back-end code) -----------------------------------------------
    async def create_iam_key(self, description: str | None = None) -> IamKey:
        key = new_iam_key(description, time.time())
        await self._write(self._execute, f"INSERT INTO _cove_iam_keys ({_IAM_COLUMNS}) VALUES (?, ?, ?, ?, 0)",
                          (key.access_key_id, key.secret_access_key, key.description, key.created_at))
        return key

    async def find_iam_key(self, access_key_id: str) -> IamKey | None:
        row = self._conn.execute(f"SELECT {_IAM_COLUMNS} FROM _cove_iam_keys WHERE access_key_id = ?",
                                 (access_key_id,)).fetchone()
        return _iam_row(row) if row else None

    async def iam_keys(self) -> list[IamKey]:
        rows = self._conn.execute(f"SELECT {_IAM_COLUMNS} FROM _cove_iam_keys ORDER BY created_at").fetchall()
        return [_iam_row(row) for row in rows]

    async def revoke_iam_key(self, access_key_id: str) -> bool:
        revoked = await self._write(self._execute, "UPDATE _cove_iam_keys SET revoked = 1 WHERE access_key_id = ?",
                                    (access_key_id,))
        return revoked > 0

    # -- the user pool's signing keys ------------------------------------------------------------
    async def signing_keys(self) -> list[StoredSigningKey]:
        rows = self._conn.execute(f"SELECT {_KEY_COLUMNS} FROM _cove_signing_keys ORDER BY created_at, kid").fetchall()
        return [StoredSigningKey(*row) for row in rows]

    async def add_signing_key(self, key: StoredSigningKey, *, retire_others: bool = False) -> bool:
        return await self._write(self._add_signing_key, key, retire_others)

    def _add_signing_key(self, key: StoredSigningKey, retire_others: bool) -> bool:
        with _Transaction(self._conn) as conn:
            added = conn.execute(f"INSERT OR IGNORE INTO _cove_signing_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?)",
                                 (key.kid, key.pem, key.created_at, key.retired_at)).rowcount > 0
            if added and retire_others:
                conn.execute("UPDATE _cove_signing_keys SET retired_at = ? WHERE kid <> ? AND retired_at IS NULL",
                             (key.created_at, key.kid))
        return added

    async def add_first_signing_key(self, key: StoredSigningKey) -> bool:
        return await self._write(self._add_first_signing_key, key)

    def _add_first_signing_key(self, key: StoredSigningKey) -> bool:
        # BEGIN IMMEDIATE: processes queue on SQLite's write lock, so the check and the insert are one step.
        with _Transaction(self._conn) as conn:
            added = conn.execute(
                f"INSERT INTO _cove_signing_keys ({_KEY_COLUMNS}) SELECT ?, ?, ?, NULL WHERE NOT EXISTS "
                "(SELECT 1 FROM _cove_signing_keys WHERE retired_at IS NULL) ON CONFLICT (kid) DO NOTHING",
                (key.kid, key.pem, key.created_at)).rowcount
        return added > 0

    # -- console administrators -------------------------------------------------------------------
    async def console_admin(self, username: str) -> ConsoleAdmin | None:
        row = self._conn.execute("SELECT username, password_hash, created_at FROM _cove_console_admins "
                                 "WHERE username = ?", (username,)).fetchone()
        return ConsoleAdmin(*row) if row else None

    async def console_admins(self) -> list[ConsoleAdmin]:
        rows = self._conn.execute("SELECT username, password_hash, created_at FROM _cove_console_admins "
                                  "ORDER BY username").fetchall()
        return [ConsoleAdmin(*row) for row in rows]

    async def set_console_admin(self, username: str, password_hash: str, created_at: float) -> None:
        await self._write(self._execute, "INSERT INTO _cove_console_admins (username, password_hash, created_at) "
                          "VALUES (?, ?, ?) ON CONFLICT (username) DO UPDATE SET password_hash = "
                          "excluded.password_hash", (username, password_hash, created_at))

    async def delete_console_admin(self, username: str) -> bool:
        return await self._write(self._execute, "DELETE FROM _cove_console_admins WHERE username = ?",
                                 (username,)) > 0
