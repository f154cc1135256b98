"""Signing users up, in and out: ``cove.auth``, the Python twin of ``aws-amplify/auth``.

::

    import cove
    cove.configure("amplify_outputs.json")
    cove.auth.sign_up(username="ada@example.com", password="Passw0rd!")
    cove.auth.sign_in(username="ada@example.com", password="Passw0rd!")
    client = cove.generate_client(auth_mode="user_pool")     # uses the signed-in session
    cove.auth.fetch_auth_session().tokens.access_token       # refreshed before it expires
    cove.auth.reset_password(username="ada@example.com")        # a code goes out (on_send_code / SMTP)
    cove.auth.confirm_reset_password(username="ada@example.com", confirmation_code="123456",
                                     new_password="N3w-passw0rd!")
    cove.auth.sign_out()

Signed in, ``update_password``, ``update_user_attributes`` and ``delete_user`` act on the current user.
Every function has an async twin with an ``a`` prefix (``await cove.auth.asign_in(...)``). Both
run the same I/O-free flows (generators that yield Cognito calls); only the HTTP differs.

It speaks Cognito's JSON API, so the same code works against Cove's sandbox (endpoints from
``custom.cove`` in the outputs file) and against AWS Cognito (endpoints derived from the region).
Sign-in uses SRP (``USER_SRP_AUTH``, Amplify's default) unless ``auth_flow="USER_PASSWORD_AUTH"``.
The session lives in memory, one per user pool client, shared by every client of that config.
"""

from __future__ import annotations

from collections.abc import Mapping

from .client._config import ConfigSource
from .client._session import (
    JWT,
    AuthError,
    AuthSession,
    AuthTokens,
    CurrentUser,
    ResetPasswordResult,
    SignInResult,
    SignUpResult,
    UpdateUserAttributeResult,
    confirm_reset_password_flow,
    confirm_sign_in_flow,
    confirm_sign_up_flow,
    current_user,
    delete_user_flow,
    fetch_session_flow,
    reset_password_flow,
    run_async,
    run_sync,
    session_of,
    sign_in_flow,
    sign_out_flow,
    sign_up_flow,
    update_password_flow,
    update_user_attributes_flow,
)

__all__ = [
    "AuthError", "AuthSession", "AuthTokens", "CurrentUser", "JWT", "ResetPasswordResult", "SignInResult",
    "SignUpResult", "UpdateUserAttributeResult",
    "aconfirm_reset_password", "aconfirm_sign_in", "aconfirm_sign_up", "adelete_user", "afetch_auth_session",
    "aget_current_user", "areset_password", "asign_in", "asign_out", "asign_up", "aupdate_password",
    "aupdate_user_attributes", "confirm_reset_password", "confirm_sign_in", "confirm_sign_up", "delete_user",
    "fetch_auth_session", "get_current_user", "reset_password", "sign_in", "sign_out", "sign_up",
    "update_password", "update_user_attributes",
]


# -- the public functions --------------------------------------------------------------------------

def sign_up(*, username: str, password: str, user_attributes: Mapping[str, str] | None = None,
            config: ConfigSource | None = None) -> SignUpResult:
    """Register a user. ``next_step`` is ``"CONFIRM_SIGN_UP"`` when a code must be confirmed."""
    s = session_of(config)
    result: SignUpResult = run_sync(s, sign_up_flow(s, username, password, user_attributes))
    return result


async def asign_up(*, username: str, password: str, user_attributes: Mapping[str, str] | None = None,
                   config: ConfigSource | None = None) -> SignUpResult:
    s = session_of(config)
    result: SignUpResult = await run_async(s, sign_up_flow(s, username, password, user_attributes))
    return result


def confirm_sign_up(*, username: str, confirmation_code: str, config: ConfigSource | None = None) -> SignUpResult:
    s = session_of(config)
    result: SignUpResult = run_sync(s, confirm_sign_up_flow(s, username, confirmation_code))
    return result


async def aconfirm_sign_up(*, username: str, confirmation_code: str,
                           config: ConfigSource | None = None) -> SignUpResult:
    s = session_of(config)
    result: SignUpResult = await run_async(s, confirm_sign_up_flow(s, username, confirmation_code))
    return result


def sign_in(*, username: str, password: str, auth_flow: str = "USER_SRP_AUTH",
            config: ConfigSource | None = None) -> SignInResult:
    """Sign in; afterwards ``auth_mode="user_pool"`` clients (and ``identity_pool`` ones, with
    signed-in credentials) use this session."""
    s = session_of(config)
    result: SignInResult = run_sync(s, sign_in_flow(s, username, password, auth_flow))
    return result


async def asign_in(*, username: str, password: str, auth_flow: str = "USER_SRP_AUTH",
                   config: ConfigSource | None = None) -> SignInResult:
    s = session_of(config)
    result: SignInResult = await run_async(s, sign_in_flow(s, username, password, auth_flow))
    return result


