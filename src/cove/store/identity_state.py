"""The identity state's seam: users, groups, refresh tokens, identity-pool identities, IAM keys, the
user pool's JWT signing keys and the console's administrators.

What the Cognito-compatible services (``cove.identity``) and the console keep, as an async protocol
any backend implements (``cove.store.sqlite.identity``, ``cove.store.postgres.identity``), with its
value types. A backend stores and finds;
every decision (passwords, codes, tokens, who may do what) stays in ``cove.identity``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
CONSOLE_SECRET = "console_session_secret"   # the meta key of the console's session-cookie secret


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


class Group(NamedTuple):
    name: str
    precedence: int | None
    description: str | None


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


@dataclass(frozen=True)
class StoredSigningKey:
    """A user-pool signing key as stored: a PKCS#8 PEM private key. ``retired_at`` is when a newer key
    replaced it (None: it may still sign); a retired key verifies the tokens it signed until they expire."""

    kid: str
    pem: str
    created_at: float
    retired_at: float | None = None


@dataclass(frozen=True)
class ConsoleAdmin:
    username: str
    password_hash: str
    created_at: float


class DuplicateUser(ValueError):
    """A user with that username, email or phone number exists."""


def new_iam_key(description: str | None, now: float) -> IamKey:
    """A fresh static key pair in AWS's shapes (``AKIA`` + 16 characters, a 40-character secret)."""
    access_key_id = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    return IamKey(access_key_id, secrets.token_urlsafe(30)[:40], description, now, False)


class IdentityStore(Protocol):
    """What the identity services need from storage. Every method is a coroutine."""

    async def meta(self, key: str, create: Callable[[], Any]) -> str:
        """The stored value of ``key``, created with ``create()`` the first time (race-free across processes)."""
        ...
    async def set_meta(self, key: str, value: str) -> None: ...

    async def create_user(self, user: User) -> None:
        """Raises DuplicateUser when the username, sub, email or phone number is taken."""
        ...
    async def find_user(self, login: str) -> User | None:
        """By username, else by email (stored lower-case: ``login`` is lowered) or phone number."""
        ...
    async def user_by_sub(self, sub: str) -> User | None: ...
    async def update_user(self, username: str, **changes: Any) -> None:
        """Set the named ``User`` fields (and ``updated_at``); DuplicateUser if an email/phone is taken."""
        ...
    async def code_failed(self, username: str, code: str, limit: int) -> bool:
        """Count a wrong try of ``code``; at ``limit`` tries it is dropped. True if it was dropped."""
        ...
    async def take_code(self, username: str, code: str, purpose: str, now: float) -> bool:
        """Use up ``code`` if it is still the user's code for ``purpose`` and unexpired at ``now``: one
        statement, so a right code read before concurrent wrong tries dropped it cannot still be used."""
        ...
    async def delete_user(self, username: str) -> bool:
        """Remove the user and their group memberships, revoke their refresh tokens; False if unknown."""
        ...

    async def login_lock(self, key: str) -> float | None:
        """Until when (epoch seconds) ``key``'s login is locked by wrong passwords; None when it has no
        wrong password counted."""
        ...
    async def login_failed(self, key: str, free: int, max_seconds: float, now: float) -> None:
        """Count a wrong password for ``key`` at ``now``: from the ``free``-th on, the login locks for
        1 s, doubling with each further one up to ``max_seconds``."""
        ...
    async def forget_login_failures(self, key: str) -> int:
        """Forget ``key``'s wrong passwords (a success); how many rows went (0 or 1)."""
        ...
    async def count_attempt(self, key: str, now: float, window: float) -> int:
        """Count one attempt of ``key`` at ``now``: how many its window holds, this one included. A
        window starts at the first attempt after the last window ended and lasts ``window`` seconds."""
        ...
    async def prune_counts(self, failures_before: float, attempts_before: float) -> int:
        """Forget the logins whose last wrong password came ``failures_before``, and the attempt keys
        whose window started ``attempts_before``; how many rows went."""
        ...
    async def list_users(self) -> list[User]:
        """Every user, oldest first."""
        ...

    async def ensure_group(self, name: str, precedence: int | None = None, description: str | None = None) -> None:
        """Create the group, or update the precedence of an existing one."""
        ...
    async def list_groups(self) -> list[Group]:
        """By precedence (groups without one last), then name."""
        ...
    async def add_to_group(self, username: str, group: str) -> None: ...
    async def remove_from_group(self, username: str, group: str) -> bool: ...
    async def groups_of(self, username: str) -> list[str]: ...

    async def save_refresh_token(self, token_hash: str, token: RefreshToken) -> None: ...
    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None: ...
    async def revoke_refresh_token(self, token_hash: str) -> bool: ...
    async def revoke_user_tokens(self, username: str) -> int:
        """Revoke every live refresh token of the user; how many were live."""
        ...
    async def revoked_origins(self, username: str) -> set[str]:
        """The ``origin_jti`` of the user's revoked refresh tokens (their access tokens are refused)."""
        ...

    async def identity_for_login(self, login_key: str | None, new_id: str) -> str:
        """The identity id of a login (``provider:sub``), created as ``new_id`` the first time; a
        guest (None) always gets ``new_id``."""
        ...
    async def link_identity(self, identity_id: str, login_key: str) -> bool:
        """Attach a login to a guest identity; False if the identity has a login or the login an identity."""
        ...
    async def identity_exists(self, identity_id: str) -> bool: ...
    async def identity_login(self, identity_id: str) -> str | None: ...

    async def create_iam_key(self, description: str | None = None) -> IamKey:
        """Make (``new_iam_key``), store and return a static IAM key."""
        ...
    async def find_iam_key(self, access_key_id: str) -> IamKey | None: ...
    async def iam_keys(self) -> list[IamKey]:
        """Every key, revoked ones too, oldest first."""
        ...
    async def revoke_iam_key(self, access_key_id: str) -> bool: ...

    async def signing_keys(self) -> list[StoredSigningKey]:
        """Every stored signing key, retired ones too, oldest first (``created_at``, then ``kid``)."""
        ...
    async def add_signing_key(self, key: StoredSigningKey, *, retire_others: bool = False) -> bool:
        """Store ``key``; False (and nothing changed) if its kid is stored already. ``retire_others``
        (a rotation): in the same transaction, every other key not retired yet gets
        ``retired_at = key.created_at``."""
        ...
    async def add_first_signing_key(self, key: StoredSigningKey) -> bool:
        """Store ``key`` only if no stored key is unretired; race-free across processes, so processes
        starting at once end with one signing key. False if another key was there (or came first)."""
        ...

    async def console_admin(self, username: str) -> ConsoleAdmin | None: ...
    async def console_admins(self) -> list[ConsoleAdmin]:
        """By username."""
        ...
    async def set_console_admin(self, username: str, password_hash: str, created_at: float) -> None:
        """Create the admin, or set an existing one's password hash (``created_at`` is kept)."""
        ...
    async def delete_console_admin(self, username: str) -> bool: ...

    async def close(self) -> None: ...
