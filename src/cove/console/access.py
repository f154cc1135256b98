"""Who may use the console's admin API, and how an administrator's browser session is kept.

Two policies:

- ``local`` (``cove sandbox``): open to a browser on this machine. The peer address must be a loopback
  address and the ``Host`` header must name a loopback host, so a web page on another site cannot reach
  the API through DNS rebinding.
- ``admin`` (``cove serve --console``): only a signed-in administrator (``cove console create-admin``).
  The session is a cookie holding the admin's name, an expiry and an HMAC over both; it is HttpOnly,
  SameSite=Strict and scoped to ``/console``.

Either way, a call that changes something must carry the ``X-Cove-Console`` header, which a cross-site
form cannot send (and a cross-site ``fetch`` cannot send without a CORS preflight, which this API never
grants), and an ``Origin``, when the browser sends one, must be this server's own.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cove.identity.passwords import check_password, hash_password
from cove.private_files import private_database
from cove.server.errors import RequestError

Policy = Literal["local", "admin"]
SESSION_COOKIE = "cove_console"
SESSION_SECONDS = 12 * 3600
CSRF_HEADER = "x-cove-console"
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


@dataclass(frozen=True)
class Admin:
    username: str
    created_at: float


class AdminStore:
    """Console administrators, in their own table of the server's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        # The server's own file (password hashes, keys): created owner-only when this comes first.
        self._conn = sqlite3.connect(str(private_database(path)), check_same_thread=False, isolation_level=None,
                                     timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("CREATE TABLE IF NOT EXISTS console_admins (username TEXT PRIMARY KEY, "
                               "password_hash TEXT NOT NULL, created_at REAL NOT NULL)")
            self._conn.execute("CREATE TABLE IF NOT EXISTS console_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._conn.execute("INSERT OR IGNORE INTO console_meta VALUES ('session_secret', ?)",
                               (secrets.token_hex(32),))

    def session_secret(self) -> bytes:
        with self._lock:
            row = self._conn.execute("SELECT value FROM console_meta WHERE key = 'session_secret'").fetchone()
        return bytes.fromhex(row[0])

    def set_admin(self, username: str, password: str) -> None:
        """Create an administrator, or set an existing one's password (which ends their sessions)."""
        if not username or len(username) > 128 or any(c in username for c in ".;, \t\r\n"):
            raise ValueError("an admin name must be 1-128 characters without spaces, dots, commas or semicolons")
        if len(password) < 12:
            raise ValueError("an admin password must have at least 12 characters")
        with self._lock:
            self._conn.execute("INSERT INTO console_admins VALUES (?, ?, ?) ON CONFLICT (username) DO UPDATE "
                               "SET password_hash = excluded.password_hash",
                               (username, hash_password(password), time.time()))

    def delete_admin(self, username: str) -> bool:
        with self._lock:
            return self._conn.execute("DELETE FROM console_admins WHERE username = ?", (username,)).rowcount > 0

    def admins(self) -> list[Admin]:
        with self._lock:
            rows = self._conn.execute("SELECT username, created_at FROM console_admins ORDER BY username").fetchall()
        return [Admin(*row) for row in rows]

    def password_hash(self, username: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT password_hash FROM console_admins WHERE username = ?",
                                     (username,)).fetchone()
        return row[0] if row else None

    def check(self, username: str, password: str) -> bool:
        stored = self.password_hash(username)
        if stored is None:
            check_password(None, password)  # spend the same time as for a real admin
            return False
        return check_password(stored, password)

    def close(self) -> None:
        self._conn.close()


class Sessions:
    """Signed session cookies. The MAC also covers the admin's password hash, so changing the password
    or deleting the admin ends every session at once, with no session table to keep."""

    def __init__(self, admins: AdminStore) -> None:
        self.admins = admins
        self._key = admins.session_secret()

    def _mac(self, username: str, expires: int, password_hash: str) -> str:
        message = f"{username}.{expires}.{password_hash}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, username: str) -> str:
        password_hash = self.admins.password_hash(username)
        assert password_hash is not None
        expires = int(time.time()) + SESSION_SECONDS
        return f"{username}.{expires}.{self._mac(username, expires, password_hash)}"

    def verify(self, cookie: str | None) -> str | None:
        """The admin's name for a valid, unexpired cookie of a still-existing admin; None otherwise."""
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        username, expires_text, mac = parts
        expires = int(expires_text)
        if expires < time.time():
            return None
        password_hash = self.admins.password_hash(username)
        if password_hash is None:
            return None
        if not hmac.compare_digest(mac, self._mac(username, expires, password_hash)):
            return None
        return username


class Throttled(RequestError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "TooManyRequestsException",
                         f"Too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


class SignInThrottle:
    """At most ``limit`` failed sign-ins per client address in ``window`` seconds; past that, sign-ins
    from that address are refused unchecked until the oldest failure ages out. Per process."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, list[float]] = {}

    def check(self, client: str) -> None:
        now = time.monotonic()
        recent = [t for t in self._failures.get(client, []) if t > now - self.window]
        self._failures[client] = recent
        if len(recent) >= self.limit:
            raise Throttled(max(1, int(recent[0] + self.window - now) + 1))

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            self._failures.clear()
        self._failures.setdefault(client, []).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


def cookie_value(headers: dict[str, str], name: str = SESSION_COOKIE) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None


def is_local_request(client: tuple[str, int] | list[object] | None, host_header: str) -> bool:
    """From a loopback address, naming a loopback host (a rebound DNS name keeps its own Host)."""
    if not client or host_name(host_header) not in _LOOPBACK_NAMES:
        return False
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def check_same_origin(headers: dict[str, str], scheme: str) -> None:
    """State-changing calls: the CSRF header must be present, and an Origin must be our own."""
    if headers.get(CSRF_HEADER) != "1":
        raise RequestError(403, "ForbiddenException",
                           "Console calls that change something need the 'X-Cove-Console: 1' header")
    origin = headers.get("origin")
    if origin is not None and origin != f"{scheme}://{headers.get('host', '')}":
        raise RequestError(403, "ForbiddenException", f"Cross-origin console calls are refused (Origin {origin})")
