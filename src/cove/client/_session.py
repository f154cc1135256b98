"""The Cognito session behind ``cove.auth``: its result types, the I/O-free flows and their two drivers.

A flow is a generator that yields Cognito calls ``(service, operation, body)`` and receives the
decoded answers (httpx's ``auth_flow`` pattern); :func:`run_sync` and :func:`run_async` do the HTTP.
The session lives in memory, one per user pool client, shared by every client of that config. The
public functions are in :mod:`cove.auth`; the client's auth providers read :func:`access_token` and
:func:`identity_credentials` from here.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from cove.wire import srp
from cove.wire.sigv4 import Credentials as AwsCredentials

from ._config import Config, ConfigSource, get_config, load_config
from .errors import ConfigurationError, CoveError, TransportError

_IDP = "AWSCognitoIdentityProviderService"
_IDENTITY = "AWSCognitoIdentityService"
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class AuthError(CoveError):
    """A Cognito error (``name`` is Cognito's, e.g. ``NotAuthorizedException``) or a local one
    (``UserUnAuthenticatedException`` when nobody is signed in)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class JWT:
    """A token and its decoded (not verified) payload, like Amplify's ``JWT``."""

    token: str
    payload: dict[str, Any]

    @classmethod
    def decode(cls, token: str) -> JWT:
        try:
            part = token.split(".")[1]
            payload = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except (IndexError, ValueError, orjson.JSONDecodeError):
            raise AuthError("InvalidTokenException", "the token is not a JWT") from None
        return cls(token, payload if isinstance(payload, dict) else {})

    def __str__(self) -> str:
        return self.token


@dataclass(frozen=True)
class AuthTokens:
    access_token: JWT
    id_token: JWT | None
    refresh_token: str | None = field(default=None, repr=False)

    @property
    def expires_at(self) -> float:
        return float(self.access_token.payload.get("exp", 0))


@dataclass(frozen=True)
class AuthSession:
    """``fetch_auth_session()``: tokens (signed in) and identity-pool credentials (signed in or guest)."""

    tokens: AuthTokens | None
    credentials: AwsCredentials | None
    identity_id: str | None
    user_sub: str | None
    credentials_expire_at: float | None = None


@dataclass(frozen=True)
class CurrentUser:
    username: str
    user_id: str
    login_id: str | None


@dataclass(frozen=True)
class SignUpResult:
    is_sign_up_complete: bool
    user_id: str | None
    next_step: str                      # "DONE" | "CONFIRM_SIGN_UP"
    code_delivery_details: dict[str, Any] | None = None


@dataclass(frozen=True)
class SignInResult:
    is_signed_in: bool
    next_step: str     # "DONE" | "CONFIRM_SIGN_UP" | "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED"


@dataclass(frozen=True)
class ResetPasswordResult:
    is_password_reset: bool
    next_step: str     # "CONFIRM_RESET_PASSWORD_WITH_CODE" | "DONE"
    code_delivery_details: dict[str, Any] | None = None


@dataclass(frozen=True)
class UpdateUserAttributeResult:
    is_updated: bool
    next_step: str     # "DONE" | "CONFIRM_ATTRIBUTE_WITH_CODE"
    code_delivery_details: dict[str, Any] | None = None


# -- configuration ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Pool:
    region: str
    user_pool_id: str
    client_id: str
    identity_pool_id: str | None
    allow_guests: bool
    user_pool_endpoint: str
    identity_pool_endpoint: str
    verify: Any

    @classmethod
    def from_config(cls, config: Config) -> _Pool:
        auth = config.auth
        if not auth or not auth.get("user_pool_id") or not auth.get("user_pool_client_id"):
            raise ConfigurationError("amplify_outputs.json has no 'auth' section (user_pool_id, "
                                     "user_pool_client_id): the backend has no define_auth()")
        region = auth.get("aws_region") or str(auth["user_pool_id"]).split("_")[0]
        custom = config.outputs.get("custom")
        cove = custom.get("cove") if isinstance(custom, Mapping) else None
        cove = cove if isinstance(cove, Mapping) else {}
        user_pool = cove.get("user_pool_endpoint") or f"https://cognito-idp.{region}.amazonaws.com/"
        identity = cove.get("identity_pool_endpoint") or f"https://cognito-identity.{region}.amazonaws.com/"
        ca = cove.get("ca_file")
        verify: Any = ca if isinstance(ca, str) and os.path.exists(ca) else True
        return cls(region, auth["user_pool_id"], auth["user_pool_client_id"], auth.get("identity_pool_id"),
                   bool(auth.get("unauthenticated_identities_enabled")), user_pool, identity, verify)


# -- sessions --------------------------------------------------------------------------------------

class _Session:
    """One user pool client's signed-in state (tokens, identity, credentials)."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.lock = threading.Lock()
        self.tokens: AuthTokens | None = None
        self.login_id: str | None = None
        self.identity_id: str | None = None
        self.identity_authenticated = False
        self.credentials: AwsCredentials | None = None
        self.credentials_expire_at = 0.0
        self.challenge: dict[str, Any] | None = None

    def set_tokens(self, result: Mapping[str, Any], login_id: str | None = None) -> None:
        refresh = result.get("RefreshToken") or (self.tokens.refresh_token if self.tokens else None)
        ident = result.get("IdToken")
        tokens = AuthTokens(JWT.decode(result["AccessToken"]), JWT.decode(ident) if ident else None, refresh)
        user = tokens.access_token.payload.get("sub")
        with self.lock:
            if self.tokens is None or self.tokens.access_token.payload.get("sub") != user:
                self._forget_identity()
            self.tokens = tokens
            if login_id is not None:
                self.login_id = login_id

    def _forget_identity(self) -> None:
        self.credentials = None
        self.credentials_expire_at = 0.0
        if self.identity_authenticated:
            self.identity_id = None
        self.identity_authenticated = False

    def clear(self) -> None:
        with self.lock:
            self.tokens = None
            self.login_id = None
            self.challenge = None
            self.identity_id = None
            self.identity_authenticated = False
            self.credentials = None
            self.credentials_expire_at = 0.0

    def needs_refresh(self, now: float | None = None) -> bool:
        tokens = self.tokens
        if tokens is None:
            return False
        payload = tokens.access_token.payload
        exp = float(payload.get("exp", 0))
        life = exp - float(payload.get("iat", exp))
        margin = min(60.0, max(life / 2, 1.0))
        return exp - margin <= (now if now is not None else time.time())


_sessions: dict[tuple[str, str], _Session] = {}
_sessions_lock = threading.Lock()


def session_of(config: ConfigSource | None) -> _Session:
    cfg = load_config(config) if config is not None else get_config()
    pool = _Pool.from_config(cfg)
    key = (pool.user_pool_endpoint, pool.client_id)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None or session.pool != pool:
            session = _sessions[key] = _Session(pool)
        return session


def session_for(config: Config) -> _Session | None:
    """The session of ``config``'s user pool, or None when it has no auth section (for providers)."""
    try:
        return session_of(config)
    except ConfigurationError:
        return None


# -- the I/O-free flows ----------------------------------------------------------------------------
# A flow is a generator: it yields (service, operation, body) and receives the decoded answer; an
# error answer is thrown into it as AuthError. Its return value is the function's result.

Call = tuple[str, str, dict[str, Any]]
Flow = Generator[Call, dict[str, Any], Any]


def _attributes(attributes: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": str(v)} for k, v in (attributes or {}).items()]


def sign_up_flow(session: _Session, username: str, password: str, attributes: Mapping[str, str] | None) -> Flow:
    body: dict[str, Any] = {"ClientId": session.pool.client_id, "Username": username, "Password": password}
    attrs = dict(attributes or {})
    if "@" in username:
        attrs.setdefault("email", username)
    if attrs:
        body["UserAttributes"] = _attributes(attrs)
    answer = yield (_IDP, "SignUp", body)
    confirmed = bool(answer.get("UserConfirmed"))
    return SignUpResult(confirmed, answer.get("UserSub"), "DONE" if confirmed else "CONFIRM_SIGN_UP",
                        answer.get("CodeDeliveryDetails"))


def confirm_sign_up_flow(session: _Session, username: str, code: str) -> Flow:
    yield (_IDP, "ConfirmSignUp", {"ClientId": session.pool.client_id, "Username": username, "ConfirmationCode": code})
    return SignUpResult(True, None, "DONE")


def _finish_sign_in(session: _Session, answer: dict[str, Any], login_id: str) -> SignInResult:
    if "AuthenticationResult" in answer:
        session.set_tokens(answer["AuthenticationResult"], login_id)
        return SignInResult(True, "DONE")
    challenge = answer.get("ChallengeName")
    if challenge == "NEW_PASSWORD_REQUIRED":
        session.challenge = {"name": challenge, "session": answer.get("Session"), "login_id": login_id,
                             "username": (answer.get("ChallengeParameters") or {}).get("USER_ID_FOR_SRP", login_id)}
        return SignInResult(False, "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED")
    raise AuthError("UnsupportedChallenge", f"Cove's client does not answer the {challenge} challenge")


def sign_in_flow(session: _Session, username: str, password: str, auth_flow: str) -> Flow:
    if session.tokens is not None:
        raise AuthError("UserAlreadyAuthenticatedException", "There is already a signed in user.")
    pool = session.pool
    try:
        if auth_flow == "USER_PASSWORD_AUTH":
            answer = yield (_IDP, "InitiateAuth", {"ClientId": pool.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                                                   "AuthParameters": {"USERNAME": username, "PASSWORD": password}})
        elif auth_flow == "USER_SRP_AUTH":
            a, A = srp.client_ephemeral()
            answer = yield (_IDP, "InitiateAuth", {"ClientId": pool.client_id, "AuthFlow": "USER_SRP_AUTH",
                                                   "AuthParameters": {"USERNAME": username, "SRP_A": format(A, "x")}})
            if answer.get("ChallengeName") == "PASSWORD_VERIFIER":
                params = answer.get("ChallengeParameters") or {}
                user_id = params["USER_ID_FOR_SRP"]
                pool_name = srp.pool_name(pool.user_pool_id)
                key = srp.client_session_key(a, A, int(params["SRP_B"], 16), params["SALT"], pool_name, user_id,
                                             password)
                stamp = srp.now_string()
                signature = srp.signature(key, pool_name, user_id, params["SECRET_BLOCK"], stamp)
                answer = yield (_IDP, "RespondToAuthChallenge", {
                    "ClientId": pool.client_id, "ChallengeName": "PASSWORD_VERIFIER",
                    "ChallengeResponses": {"USERNAME": user_id, "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
                                           "TIMESTAMP": stamp, "PASSWORD_CLAIM_SIGNATURE": signature}})
        else:
            raise ConfigurationError(f"auth_flow {auth_flow!r}: use 'USER_SRP_AUTH' or 'USER_PASSWORD_AUTH'")
    except AuthError as exc:
        if exc.name == "UserNotConfirmedException":
            return SignInResult(False, "CONFIRM_SIGN_UP")
        raise
    return _finish_sign_in(session, answer, username)


def confirm_sign_in_flow(session: _Session, challenge_response: str) -> Flow:
    challenge = session.challenge
    if challenge is None:
        raise AuthError("SignInException", "There is no sign-in waiting for confirmation; call sign_in first")
    answer = yield (_IDP, "RespondToAuthChallenge", {
        "ClientId": session.pool.client_id, "ChallengeName": challenge["name"], "Session": challenge["session"],
        "ChallengeResponses": {"USERNAME": challenge["username"], "NEW_PASSWORD": challenge_response}})
    session.challenge = None
    return _finish_sign_in(session, answer, challenge["login_id"])


def refresh_flow(session: _Session) -> Flow:
    tokens = session.tokens
    if tokens is None or not tokens.refresh_token:
        return None
    try:
        answer = yield (_IDP, "InitiateAuth", {"ClientId": session.pool.client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                                               "AuthParameters": {"REFRESH_TOKEN": tokens.refresh_token}})
    except AuthError as exc:
        if exc.name == "NotAuthorizedException":  # revoked or expired: the session is over
            session.clear()
        raise
    session.set_tokens(answer["AuthenticationResult"])
    return None


def sign_out_flow(session: _Session, global_sign_out: bool) -> Flow:
    tokens = session.tokens
    try:
        if tokens is not None:
            if global_sign_out:
                yield (_IDP, "GlobalSignOut", {"AccessToken": tokens.access_token.token})
            elif tokens.refresh_token and tokens.access_token.payload.get("origin_jti"):
                yield (_IDP, "RevokeToken", {"ClientId": session.pool.client_id, "Token": tokens.refresh_token})
    finally:
        session.clear()
    return None


def fetch_session_flow(session: _Session, force_refresh: bool) -> Flow:
    if session.tokens is not None and (force_refresh or session.needs_refresh()):
        yield from refresh_flow(session)
    tokens = session.tokens
    pool = session.pool
    now = time.time()
    if pool.identity_pool_id and (tokens is not None or pool.allow_guests):
        authenticated = tokens is not None
        if (force_refresh or session.credentials is None or session.credentials_expire_at - 300 <= now
                or session.identity_authenticated != authenticated):
            logins = None
            if tokens is not None and tokens.id_token is not None:
                issuer = str(tokens.id_token.payload.get("iss", ""))
                logins = {issuer.split("://", 1)[-1]: tokens.id_token.token}
            if session.identity_id is None:
                body: dict[str, Any] = {"IdentityPoolId": pool.identity_pool_id}
                if logins:
                    body["Logins"] = logins
                answer = yield (_IDENTITY, "GetId", body)
                session.identity_id = answer["IdentityId"]
            body = {"IdentityId": session.identity_id}
            if logins:
                body["Logins"] = logins
            answer = yield (_IDENTITY, "GetCredentialsForIdentity", body)
            c = answer["Credentials"]
            session.identity_id = answer.get("IdentityId", session.identity_id)
            session.identity_authenticated = authenticated
            session.credentials = AwsCredentials(c["AccessKeyId"], c["SecretKey"], c.get("SessionToken"))
            session.credentials_expire_at = float(c.get("Expiration") or now + 3600)
    sub = tokens.access_token.payload.get("sub") if tokens is not None else None
    creds = session.credentials if (pool.identity_pool_id and (tokens is not None or pool.allow_guests)) else None
    return AuthSession(tokens, creds, session.identity_id if creds else None, sub,
                       session.credentials_expire_at if creds else None)


def reset_password_flow(session: _Session, username: str) -> Flow:
    answer = yield (_IDP, "ForgotPassword", {"ClientId": session.pool.client_id, "Username": username})
    return ResetPasswordResult(False, "CONFIRM_RESET_PASSWORD_WITH_CODE", answer.get("CodeDeliveryDetails"))


def confirm_reset_password_flow(session: _Session, username: str, code: str, new_password: str) -> Flow:
    yield (_IDP, "ConfirmForgotPassword", {"ClientId": session.pool.client_id, "Username": username,
                                           "ConfirmationCode": code, "Password": new_password})
    return None


def _signed_in_token(session: _Session) -> Flow:
    """The current access token, refreshed first when it is about to expire."""
    if session.tokens is not None and session.needs_refresh():
        yield from refresh_flow(session)
    tokens = session.tokens
    if tokens is None:
        raise AuthError("UserUnAuthenticatedException", "User needs to be authenticated to call this API.")
    return tokens.access_token.token


def update_password_flow(session: _Session, old_password: str, new_password: str) -> Flow:
    token = yield from _signed_in_token(session)
    yield (_IDP, "ChangePassword", {"AccessToken": token, "PreviousPassword": old_password,
                                    "ProposedPassword": new_password})
    return None


def update_user_attributes_flow(session: _Session, attributes: Mapping[str, str]) -> Flow:
    token = yield from _signed_in_token(session)
    answer = yield (_IDP, "UpdateUserAttributes", {"AccessToken": token, "UserAttributes": _attributes(attributes)})
    pending = {d.get("AttributeName"): d for d in answer.get("CodeDeliveryDetailsList") or []}
    return {name: UpdateUserAttributeResult(name not in pending,
                                            "CONFIRM_ATTRIBUTE_WITH_CODE" if name in pending else "DONE",
                                            pending.get(name))
            for name in attributes}


def delete_user_flow(session: _Session) -> Flow:
    token = yield from _signed_in_token(session)
    yield (_IDP, "DeleteUser", {"AccessToken": token})
    session.clear()
    return None


def current_user(session: _Session) -> CurrentUser:
    tokens = session.tokens
    if tokens is None:
        raise AuthError("UserUnAuthenticatedException", "User needs to be authenticated to call this API.")
    payload = tokens.access_token.payload
    return CurrentUser(str(payload.get("username") or payload.get("cognito:username") or ""),
                       str(payload.get("sub", "")), session.login_id)


# -- I/O: the sync and async drivers ---------------------------------------------------------------

def _request_parts(session: _Session, call: Call) -> tuple[str, dict[str, str], bytes]:
    service, operation, body = call
    url = session.pool.user_pool_endpoint if service == _IDP else session.pool.identity_pool_endpoint
    headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": f"{service}.{operation}",
               "x-amz-user-agent": "cove-python auth"}
    return url, headers, orjson.dumps(body)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        payload = None
    if response.status_code >= 300 or not isinstance(payload, dict):
        name = None
        header = response.headers.get("x-amzn-errortype")
        if header:
            name = header.split(":", 1)[0]
        message = "Unknown error"
        if isinstance(payload, dict):
            name = name or str(payload.get("__type", "")).rsplit("#", 1)[-1] or None
            message = str(payload.get("message") or payload.get("Message") or message)
        raise AuthError(name or f"HTTP{response.status_code}", message)
    return payload


def run_sync(session: _Session, flow: Flow) -> Any:
    with httpx.Client(timeout=_TIMEOUT, verify=session.pool.verify) as http:
        answer: Any = None
        error: AuthError | None = None
        try:
            while True:
                call = flow.throw(error) if error is not None else flow.send(answer)
                error = None
                url, headers, body = _request_parts(session, call)
                try:
                    response = http.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    raise TransportError(f"{type(exc).__name__}: {exc} ({url})") from exc
                try:
                    answer = _answer(response)
                except AuthError as exc:
                    error = exc
        except StopIteration as stop:
            return stop.value


async def run_async(session: _Session, flow: Flow) -> Any:
    async with httpx.AsyncClient(timeout=_TIMEOUT, verify=session.pool.verify) as http:
        answer: Any = None
        error: AuthError | None = None
        try:
            while True:
                call = flow.throw(error) if error is not None else flow.send(answer)
                error = None
                url, headers, body = _request_parts(session, call)
                try:
                    response = await http.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    raise TransportError(f"{type(exc).__name__}: {exc} ({url})") from exc
                try:
                    answer = _answer(response)
                except AuthError as exc:
                    error = exc
        except StopIteration as stop:
            return stop.value


# -- used by the client's auth providers -----------------------------------------------------------

def access_token(config: Config) -> str | None:
    """The signed-in user's access token for ``config``, refreshed first when it is about to expire."""
    s = session_for(config)
    if s is None or s.tokens is None:
        return None
    if s.needs_refresh():
        run_sync(s, refresh_flow(s))
    return s.tokens.access_token.token if s.tokens else None


async def aaccess_token(config: Config) -> str | None:
    s = session_for(config)
    if s is None or s.tokens is None:
        return None
    if s.needs_refresh():
        await run_async(s, refresh_flow(s))
    return s.tokens.access_token.token if s.tokens else None


def identity_credentials(config: Config) -> AwsCredentials | None:
    """Identity-pool credentials (signed-in or guest) for ``config``, or None when it has none."""
    s = session_for(config)
    if s is None or not s.pool.identity_pool_id or (s.tokens is None and not s.pool.allow_guests):
        return None
    return run_sync(s, fetch_session_flow(s, False)).credentials  # type: ignore[no-any-return]


async def aidentity_credentials(config: Config) -> AwsCredentials | None:
    s = session_for(config)
    if s is None or not s.pool.identity_pool_id or (s.tokens is None and not s.pool.allow_guests):
        return None
    session: AuthSession = await run_async(s, fetch_session_flow(s, False))
    return session.credentials
