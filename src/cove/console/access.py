"""Who may use the console's admin API, and how an administrator's browser session is kept.

Two policies:

- ``local`` (``cove sandbox``): open to a browser on this machine. The peer address must be a loopback
  address and the ``Host`` header must name a loopback host, so a web page on another site cannot reach
  the API through DNS rebinding.
- ``admin`` (``cove serve --console``): only a signed-in administrator (``cove console create-admin``),
  kept in the database (any process of it, on any host, accepts the same admins and cookies). The session is a cookie holding the admin's name, an expiry and an HMAC over both; it is HttpOnly,
  SameSite=Strict and scoped to ``/console``.

Either way, a call that changes something must carry the ``X-Cove-Console`` header, which a cross-site
form cannot send (and a cross-site ``fetch`` cannot send without a CORS preflight, which this API never
grants), and an ``Origin``, when the browser sends one, must be this server's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from cove.identity.passwords import check_password_or_decoy, hash_password
from cove.server.errors import RequestError
from cove.store.identity_state import CONSOLE_SECRET, IdentityStore

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
    """Console administrators, behind the identity seam (the database's admins table, the session
    secret in its meta), so every server process of the database, on any host, knows them."""

    def __init__(self, store: IdentityStore) -> None:
        self.store = store

    async def session_secret(self) -> bytes:
        return bytes.fromhex(await self.store.meta(CONSOLE_SECRET, lambda: secrets.token_hex(32)))

    async def set_admin(self, username: str, password: str) -> None:
        """Create an administrator, or set an existing one's password (which ends their sessions)."""
        if not username or len(username) > 128 or any(c in username for c in ".;, \t\r\n\x00"):
            raise ValueError("an admin name must be 1-128 characters without spaces, dots, commas or semicolons")
        if len(password) < 12:
            raise ValueError("an admin password must have at least 12 characters")
        # argon2 takes tens of milliseconds: off the event loop.
        await self.store.set_console_admin(username, await asyncio.to_thread(hash_password, password), time.time())

    async def delete_admin(self, username: str) -> bool:
        return await self.store.delete_console_admin(username)

    async def admins(self) -> list[Admin]:
        return [Admin(a.username, a.created_at) for a in await self.store.console_admins()]

    async def password_hash(self, username: str) -> str | None:
        admin = await self.store.console_admin(username)
        return admin.password_hash if admin else None

    async def check(self, username: str, password: str) -> bool:
        stored = await self.password_hash(username)
        # argon2 off the event loop; an unknown admin costs a full check too (a decoy hash).
        return await asyncio.to_thread(check_password_or_decoy, stored, password)


class Sessions:
    """Signed session cookies. The MAC also covers the admin's password hash, so changing the password
    or deleting the admin ends every session at once, with no session table to keep."""

    def __init__(self, admins: AdminStore) -> None:
        self.admins = admins
        self._key: bytes | None = None   # the database's, read on first use

    async def _mac(self, username: str, expires: int, password_hash: str) -> str:
        if self._key is None:
            self._key = await self.admins.session_secret()
        message = f"{username}.{expires}.{password_hash}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    async def issue(self, username: str) -> str:
        password_hash = await self.admins.password_hash(username)
        assert password_hash is not None
        expires = int(time.time()) + SESSION_SECONDS
        return f"{username}.{expires}.{await self._mac(username, expires, password_hash)}"

    async def verify(self, cookie: str | None) -> str | None:
        """The admin's name for a valid, unexpired cookie of a still-existing admin; None otherwise."""
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
            return None
        username, expires_text, mac = parts
        expires = int(expires_text)
        if expires < time.time():
            return None
        password_hash = await self.admins.password_hash(username)
        if password_hash is None:
            return None
        if not hmac.compare_digest(mac, await self._mac(username, expires, password_hash)):
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
