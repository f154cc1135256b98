"""A user pool speaking Cognito's JSON API (``X-Amz-Target: AWSCognitoIdentityProviderService.*``).

Served by the sandbox so boto3's ``cognito-idp`` client and aws-amplify's Auth work against it
unchanged. Users sign in by email (or phone); as in Amplify Gen 2 pools, the Cognito username is a
UUID equal to ``sub`` and the email is an alias. Passwords are hashed with argon2id and, for
``USER_SRP_AUTH``, also kept as an SRP verifier. Tokens are RS256 JWTs with Cognito's claims;
refresh tokens are opaque, stored hashed, and revocable.

Calls are synchronous (argon2 and SRP are CPU work); the HTTP layer runs them in a thread.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cove.schema.model import AuthSettings, PasswordPolicy

from . import attributes as attributes_
from cove.wire import srp
from .delivery import CodeDeliveryError, CodeEvent, CodeHook, deliver
from .sealing import Sealer, SealError
from .guard import Guard, unknown_login_key
from .store import DuplicateUser, IdentityStore, RefreshToken, User
from .tokens import TokenError, UserPoolTokens

SIGN_UP_CODE_TTL = 24 * 3600
RESET_CODE_TTL = 3600
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9]\d{4,14}$")
_log = logging.getLogger("cove.identity")


class CognitoError(Exception):
    """An error answer of the Cognito JSON API: HTTP 400 ``{"__type": ..., "message": ...}``."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


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


def _str(body: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise CognitoError("InvalidParameterException", f"1 validation error detected: Value at '{name[:1].lower() + name[1:]}' "
                           "failed to satisfy constraint: Member must not be null")
    if len(value) > 8192:
        raise CognitoError("InvalidParameterException", f"{name} is too long")
    return value


def _attributes(body: Mapping[str, Any], name: str = "UserAttributes") -> dict[str, str]:
    raw = body.get(name) or []
    if not isinstance(raw, list):
        raise CognitoError("InvalidParameterException", f"{name} must be a list of {{Name, Value}}")
    out: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("Name"), str) \
                or not isinstance(item.get("Value", ""), str):
            raise CognitoError("InvalidParameterException", f"{name} must be a list of {{Name, Value}}")
        out[item["Name"]] = item.get("Value", "")
    return out


def _attribute_list(user: User) -> list[dict[str, str]]:
    attrs = {"sub": user.sub, **user.attributes}
    return [{"Name": k, "Value": str(v).lower() if isinstance(v, bool) else str(v)} for k, v in attrs.items()]


def _mask(destination: str) -> str:
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    return "+*******" + destination[-4:]


