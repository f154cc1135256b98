"""Persistence for identities: users, groups, refresh tokens, identity-pool identities, IAM keys.

``IdentityStore`` is the interface; ``SQLiteIdentityStore`` keeps its tables in the same SQLite file
as the data (its own connection, WAL mode), so a sandbox is still one file. Every write is one
autocommitted statement (or a short transaction), safe across ``cove serve --workers`` processes.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from cove.private_files import private_database
from cove.store.sqlite.connection import transaction

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
CREATE TABLE IF NOT EXISTS _cove_iam_keys (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    description TEXT,
    created_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""

USER_COLUMNS = ("username, sub, email, phone_number, attributes, password_hash, srp_salt, srp_verifier, status, "
                "enabled, created_at, updated_at, code, code_purpose, code_expires_at, code_attempts")


@dataclass
class User:
    username: str
    sub: str
    email: str | None
    phone_number: str | None
    attributes: dict[str, str]
    password_hash: str | None
    srp_salt: str | None
    srp_verifier: str | None
    status: str                 # UNCONFIRMED | CONFIRMED | FORCE_CHANGE_PASSWORD | RESET_REQUIRED
    enabled: bool
    created_at: float
    updated_at: float
    code: str | None = None
    code_purpose: str | None = None   # "signup" | "reset"
    code_expires_at: float | None = None
    code_attempts: int = 0            # wrong tries of the current code
    groups: list[str] = field(default_factory=list)


@dataclass
class RefreshToken:
    username: str
    client_id: str
    origin_jti: str
    auth_time: int
    expires_at: float
    revoked: bool


@dataclass
class IamKey:
    access_key_id: str
    secret_access_key: str
    description: str | None
    created_at: float
    revoked: bool


class IdentityStore(Protocol):
    """What the identity services need from storage (SQLite today; PostgreSQL can implement it)."""

    def meta(self, key: str, create: Any) -> str: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def create_user(self, user: User) -> None: ...
    def find_user(self, login: str) -> User | None: ...
    def user_by_sub(self, sub: str) -> User | None: ...
    def update_user(self, username: str, **changes: Any) -> None: ...
    def code_failed(self, username: str, code: str, limit: int) -> bool: ...
    def delete_user(self, username: str) -> bool: ...
    def list_users(self) -> list[User]: ...
    def ensure_group(self, name: str, precedence: int | None = None, description: str | None = None) -> None: ...
    def list_groups(self) -> list[tuple[str, int | None, str | None]]: ...
    def add_to_group(self, username: str, group: str) -> None: ...
    def remove_from_group(self, username: str, group: str) -> bool: ...
    def groups_of(self, username: str) -> list[str]: ...
    def save_refresh_token(self, token_hash: str, token: RefreshToken) -> None: ...
    def find_refresh_token(self, token_hash: str) -> RefreshToken | None: ...
    def revoke_refresh_token(self, token_hash: str) -> bool: ...
    def revoke_user_tokens(self, username: str) -> int: ...
    def revoked_origins(self, username: str) -> set[str]: ...
    def identity_login(self, identity_id: str) -> str | None: ...
    def link_identity(self, identity_id: str, login_key: str) -> bool: ...
    def identity_for_login(self, login_key: str | None, new_id: str) -> str: ...
    def identity_exists(self, identity_id: str) -> bool: ...
    def create_iam_key(self, description: str | None = None) -> IamKey: ...
    def find_iam_key(self, access_key_id: str) -> IamKey | None: ...
    def iam_keys(self) -> list[IamKey]: ...
    def revoke_iam_key(self, access_key_id: str) -> bool: ...
    def close(self) -> None: ...


class DuplicateUser(ValueError):
    """A user with that username, email or phone number exists."""


class SQLiteIdentityStore:
    """One connection per thread: the server runs Cognito calls in worker threads (argon2 and SRP
    are CPU work) and verifies IAM keys on the event loop; none shares a connection or transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = private_database(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.conn.executescript(_TABLES)
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(_cove_users)")}
        if "code_attempts" not in columns:  # a data directory from before codes counted wrong tries
            self.conn.execute("ALTER TABLE _cove_users ADD COLUMN code_attempts INTEGER NOT NULL DEFAULT 0")

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    # -- meta ----------------------------------------------------------------------------------
    def meta(self, key: str, create: Any) -> str:
        """The stored value of ``key``, creating it with ``create()`` the first time (race-free)."""
        row = self.conn.execute("SELECT value FROM _cove_identity_meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.conn.execute("INSERT OR IGNORE INTO _cove_identity_meta (key, value) VALUES (?, ?)",
                              (key, str(create())))
            row = self.conn.execute("SELECT value FROM _cove_identity_meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO _cove_identity_meta (key, value) VALUES (?, ?) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # -- users ---------------------------------------------------------------------------------
    def _user(self, row: tuple[Any, ...] | None) -> User | None:
        if row is None:
            return None
        user = User(row[0], row[1], row[2], row[3], orjson.loads(row[4]), row[5], row[6], row[7], row[8],
                    bool(row[9]), row[10], row[11], row[12], row[13], row[14], row[15])
        user.groups = self.groups_of(user.username)
        return user

    def create_user(self, user: User) -> None:
        try:
            self.conn.execute(
                f"INSERT INTO _cove_users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user.username, user.sub, user.email, user.phone_number, orjson.dumps(user.attributes).decode(),
                 user.password_hash, user.srp_salt, user.srp_verifier, user.status, int(user.enabled),
                 user.created_at, user.updated_at, user.code, user.code_purpose, user.code_expires_at,
                 user.code_attempts))
        except sqlite3.IntegrityError:
            raise DuplicateUser(user.username) from None

    def find_user(self, login: str) -> User | None:
        """By username, email (case-insensitive) or phone number."""
        row = self.conn.execute(f"SELECT {USER_COLUMNS} FROM _cove_users WHERE username = ?", (login,)).fetchone()
        if row is None:
            row = self.conn.execute(f"SELECT {USER_COLUMNS} FROM _cove_users WHERE email = ? OR phone_number = ?",
                                    (login.lower(), login)).fetchone()
        return self._user(row)

    def user_by_sub(self, sub: str) -> User | None:
        return self._user(self.conn.execute(f"SELECT {USER_COLUMNS} FROM _cove_users WHERE sub = ?",
                                            (sub,)).fetchone())

    def update_user(self, username: str, **changes: Any) -> None:
        if "attributes" in changes:
            changes["attributes"] = orjson.dumps(changes["attributes"]).decode()
        if "enabled" in changes:
            changes["enabled"] = int(changes["enabled"])
        changes["updated_at"] = time.time()
        assigns = ", ".join(f"{k} = ?" for k in changes)
        try:
            self.conn.execute(f"UPDATE _cove_users SET {assigns} WHERE username = ?", (*changes.values(), username))
        except sqlite3.IntegrityError:
            raise DuplicateUser(username) from None

    def code_failed(self, username: str, code: str, limit: int) -> bool:
        """Count a wrong try of ``code``; at ``limit`` tries the code is dropped. True if it was dropped."""
        with transaction(self.conn):
            self.conn.execute("UPDATE _cove_users SET code_attempts = code_attempts + 1 WHERE username = ? "
                              "AND code = ?", (username, code))
            dropped = self.conn.execute("UPDATE _cove_users SET code = NULL WHERE username = ? AND code = ? "
                                        "AND code_attempts >= ?", (username, code, limit)).rowcount
        return dropped > 0

    def delete_user(self, username: str) -> bool:
        with transaction(self.conn):
            cur = self.conn.execute("DELETE FROM _cove_users WHERE username = ?", (username,))
            self.conn.execute("DELETE FROM _cove_user_groups WHERE username = ?", (username,))
            self.conn.execute("UPDATE _cove_refresh_tokens SET revoked = 1 WHERE username = ?", (username,))
        return cur.rowcount > 0

    def list_users(self) -> list[User]:
        rows = self.conn.execute(f"SELECT {USER_COLUMNS} FROM _cove_users ORDER BY created_at").fetchall()
        return [u for r in rows if (u := self._user(r)) is not None]

    # -- groups --------------------------------------------------------------------------------
    def ensure_group(self, name: str, precedence: int | None = None, description: str | None = None) -> None:
        self.conn.execute("INSERT INTO _cove_groups (name, description, precedence, created_at) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (name) DO UPDATE SET precedence = excluded.precedence",
                          (name, description, precedence, time.time()))

    def list_groups(self) -> list[tuple[str, int | None, str | None]]:
        rows = self.conn.execute("SELECT name, precedence, description FROM _cove_groups "
                                 "ORDER BY precedence IS NULL, precedence, name").fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def add_to_group(self, username: str, group: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO _cove_user_groups (username, group_name) VALUES (?, ?)",
                          (username, group))

    def remove_from_group(self, username: str, group: str) -> bool:
        cur = self.conn.execute("DELETE FROM _cove_user_groups WHERE username = ? AND group_name = ?",
                                (username, group))
        return cur.rowcount > 0

    def groups_of(self, username: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT ug.group_name FROM _cove_user_groups ug LEFT JOIN _cove_groups g ON g.name = ug.group_name "
            "WHERE ug.username = ? ORDER BY g.precedence IS NULL, g.precedence, ug.group_name", (username,)).fetchall()
        return [r[0] for r in rows]

    # -- refresh tokens ------------------------------------------------------------------------
    def save_refresh_token(self, token_hash: str, token: RefreshToken) -> None:
        self.conn.execute("INSERT INTO _cove_refresh_tokens (token_hash, username, client_id, origin_jti, auth_time, "
                          "created_at, expires_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                          (token_hash, token.username, token.client_id, token.origin_jti, token.auth_time,
                           time.time(), token.expires_at))

    def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = self.conn.execute("SELECT username, client_id, origin_jti, auth_time, expires_at, revoked "
                                "FROM _cove_refresh_tokens WHERE token_hash = ?", (token_hash,)).fetchone()
        return RefreshToken(row[0], row[1], row[2], row[3], row[4], bool(row[5])) if row else None

    def revoke_refresh_token(self, token_hash: str) -> bool:
        cur = self.conn.execute("UPDATE _cove_refresh_tokens SET revoked = 1 WHERE token_hash = ?", (token_hash,))
        return cur.rowcount > 0

    def revoke_user_tokens(self, username: str) -> int:
        cur = self.conn.execute("UPDATE _cove_refresh_tokens SET revoked = 1 WHERE username = ? AND revoked = 0",
                                (username,))
        return cur.rowcount

    def revoked_origins(self, username: str) -> set[str]:
        rows = self.conn.execute("SELECT origin_jti FROM _cove_refresh_tokens WHERE username = ? AND revoked = 1",
                                 (username,)).fetchall()
        return {r[0] for r in rows}

    # -- identity pool -------------------------------------------------------------------------
    def identity_for_login(self, login_key: str | None, new_id: str) -> str:
        """The identity id for a login (``provider:sub``), creating it; a guest (None) always gets a new one."""
        if login_key is None:
            self.conn.execute("INSERT INTO _cove_identities (identity_id, login_key, created_at) VALUES (?, NULL, ?)",
                              (new_id, time.time()))
            return new_id
        self.conn.execute("INSERT OR IGNORE INTO _cove_identities (identity_id, login_key, created_at) VALUES (?, ?, ?)",
                          (new_id, login_key, time.time()))
        row = self.conn.execute("SELECT identity_id FROM _cove_identities WHERE login_key = ?", (login_key,)).fetchone()
        return str(row[0])

    def link_identity(self, identity_id: str, login_key: str) -> bool:
        """Attach a login to a guest identity (a guest who signs in keeps their identity id)."""
        try:
            cur = self.conn.execute("UPDATE _cove_identities SET login_key = ? WHERE identity_id = ? AND login_key IS NULL",
                                    (login_key, identity_id))
        except sqlite3.IntegrityError:
            return False
        return cur.rowcount > 0

    def identity_exists(self, identity_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM _cove_identities WHERE identity_id = ?",
                                 (identity_id,)).fetchone() is not None

    def identity_login(self, identity_id: str) -> str | None:
        row = self.conn.execute("SELECT login_key FROM _cove_identities WHERE identity_id = ?",
                                (identity_id,)).fetchone()
        return row[0] if row else None

    # -- static IAM keys (trusted back-end code) -----------------------------------------------
    def create_iam_key(self, description: str | None = None) -> IamKey:
        akid = "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        secret = secrets.token_urlsafe(30)[:40]
        now = time.time()
        self.conn.execute("INSERT INTO _cove_iam_keys (access_key_id, secret_access_key, description, created_at) "
                          "VALUES (?, ?, ?, ?)", (akid, secret, description, now))
        return IamKey(akid, secret, description, now, False)

    def find_iam_key(self, access_key_id: str) -> IamKey | None:
        row = self.conn.execute("SELECT access_key_id, secret_access_key, description, created_at, revoked "
                                "FROM _cove_iam_keys WHERE access_key_id = ?", (access_key_id,)).fetchone()
        return IamKey(row[0], row[1], row[2], row[3], bool(row[4])) if row else None

    def iam_keys(self) -> list[IamKey]:
        rows = self.conn.execute("SELECT access_key_id, secret_access_key, description, created_at, revoked "
                                 "FROM _cove_iam_keys ORDER BY created_at").fetchall()
        return [IamKey(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def revoke_iam_key(self, access_key_id: str) -> bool:
        cur = self.conn.execute("UPDATE _cove_iam_keys SET revoked = 1 WHERE access_key_id = ?", (access_key_id,))
        return cur.rowcount > 0


def new_sub() -> str:
    return str(uuid.uuid4())