def confirm_sign_in(*, challenge_response: str, config: ConfigSource | None = None) -> SignInResult:
    """Answer the challenge ``sign_in`` stopped at (a new password for an admin-created user)."""
    s = session_of(config)
    result: SignInResult = run_sync(s, confirm_sign_in_flow(s, challenge_response))
    return result


async def aconfirm_sign_in(*, challenge_response: str, config: ConfigSource | None = None) -> SignInResult:
    s = session_of(config)
    result: SignInResult = await run_async(s, confirm_sign_in_flow(s, challenge_response))
    return result


def sign_out(*, global_sign_out: bool = False, config: ConfigSource | None = None) -> None:
    """Revoke this session's refresh token (every session of the user with ``global_sign_out``)
    and forget the tokens and credentials."""
    s = session_of(config)
    run_sync(s, sign_out_flow(s, global_sign_out))


async def asign_out(*, global_sign_out: bool = False, config: ConfigSource | None = None) -> None:
    s = session_of(config)
    await run_async(s, sign_out_flow(s, global_sign_out))


def fetch_auth_session(*, force_refresh: bool = False, config: ConfigSource | None = None) -> AuthSession:
    """The current tokens (refreshed when they are about to expire) and identity-pool credentials
    (for the signed-in user, or a guest when the pool allows guests)."""
    s = session_of(config)
    result: AuthSession = run_sync(s, fetch_session_flow(s, force_refresh))
    return result


async def afetch_auth_session(*, force_refresh: bool = False, config: ConfigSource | None = None) -> AuthSession:
    s = session_of(config)
    result: AuthSession = await run_async(s, fetch_session_flow(s, force_refresh))
    return result


def get_current_user(*, config: ConfigSource | None = None) -> CurrentUser:
    """The signed-in user (from the tokens; no request). Raises ``UserUnAuthenticatedException``."""
    return current_user(session_of(config))


async def aget_current_user(*, config: ConfigSource | None = None) -> CurrentUser:
    return current_user(session_of(config))


def reset_password(*, username: str, config: ConfigSource | None = None) -> ResetPasswordResult:
    """Start a password reset: the user pool sends a code (``next_step`` ``CONFIRM_RESET_PASSWORD_WITH_CODE``)."""
    s = session_of(config)
    result: ResetPasswordResult = run_sync(s, reset_password_flow(s, username))
    return result


async def areset_password(*, username: str, config: ConfigSource | None = None) -> ResetPasswordResult:
    s = session_of(config)
    result: ResetPasswordResult = await run_async(s, reset_password_flow(s, username))
    return result


def confirm_reset_password(*, username: str, confirmation_code: str, new_password: str,
                           config: ConfigSource | None = None) -> None:
    """Set a new password with the code ``reset_password`` sent."""
    s = session_of(config)
    run_sync(s, confirm_reset_password_flow(s, username, confirmation_code, new_password))


async def aconfirm_reset_password(*, username: str, confirmation_code: str, new_password: str,
                                  config: ConfigSource | None = None) -> None:
    s = session_of(config)
    await run_async(s, confirm_reset_password_flow(s, username, confirmation_code, new_password))


def update_password(*, old_password: str, new_password: str, config: ConfigSource | None = None) -> None:
    """Change the signed-in user's password (Cognito's ChangePassword)."""
    s = session_of(config)
    run_sync(s, update_password_flow(s, old_password, new_password))


async def aupdate_password(*, old_password: str, new_password: str, config: ConfigSource | None = None) -> None:
    s = session_of(config)
    await run_async(s, update_password_flow(s, old_password, new_password))


def update_user_attributes(*, user_attributes: Mapping[str, str],
                           config: ConfigSource | None = None) -> dict[str, UpdateUserAttributeResult]:
    """Change the signed-in user's attributes; one result per attribute, as Amplify returns."""
    s = session_of(config)
    result: dict[str, UpdateUserAttributeResult] = run_sync(s, update_user_attributes_flow(s, user_attributes))
    return result


async def aupdate_user_attributes(*, user_attributes: Mapping[str, str],
                                  config: ConfigSource | None = None) -> dict[str, UpdateUserAttributeResult]:
    s = session_of(config)
    result: dict[str, UpdateUserAttributeResult] = await run_async(s, update_user_attributes_flow(s, user_attributes))
    return result


def delete_user(*, config: ConfigSource | None = None) -> None:
    """Delete the signed-in user and forget the session."""
    s = session_of(config)
    run_sync(s, delete_user_flow(s))


async def adelete_user(*, config: ConfigSource | None = None) -> None:
    s = session_of(config)
    await run_async(s, delete_user_flow(s))
