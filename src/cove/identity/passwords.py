"""Passwords: argon2id hashes, a decoy for logins that do not exist, and the pool's password policy.

Hashing and checking are CPU work of tens of milliseconds (argon2 releases the GIL): async callers
run them on a thread.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cove.schema.model import PasswordPolicy

_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _decoy_hash() -> str:
    """A hash no password matches: checking an unknown user's password against it costs a real check."""
    return hash_password(secrets.token_urlsafe(32))


def check_password_or_decoy(password_hash: str | None, password: str) -> bool:
    """``check_password``, costing a full argon2 check even when there is no hash (then always False)."""
    matched = check_password(password_hash or _decoy_hash(), password)
    return matched and password_hash is not None


def policy_violation(policy: PasswordPolicy, password: str) -> str | None:
    """Cognito's message for a password the policy refuses, or None."""
    if len(password) < policy.min_length:
        return "Password did not conform with policy: Password not long enough"
    if policy.require_uppercase and not any(c.isupper() for c in password):
        return "Password did not conform with policy: Password must have uppercase characters"
    if policy.require_lowercase and not any(c.islower() for c in password):
        return "Password did not conform with policy: Password must have lowercase characters"
    if policy.require_numbers and not any(c.isdigit() for c in password):
        return "Password did not conform with policy: Password must have numeric characters"
    if policy.require_symbols and all(c.isalnum() for c in password):
        return "Password did not conform with policy: Password must have symbol characters"
    if len(password) > 256:
        return "Password did not conform with policy: Password is too long"
    return None