class UserPool:
    """The user pool's operations, named as Cognito's API names them."""

    PUBLIC = frozenset({"SignUp", "ConfirmSignUp", "ResendConfirmationCode", "InitiateAuth", "RespondToAuthChallenge",
                        "GetTokensFromRefreshToken",
                        "GetUser", "GlobalSignOut", "RevokeToken", "ForgotPassword", "ConfirmForgotPassword",
                        "ChangePassword", "DeleteUser", "UpdateUserAttributes"})
    ADMIN = frozenset({"AdminCreateUser", "AdminGetUser", "AdminDeleteUser", "AdminAddUserToGroup",
                       "AdminRemoveUserFromGroup", "AdminUpdateUserAttributes", "AdminListGroupsForUser",
                       "AdminConfirmSignUp",
                       "AdminSetUserPassword", "AdminUserGlobalSignOut", "AdminDisableUser", "AdminEnableUser",
                       "ListUsers", "ListGroups", "ListUsersInGroup", "DescribeUserPool", "DescribeUserPoolClient"})

    def __init__(self, store: IdentityStore, settings: AuthSettings, *, pool_id: str, client_id: str,
                 tokens: UserPoolTokens, master: bytes, auto_confirm: bool = True,
                 on_send_code: CodeHook | None = None, guard: Guard | None = None) -> None:
        self.store = store
        self.guard = guard or Guard()
        self.settings = settings
        self.pool_id = pool_id
        self.client_id = client_id
        self.tokens = tokens
        self.auto_confirm = auto_confirm
        self.on_send_code = on_send_code   # settings.on_send_code, else SMTP, else the sandbox's printer
        self.pool_name = srp.pool_name(pool_id)
        self._srp = Sealer(master, "srp-secret-block")
        self._session = Sealer(master, "challenge-session")
        self._decoy_key = hmac.new(master, b"decoy-users", hashlib.sha256).digest()

    # -- dispatch ------------------------------------------------------------------------------
    def call(self, operation: str, body: Mapping[str, Any], *, admin: bool = False) -> dict[str, Any]:
        if operation in self.ADMIN:
            if not admin:
                raise CognitoError("AccessDeniedException", f"{operation} needs a request signed with the server's "
                                   "IAM credentials (cove iam create)", 403)
            if body.get("UserPoolId") != self.pool_id:
                raise CognitoError("ResourceNotFoundException", f"User pool {body.get('UserPoolId')} does not exist.")
        elif operation not in self.PUBLIC:
            raise CognitoError("UnknownOperationException", f"Cove does not implement {operation}")
        handler = getattr(self, "op_" + operation)
        result: dict[str, Any] = handler(body)
        return result

    def _client(self, body: Mapping[str, Any]) -> str:
        client_id = _str(body, "ClientId")
        if client_id != self.client_id:
            raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client_id

    # -- helpers -------------------------------------------------------------------------------
    @property
    def _hook(self) -> CodeHook | None:
        return self.settings.on_send_code or self.on_send_code

    def _send(self, user: User, trigger: str, code: str) -> dict[str, str]:
        """Deliver a code (or a temporary password) through the hook; CodeDeliveryFailureException if
        it cannot be delivered (the details go to the server's log, not to the client)."""
        hook = self._hook
        if hook is None:
            _log.error("no code delivery is configured: set define_auth(on_send_code=...) or COVE_SMTP_HOST")
            raise CognitoError("CodeDeliveryFailureException", "Unable to deliver the code: the user pool has no "
                               "code delivery configured.")
        medium = "EMAIL" if user.email else "SMS"
        destination = user.email or user.phone_number or ""
        event = CodeEvent(trigger=trigger, code=code, destination=destination, delivery_medium=medium,
                          username=user.username, user_attributes={"sub": user.sub, **user.attributes},
                          user_pool_id=self.pool_id)
        try:
            deliver(hook, event)
        except CodeDeliveryError as exc:
            _log.error("code delivery failed (%s for user %s): %s", event.trigger_source, user.username, exc)
            raise CognitoError("CodeDeliveryFailureException", "Unable to deliver the code; try again later.") \
                from None
        return {"Destination": _mask(destination), "DeliveryMedium": medium,
                "AttributeName": "email" if user.email else "phone_number"}

    def _limit_code_sends(self, key: str) -> None:
        if not self.guard.code_sends.allow(key):
            raise CognitoError("LimitExceededException", "Attempt limit exceeded, please try after some time.")

    def _new_code(self, user: User, purpose: str, trigger: str) -> dict[str, str]:
        """Make, store and deliver a code; if delivery fails the code is withdrawn."""
        self._limit_code_sends(user.username)
        code = f"{secrets.randbelow(10**6):06d}"
        ttl = RESET_CODE_TTL if purpose == "reset" else SIGN_UP_CODE_TTL
        self.store.update_user(user.username, code=code, code_purpose=purpose, code_expires_at=time.time() + ttl,
                               code_attempts=0)
        try:
            return self._send(user, trigger, code)
        except CognitoError:
            self.store.update_user(user.username, code=None, code_purpose=None, code_expires_at=None)
            raise

    def _check_code(self, user: User, purpose: str, code: str) -> None:
        """A code works until it expires or has been guessed wrong ``code_attempts`` times."""
        if user.code_purpose != purpose:
            raise CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")
        if user.code is None or (user.code_expires_at or 0) < time.time():
            raise CognitoError("ExpiredCodeException", "Invalid code provided, please request a code again.")
        if not hmac.compare_digest(user.code.encode(), code.encode()):
            self.store.code_failed(user.username, user.code, self.guard.limits.code_attempts)
            raise CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")

    # -- answers for logins that do not exist (prevent user existence errors) ------------------
    @property
    def _hide_users(self) -> bool:
        return self.settings.prevent_user_existence_errors

    def _decoy(self, login: str, purpose: str) -> bytes:
        return hmac.new(self._decoy_key, f"{purpose}|{login.lower()}".encode(), hashlib.sha256).digest()

    def _unknown(self, login: str) -> User:
        """Raise UserNotFoundException, unless users are hidden: then the caller answers as for a real user."""
        if not self._hide_users:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        return User(username=str(uuid.UUID(bytes=self._decoy(login, "username")[:16], version=4)), sub="",
                    email=login.lower() if _EMAIL.match(login) else None,
                    phone_number=login if _PHONE.match(login) else None, attributes={}, password_hash=None,
                    srp_salt=None, srp_verifier=None, status="CONFIRMED", enabled=True, created_at=0, updated_at=0)

    def _decoy_delivery(self, login: str) -> dict[str, str]:
        """What ``_new_code`` answers for a user that does not exist, without sending anything."""
        decoy = self._unknown(login)
        self._limit_code_sends(unknown_login_key(login))
        if self._hook is None:  # a known user would get CodeDeliveryFailureException: so does an unknown one
            raise CognitoError("CodeDeliveryFailureException", "Unable to deliver the code: the user pool has no "
                               "code delivery configured.")
        self._decoy_write()
        if decoy.email or not decoy.phone_number:
            letters = self._decoy(login, "destination")
            destination = decoy.email or f"{chr(97 + letters[0] % 26)}@{chr(97 + letters[1] % 26)}.com"
            return {"Destination": _mask(destination), "DeliveryMedium": "EMAIL", "AttributeName": "email"}
        return {"Destination": _mask(decoy.phone_number), "DeliveryMedium": "SMS", "AttributeName": "phone_number"}

    def _decoy_srp(self, login: str) -> tuple[str, str]:
        """A salt and verifier for a login with none: derived from it, so stable like a real user's."""
        salt = srp.pad_hex(int.from_bytes(self._decoy(login, "salt")[:16], "big") | 1)
        verifier = int.from_bytes(b"".join(self._decoy(login, f"v{i}") for i in range(12)), "big") % srp.N
        return salt, format(verifier, "x")

    def _decoy_write(self) -> None:
        """Sending a known user a code costs a committed write, an fsync: commit one for an unknown
        user too, or the response time tells them apart."""
        self.store.set_meta("decoy_write_at", str(time.time()))

    def _lock_key(self, login: str, user: User | None) -> str:
        return user.username if user is not None else unknown_login_key(login)

    def _check_lockout(self, key: str) -> None:
        if self.guard.passwords.locked(key):
            raise CognitoError("NotAuthorizedException", "Password attempts exceeded")

    def _wrong_password(self, key: str) -> CognitoError:
        self.guard.passwords.failed(key)
        return CognitoError("NotAuthorizedException", "Incorrect username or password.")

    def _find(self, login: str) -> User:
        user = self.store.find_user(login)
        if user is None:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        return user

    def check_writes(self, changes: Mapping[str, str], *, admin: bool, creating: bool = False) -> None:
        try:
            attributes_.check_writes(self.settings, changes, admin=admin, creating=creating)
        except attributes_.AttributeRefused as exc:
            raise CognitoError("InvalidParameterException", str(exc)) from None

    def _policy(self, password: str) -> None:
        problem = policy_violation(self.settings.password_policy, password)
        if problem:
            raise CognitoError("InvalidPasswordException", problem)

    def _set_password(self, user: User, password: str, **changes: Any) -> None:
        salt, verifier = srp.make_verifier(self.pool_name, user.username, password)
        self.store.update_user(user.username, password_hash=hash_password(password), srp_salt=salt,
                               srp_verifier=verifier, **changes)

    def _login_attributes(self, username_in: str, attributes: dict[str, str]) -> dict[str, str]:
        """Fill in email/phone from the sign-up username, as an email-login pool does."""
        attrs = dict(attributes)
        if _EMAIL.match(username_in) and "email" in self.settings.login_with:
            attrs.setdefault("email", username_in)
        elif _PHONE.match(username_in) and "phone_number" in self.settings.login_with:
            attrs.setdefault("phone_number", username_in)
        elif "email" in self.settings.login_with and "phone_number" not in self.settings.login_with:
            raise CognitoError("InvalidParameterException", "Username should be an email.")
        elif "phone_number" in self.settings.login_with and "email" not in self.settings.login_with:
            raise CognitoError("InvalidParameterException", "Username should be a phone number.")
        else:
            raise CognitoError("InvalidParameterException", "Username should be either an email or a phone number.")
        if "email" in attrs:
            if not _EMAIL.match(attrs["email"]):
                raise CognitoError("InvalidParameterException", "Invalid email address format.")
            attrs["email"] = attrs["email"].lower()
        if "phone_number" in attrs and not _PHONE.match(attrs["phone_number"]):
            raise CognitoError("InvalidParameterException", "Invalid phone number format.")
        required = ["email"] if "email" in self.settings.login_with and "email" not in attrs else []
        missing = required[0] if required else attributes_.missing_required(self.settings, attrs)
        if missing:
            raise CognitoError("InvalidParameterException", f"Attributes did not conform to the schema: {missing}: "
                               "The attribute is required")
        return attrs

    def create_user(self, login: str, password: str | None, attributes: dict[str, str] | None = None, *,
                    status: str = "CONFIRMED", groups: list[str] | None = None, admin: bool = True) -> User:
        """Create a user (sign-up and the admin/CLI paths share this); ``admin`` False for SignUp."""
        self.check_writes(attributes or {}, admin=admin, creating=True)
        if password is not None:
            self._policy(password)
        known_groups = {g[0] for g in self.store.list_groups()}
        if any(g not in known_groups for g in groups or []):  # checked first: a failed create adds nobody
            raise CognitoError("ResourceNotFoundException", "Group not found.")
        attrs = self._login_attributes(login, attributes or {})
        now = time.time()
        sub = str(uuid.uuid4())
        if status == "CONFIRMED":
            if "email" in attrs:
                attrs.setdefault("email_verified", "true")
            if "phone_number" in attrs:
                attrs.setdefault("phone_number_verified", "true")
        user = User(username=sub, sub=sub, email=attrs.get("email"), phone_number=attrs.get("phone_number"),
                    attributes=attrs, password_hash=None, srp_salt=None, srp_verifier=None, status=status,
                    enabled=True, created_at=now, updated_at=now)
        try:
            self.store.create_user(user)
        except DuplicateUser:
            what = "email" if "email" in attrs else "phone_number"
            raise CognitoError("UsernameExistsException", f"An account with the given {what} already exists.") from None
        if password is not None:
            self._set_password(user, password)
        for g in groups or []:
            self.add_to_group(user.username, g)
        created = self.store.find_user(user.username)
        assert created is not None
        return created

    def add_to_group(self, username: str, group: str) -> None:
        if group not in {g[0] for g in self.store.list_groups()}:
            raise CognitoError("ResourceNotFoundException", "Group not found.")
        self.store.add_to_group(username, group)

    def _authentication_result(self, user: User, client_id: str, *, refresh: bool = True,
                               origin_jti: str | None = None, auth_time: int | None = None) -> dict[str, Any]:
        origin = origin_jti or str(uuid.uuid4())
        when = auth_time or int(time.time())
        access, ident, expires_in = self.tokens.issue(sub=user.sub, username=user.username, groups=user.groups,
                                                      attributes=user.attributes, origin_jti=origin,
                                                      auth_time=when, client_id=client_id)
        result: dict[str, Any] = {"AccessToken": access, "ExpiresIn": expires_in, "TokenType": "Bearer",
                                  "IdToken": ident}
        if refresh:
            token = "cove1." + secrets.token_urlsafe(48)
            self.store.save_refresh_token(_token_hash(token), RefreshToken(
                user.username, client_id, origin, when, time.time() + self.settings.refresh_token_validity, False))
            result["RefreshToken"] = token
        return {"ChallengeParameters": {}, "AuthenticationResult": result}

    def _usable(self, user: User) -> None:
        if not user.enabled:
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        if user.status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")
        if user.status == "RESET_REQUIRED":
            raise CognitoError("PasswordResetRequiredException", "Password reset required for the user")

    def _password_signin(self, login: str, password: str, client_id: str) -> dict[str, Any]:
        user = self.store.find_user(login)
        key = self._lock_key(login, user)
        self._check_lockout(key)
        if user is None:
            self._unknown(login)
        stored = user.password_hash if user is not None else None
        # an unknown user's check costs the same argon2 time as a known one's (the decoy never matches)
        if not check_password(stored or _decoy_hash(), password) or user is None or stored is None:
            raise self._wrong_password(key)
        self.guard.passwords.succeeded(key)
        self._usable(user)
        if user.status == "FORCE_CHANGE_PASSWORD":
            return self._new_password_challenge(user)
        return self._authentication_result(user, client_id)

    def _new_password_challenge(self, user: User) -> dict[str, Any]:
        session = self._session.seal({"u": user.username, "c": "NEW_PASSWORD_REQUIRED"}, 180)
        return {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": session,
                "ChallengeParameters": {"USER_ID_FOR_SRP": user.username, "requiredAttributes": "[]",
                                        "userAttributes": "{}"}}

    def access_claims(self, token: str) -> tuple[dict[str, Any], User]:
        """Verify an access token for the pool's own APIs (revoked sessions are refused here)."""
        try:
            claims = self.tokens.verify(token, token_use="access")
        except TokenError as exc:
            message = "Access Token has expired" if "expired" in str(exc) else "Invalid Access Token"
            raise CognitoError("NotAuthorizedException", message) from None
        user = self.store.find_user(str(claims.get("username")))
        if user is None:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        if claims.get("origin_jti") in self.store.revoked_origins(user.username):
            raise CognitoError("NotAuthorizedException", "Access Token has been revoked")
        return claims, user

    # -- public operations ---------------------------------------------------------------------
    def op_SignUp(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        if not self.settings.self_sign_up:
            raise CognitoError("NotAuthorizedException", "SignUp is not permitted for this user pool")
        login = _str(body, "Username")
        password = _str(body, "Password")
        required = self.settings.require_confirmation
        confirmed = self.auto_confirm if required is None else not required
        status = "CONFIRMED" if confirmed else "UNCONFIRMED"
        user = self.create_user(login, password, _attributes(body), status=status, admin=False)
        result: dict[str, Any] = {"UserConfirmed": confirmed, "UserSub": user.sub}
        if not confirmed:
            try:
                result["CodeDeliveryDetails"] = self._new_code(user, "signup", "sign_up")
            except CognitoError:
                self.store.delete_user(user.username)  # nothing half made: the address can sign up again
                raise
        return result

    def op_ConfirmSignUp(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        user = self._find_or_mismatch(_str(body, "Username"))
        code = _str(body, "ConfirmationCode")
        if user.status == "CONFIRMED":
            raise CognitoError("NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")
        self._check_code(user, "signup", code)
        attrs = dict(user.attributes)
        attrs["email_verified" if user.email else "phone_number_verified"] = "true"
        self.store.update_user(user.username, status="CONFIRMED", code=None, code_purpose=None, code_expires_at=None,
                               attributes=attrs)
        return {}

    def op_ResendConfirmationCode(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        login = _str(body, "Username")
        user = self.store.find_user(login)
        if user is None or (user.status != "UNCONFIRMED" and self._hide_users):
            return {"CodeDeliveryDetails": self._decoy_delivery(login)}
        if user.status != "UNCONFIRMED":
            raise CognitoError("InvalidParameterException", "User is already confirmed.")
        return {"CodeDeliveryDetails": self._new_code(user, "signup", "resend_code")}

    def op_InitiateAuth(self, body: Mapping[str, Any]) -> dict[str, Any]:
        client_id = self._client(body)
        flow = _str(body, "AuthFlow")
        params = body.get("AuthParameters") or {}
        if not isinstance(params, Mapping):
            raise CognitoError("InvalidParameterException", "AuthParameters must be a map")
        if flow == "USER_PASSWORD_AUTH":
            return self._password_signin(_str(params, "USERNAME"), _str(params, "PASSWORD"), client_id)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return self._refresh(_str(params, "REFRESH_TOKEN"), client_id)
        if flow == "USER_SRP_AUTH":
            return self._srp_start(_str(params, "USERNAME"), _str(params, "SRP_A"))
        raise CognitoError("InvalidParameterException", f"Unsupported AuthFlow {flow}; Cove supports "
                           "USER_PASSWORD_AUTH, USER_SRP_AUTH and REFRESH_TOKEN_AUTH")

    def op_GetTokensFromRefreshToken(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Cognito's newer refresh call (what aws-amplify 6.22 uses); no refresh-token rotation."""
        client_id = self._client(body)
        result = self._refresh(_str(body, "RefreshToken"), client_id)
        return {"AuthenticationResult": result["AuthenticationResult"]}

    def _refresh(self, token: str, client_id: str) -> dict[str, Any]:
        record = self.store.find_refresh_token(_token_hash(token))
        if record is None or record.revoked or record.client_id != client_id:
            raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
        if record.expires_at < time.time():
            raise CognitoError("NotAuthorizedException", "Refresh Token has expired")
        user = self.store.find_user(record.username)
        if user is None:
            raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
        self._usable(user)
        return self._authentication_result(user, client_id, refresh=False, origin_jti=record.origin_jti,
                                           auth_time=record.auth_time)

    def _srp_start(self, login: str, srp_a: str) -> dict[str, Any]:
        try:
            A = int(srp_a, 16)
        except ValueError:
            raise CognitoError("InvalidParameterException", "SRP_A is not a hex number") from None
        if A % srp.N == 0 or len(srp_a) > 2048:
            raise CognitoError("InvalidParameterException", "Illegal SRP_A")
        user = self.store.find_user(login)
        if user is None or not user.srp_verifier or not user.srp_salt:
            # A plausible challenge for a login that does not exist (or has no password yet): the salt
            # and verifier are derived from the login, so they are stable like a real user's, and B
            # is fresh each time like a real user's; the answer is then refused in _srp_finish.
            user = self._unknown(login) if user is None else user
            salt, verifier = self._decoy_srp(login)
        else:
            salt, verifier = user.srp_salt, user.srp_verifier
        b, B = srp.server_ephemeral(verifier)
        block = self._srp.seal({"u": user.username, "l": login, "b": format(b, "x"), "B": format(B, "x"),
                                "A": srp_a}, 300)
        return {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": {
            "SALT": salt, "SECRET_BLOCK": block, "SRP_B": format(B, "x"), "USERNAME": user.username,
            "USER_ID_FOR_SRP": user.username}}

    def op_RespondToAuthChallenge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        client_id = self._client(body)
        name = _str(body, "ChallengeName")
        responses = body.get("ChallengeResponses") or {}
        if not isinstance(responses, Mapping):
            raise CognitoError("InvalidParameterException", "ChallengeResponses must be a map")
        if name == "PASSWORD_VERIFIER":
            return self._srp_finish(responses, client_id)
        if name == "NEW_PASSWORD_REQUIRED":
            try:
                session = self._session.open(_str(body, "Session"))
            except SealError:
                raise CognitoError("NotAuthorizedException", "Invalid session for the user, session is expired.") from None
            user = self._find(session["u"])
            password = _str(responses, "NEW_PASSWORD")
            self._policy(password)
            self._set_password(user, password, status="CONFIRMED")
            user = self._find(user.username)
            return self._authentication_result(user, client_id)
        raise CognitoError("InvalidParameterException", f"Unsupported challenge {name}")

    def _srp_finish(self, responses: Mapping[str, Any], client_id: str) -> dict[str, Any]:
        try:
            state = self._srp.open(_str(responses, "PASSWORD_CLAIM_SECRET_BLOCK"))
        except SealError:
            raise CognitoError("NotAuthorizedException", "Incorrect username or password.") from None
        user = self.store.find_user(state["u"])
        lock = self._lock_key(str(state.get("l", "")), user)
        self._check_lockout(lock)
        timestamp = _str(responses, "TIMESTAMP")
        claimed = _str(responses, "PASSWORD_CLAIM_SIGNATURE")
        when = srp.parse_timestamp(timestamp)
        if when is None or abs(when - time.time()) > 300:
            raise self._wrong_password(lock)
        if user is not None and responses.get("USERNAME") not in (None, user.username, user.email, user.phone_number):
            raise CognitoError("NotAuthorizedException", "Incorrect username or password.")
        # A login without a verifier does the same SRP work on its decoy verifier, so the time tells nothing.
        real = user.srp_verifier if user is not None else None
        verifier = real or self._decoy_srp(str(state.get("l", "")))[1]
        try:
            key = srp.session_key(int(state["A"], 16), int(state["B"], 16), int(state["b"], 16), verifier)
            expected = srp.signature(key, self.pool_name, str(state["u"]),
                                     _str(responses, "PASSWORD_CLAIM_SECRET_BLOCK"), timestamp)
        except srp.SrpError:
            raise self._wrong_password(lock) from None
        if not real or user is None or not hmac.compare_digest(expected.encode(), claimed.encode()):
            raise self._wrong_password(lock)
        self.guard.passwords.succeeded(lock)
        self._usable(user)
        if user.status == "FORCE_CHANGE_PASSWORD":
            return self._new_password_challenge(user)
        return self._authentication_result(user, client_id)

    def op_GetUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = self.access_claims(_str(body, "AccessToken"))
        return {"Username": user.username, "UserAttributes": _attribute_list(user)}

    def op_UpdateUserAttributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = self.access_claims(_str(body, "AccessToken"))
        changes = _attributes(body)
        self.check_writes(changes, admin=False)
        for name in ("email", "phone_number"):
            if name in changes:
                raise CognitoError("InvalidParameterException", f"Cove does not let users change {name} yet")
        self.store.update_user(user.username, attributes={**user.attributes, **changes})
        return {"CodeDeliveryDetailsList": []}

    def op_AdminUpdateUserAttributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        changes = _attributes(body)
        self.check_writes(changes, admin=True)
        logins: dict[str, Any] = {}
        if "email" in changes:
            if not _EMAIL.match(changes["email"]):
                raise CognitoError("InvalidParameterException", "Invalid email address format.")
            changes["email"] = logins["email"] = changes["email"].lower()
        if "phone_number" in changes:
            if not _PHONE.match(changes["phone_number"]):
                raise CognitoError("InvalidParameterException", "Invalid phone number format.")
            logins["phone_number"] = changes["phone_number"]
        try:
            self.store.update_user(user.username, attributes={**user.attributes, **changes}, **logins)
        except DuplicateUser:
            what = "email" if "email" in logins else "phone_number"
            raise CognitoError("AliasExistsException", f"An account with the given {what} already exists.") from None
        return {}

    def op_GlobalSignOut(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = self.access_claims(_str(body, "AccessToken"))
        self.store.revoke_user_tokens(user.username)
        return {}

    def op_RevokeToken(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        token = _str(body, "Token")
        record = self.store.find_refresh_token(_token_hash(token))
        if record is None:
            raise CognitoError("UnsupportedTokenTypeException", "The token type is not supported.")
        self.store.revoke_refresh_token(_token_hash(token))
        return {}

    def op_ForgotPassword(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        login = _str(body, "Username")
        user = self.store.find_user(login)
        if user is None:
            return {"CodeDeliveryDetails": self._decoy_delivery(login)}
        return {"CodeDeliveryDetails": self._new_code(user, "reset", "forgot_password")}

    def _find_or_mismatch(self, login: str) -> User:
        """The user of a code confirmation; an unknown one, when users are hidden, gets a wrong-code answer."""
        user = self.store.find_user(login)
        if user is None:
            self._unknown(login)  # no write, as for a known user with no live code (the usual case)
            raise CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")
        return user

    def op_ConfirmForgotPassword(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        user = self._find_or_mismatch(_str(body, "Username"))
        code = _str(body, "ConfirmationCode")
        password = _str(body, "Password")
        self._check_code(user, "reset", code)
        self._policy(password)
        status = "CONFIRMED" if user.status in ("RESET_REQUIRED", "FORCE_CHANGE_PASSWORD", "CONFIRMED") else user.status
        self._set_password(user, password, status=status, code=None, code_purpose=None, code_expires_at=None)
        self.guard.passwords.succeeded(user.username)
        return {}

    def op_ChangePassword(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = self.access_claims(_str(body, "AccessToken"))
        self._check_lockout(user.username)
        if not check_password(user.password_hash, _str(body, "PreviousPassword")):
            raise self._wrong_password(user.username)
        password = _str(body, "ProposedPassword")
        self._policy(password)
        self._set_password(user, password)
        return {}

    def op_DeleteUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = self.access_claims(_str(body, "AccessToken"))
        self.store.delete_user(user.username)
        return {}

    # -- admin operations (signed with the server's IAM credentials) ---------------------------
    def _admin_user(self, user: User) -> dict[str, Any]:
        return {"Username": user.username, "Attributes": _attribute_list(user), "UserCreateDate": user.created_at,
                "UserLastModifiedDate": user.updated_at, "Enabled": user.enabled, "UserStatus": user.status}

    def op_AdminCreateUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Creates the user and sends the temporary password (trigger ``admin_create_user``) unless
        ``MessageAction`` is ``SUPPRESS``; ``RESEND`` sends a new one to a user who has not signed in yet."""
        login = _str(body, "Username")
        action = body.get("MessageAction")
        if action not in (None, "SUPPRESS", "RESEND"):
            raise CognitoError("InvalidParameterException", "MessageAction must be SUPPRESS or RESEND")
        temporary = _str(body, "TemporaryPassword", required=False) or None
        if temporary is None:
            temporary = secrets.token_urlsafe(9) + "aA1!"
        if action == "RESEND":
            user = self._find(login)
            if user.status != "FORCE_CHANGE_PASSWORD":
                raise CognitoError("UnsupportedUserStateException",
                                   f"Resend not possible. {user.username} status is not FORCE_CHANGE_PASSWORD.")
            self._policy(temporary)
            self._send(user, "admin_create_user", temporary)   # the old password stays until this succeeds
            self._set_password(user, temporary, status="FORCE_CHANGE_PASSWORD")
            return {"User": self._admin_user(self._find(user.username))}
        user = self.create_user(login, temporary, _attributes(body), status="FORCE_CHANGE_PASSWORD", admin=True)
        self.store.update_user(user.username, attributes={**user.attributes, **(
            {"email_verified": "true"} if user.email else {})})
        user = self._find(user.username)
        if action is None:
            if self._hook is None:
                _log.warning("AdminCreateUser: no code delivery is configured, the temporary password of %s "
                             "was not sent", user.username)
            else:
                try:
                    self._send(user, "admin_create_user", temporary)
                except CognitoError:
                    self.store.delete_user(user.username)  # nothing half made: the admin can try again
                    raise
        return {"User": self._admin_user(user)}

    def op_AdminGetUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        out = self._admin_user(user)
        out["UserAttributes"] = out.pop("Attributes")
        return out

    def op_AdminDeleteUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        self.store.delete_user(user.username)
        return {}

    def op_AdminAddUserToGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        self.add_to_group(user.username, _str(body, "GroupName"))
        return {}

    def op_AdminRemoveUserFromGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        self.store.remove_from_group(user.username, _str(body, "GroupName"))
        return {}

    def _group(self, name: str, precedence: int | None, description: str | None) -> dict[str, Any]:
        g: dict[str, Any] = {"GroupName": name, "UserPoolId": self.pool_id}
        if precedence is not None:
            g["Precedence"] = precedence
        if description:
            g["Description"] = description
        return g

    def op_AdminListGroupsForUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        info = {g[0]: g for g in self.store.list_groups()}
        return {"Groups": [self._group(*info.get(name, (name, None, None))) for name in user.groups]}

    def op_ListGroups(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"Groups": [self._group(*g) for g in self.store.list_groups()]}

    def op_ListUsersInGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        group = _str(body, "GroupName")
        return {"Users": [self._admin_user(u) for u in self.store.list_users() if group in u.groups]}

    def op_AdminConfirmSignUp(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        if user.status != "UNCONFIRMED":
            raise CognitoError("NotAuthorizedException", f"User cannot be confirmed. Current status is {user.status}")
        self.store.update_user(user.username, status="CONFIRMED", code=None, code_purpose=None)
        return {}

    def op_AdminSetUserPassword(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        password = _str(body, "Password")
        self._policy(password)
        self._set_password(user, password, status="CONFIRMED" if body.get("Permanent") else "FORCE_CHANGE_PASSWORD")
        return {}

    def op_AdminUserGlobalSignOut(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        self.store.revoke_user_tokens(user.username)
        return {}

    def op_AdminDisableUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        self.store.update_user(user.username, enabled=False)
        self.store.revoke_user_tokens(user.username)
        return {}

    def op_AdminEnableUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._find(_str(body, "Username"))
        self.store.update_user(user.username, enabled=True)
        return {}

    def op_ListUsers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        users = self.store.list_users()
        flt = body.get("Filter")
        if isinstance(flt, str) and flt:
            m = re.fullmatch(r'\s*(\w+)\s*=\s*"([^"]*)"\s*', flt)
            if m is None:
                raise CognitoError("InvalidParameterException", "Cove supports filters of the form name = \"value\"")
            name, value = m.groups()
            users = [u for u in users if {"username": u.username, "sub": u.sub, **u.attributes}.get(name) == value]
        return {"Users": [self._admin_user(u) for u in users]}

    def op_DescribeUserPool(self, body: Mapping[str, Any]) -> dict[str, Any]:
        p = self.settings.password_policy
        return {"UserPool": {"Id": self.pool_id, "Name": "cove", "UsernameAttributes": list(self.settings.login_with),
                             "Policies": {"PasswordPolicy": {
                                 "MinimumLength": p.min_length, "RequireUppercase": p.require_uppercase,
                                 "RequireLowercase": p.require_lowercase, "RequireNumbers": p.require_numbers,
                                 "RequireSymbols": p.require_symbols}},
                             "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": not self.settings.self_sign_up},
                             "EstimatedNumberOfUsers": len(self.store.list_users())}}

    def op_DescribeUserPoolClient(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        return {"UserPoolClient": {"UserPoolId": self.pool_id, "ClientId": self.client_id, "ClientName": "cove",
                                   "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
                                                         "ALLOW_REFRESH_TOKEN_AUTH"]}}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
