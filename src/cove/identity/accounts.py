"""The user pool's accounts: creating and finding users, passwords, codes and their delivery, the
tokens of a sign-in, and the answers for logins that do not exist.

``cove.identity.user_pool.UserPool`` builds Cognito's operations on this. Everything is async: the
identity state is awaited, and CPU work (argon2, SRP, RS256 signing) runs on worker threads so the
event loop serving GraphQL never waits for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from cove.schema.model import AuthSettings
from cove.store.identity_state import DuplicateUser, IdentityStore, RefreshToken, User
from cove.wire import srp

from . import attributes as attributes_
from .cognito_json import CognitoError, mask_destination
from .delivery import CodeDeliveryError, CodeEvent, CodeHook, deliver
from .guard import Guard, unknown_login_key
from .passwords import hash_password, policy_violation
from .sealing import Sealer
from .tokens import TokenError, UserPoolTokens

SIGN_UP_CODE_TTL = 24 * 3600
RESET_CODE_TTL = 3600
# A login's wrong passwords are forgotten a day after the last one (or at a right one); about one
# wrong password (or code request) in PRUNE_EVERY clears out the logins (or windows) past that.
FAILURES_KEPT_SECONDS = 24 * 3600
PRUNE_EVERY = 64
CODE_SEND_WINDOW = 3600.0   # codes_per_user_per_hour counts in windows of an hour from the first code
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+[1-9]\d{4,14}$")
_log = logging.getLogger("cove.identity")


def _attempts_exceeded() -> CognitoError:
    return CognitoError("NotAuthorizedException", "Password attempts exceeded")


def token_hash(token: str) -> str:
    """How a refresh token is stored: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _password_secrets(pool_name: str, username: str, password: str) -> dict[str, str]:
    salt, verifier = srp.make_verifier(pool_name, username, password)
    return {"password_hash": hash_password(password), "srp_salt": salt, "srp_verifier": verifier}


class Accounts:
    """What the user pool's operations share: its settings, state, secrets and guard."""

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
        self.settings_saved = False
        self._saving: asyncio.Future[None] | None = None

    def start_saving_settings(self) -> None:
        """Store the declared groups and the settings (``cove users`` reads them back with
        ``services.stored_auth_settings``) in a task of the running loop, once per pool: a schema
        reload builds a new pool, which starts this at once, and its first call waits for it."""
        if self._saving is None:
            self._saving = asyncio.ensure_future(self._save_settings())

    async def save_settings(self) -> None:
        self.start_saving_settings()
        assert self._saving is not None
        try:
            await asyncio.shield(self._saving)
        except Exception:
            self._saving = None  # the next call tries again
            raise

    async def _save_settings(self) -> None:
        for precedence, group in enumerate(self.settings.groups):
            await self.store.ensure_group(group, precedence)
        stored = dataclasses.asdict(dataclasses.replace(self.settings, on_send_code=None))
        stored.pop("on_send_code")
        await self.store.set_meta("auth_settings", orjson.dumps(stored).decode())
        self.settings_saved = True

    # -- users ---------------------------------------------------------------------------------
    async def find(self, login: str) -> User:
        user = await self.store.find_user(login)
        if user is None:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        return user

    def check_writes(self, changes: Mapping[str, str], *, admin: bool, creating: bool = False) -> None:
        try:
            attributes_.check_writes(self.settings, changes, admin=admin, creating=creating)
        except attributes_.AttributeRefused as exc:
            raise CognitoError("InvalidParameterException", str(exc)) from None

    def check_policy(self, password: str) -> None:
        problem = policy_violation(self.settings.password_policy, password)
        if problem:
            raise CognitoError("InvalidPasswordException", problem)

    async def set_password(self, user: User, password: str, **changes: Any) -> None:
        secrets_ = await asyncio.to_thread(_password_secrets, self.pool_name, user.username, password)
        await self.store.update_user(user.username, **secrets_, **changes)

    def _login_attributes(self, username_in: str, attributes: dict[str, str]) -> dict[str, str]:
        """Fill in email/phone from the sign-up username, as an email-login pool does."""
        attrs = dict(attributes)
        if EMAIL.match(username_in) and "email" in self.settings.login_with:
            attrs.setdefault("email", username_in)
        elif PHONE.match(username_in) and "phone_number" in self.settings.login_with:
            attrs.setdefault("phone_number", username_in)
        elif "email" in self.settings.login_with and "phone_number" not in self.settings.login_with:
            raise CognitoError("InvalidParameterException", "Username should be an email.")
        elif "phone_number" in self.settings.login_with and "email" not in self.settings.login_with:
            raise CognitoError("InvalidParameterException", "Username should be a phone number.")
        else:
            raise CognitoError("InvalidParameterException", "Username should be either an email or a phone number.")
        if "email" in attrs:
            if not EMAIL.match(attrs["email"]):
                raise CognitoError("InvalidParameterException", "Invalid email address format.")
            attrs["email"] = attrs["email"].lower()
        if "phone_number" in attrs and not PHONE.match(attrs["phone_number"]):
            raise CognitoError("InvalidParameterException", "Invalid phone number format.")
        required = ["email"] if "email" in self.settings.login_with and "email" not in attrs else []
        missing = required[0] if required else attributes_.missing_required(self.settings, attrs)
        if missing:
            raise CognitoError("InvalidParameterException", f"Attributes did not conform to the schema: {missing}: "
                               "The attribute is required")
        return attrs

    async def create_user(self, login: str, password: str | None, attributes: dict[str, str] | None = None, *,
                          status: str = "CONFIRMED", groups: list[str] | None = None, admin: bool = True) -> User:
        """Create a user (sign-up and the admin/CLI paths share this); ``admin`` False for SignUp."""
        self.check_writes(attributes or {}, admin=admin, creating=True)
        if password is not None:
            self.check_policy(password)
        known_groups = {g.name for g in await self.store.list_groups()}
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
            await self.store.create_user(user)
        except DuplicateUser:
            what = "email" if "email" in attrs else "phone_number"
            raise CognitoError("UsernameExistsException", f"An account with the given {what} already exists.") from None
        if password is not None:
            await self.set_password(user, password)
        for g in groups or []:
            await self.add_to_group(user.username, g)
        return await self.find(user.username)

    async def add_to_group(self, username: str, group: str) -> None:
        if group not in {g.name for g in await self.store.list_groups()}:
            raise CognitoError("ResourceNotFoundException", "Group not found.")
        await self.store.add_to_group(username, group)

    # -- codes and their delivery --------------------------------------------------------------
    @property
    def code_hook(self) -> CodeHook | None:
        return self.settings.on_send_code or self.on_send_code

    async def send_code(self, user: User, trigger: str, code: str) -> dict[str, str]:
        """Deliver a code (or a temporary password) through the hook; CodeDeliveryFailureException if
        it cannot be delivered (the details go to the server's log, not to the client)."""
        hook = self.code_hook
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
            await deliver(hook, event)
        except CodeDeliveryError as exc:
            _log.error("code delivery failed (%s for user %s): %s", event.trigger_source, user.username, exc)
            message = "Unable to deliver the code; try again later."
            raise CognitoError("CodeDeliveryFailureException", message) from None
        return {"Destination": mask_destination(destination), "DeliveryMedium": medium,
                "AttributeName": "email" if user.email else "phone_number"}

    async def _limit_code_sends(self, key: str) -> None:
        """At most ``codes_per_user_per_hour`` codes an hour per login, counted in the database (so
        across processes and hosts); a refused request counts too."""
        limit = self.guard.limits.codes_per_user_per_hour
        if limit <= 0:
            return
        now = time.time()
        sent = await self.store.count_attempt("code:" + key, now, CODE_SEND_WINDOW)
        await self._prune_now_and_then(now)
        if sent > limit:
            raise CognitoError("LimitExceededException", "Attempt limit exceeded, please try after some time.")

    async def new_code(self, user: User, purpose: str, trigger: str) -> dict[str, str]:
        """Make, store and deliver a code; if delivery fails the code is withdrawn."""
        await self._limit_code_sends(user.username)
        code = f"{secrets.randbelow(10**6):06d}"
        ttl = RESET_CODE_TTL if purpose == "reset" else SIGN_UP_CODE_TTL
        await self.store.update_user(user.username, code=code, code_purpose=purpose,
                                     code_expires_at=time.time() + ttl, code_attempts=0)
        try:
            return await self.send_code(user, trigger, code)
        except CognitoError:
            await self.store.update_user(user.username, code=None, code_purpose=None, code_expires_at=None)
            raise

    async def check_code(self, user: User, purpose: str, code: str) -> None:
        """A code works until it expires or has been guessed wrong ``code_attempts`` times."""
        if user.code_purpose != purpose:
            raise CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")
        if user.code is None or (user.code_expires_at or 0) < time.time():
            raise CognitoError("ExpiredCodeException", "Invalid code provided, please request a code again.")
        if not hmac.compare_digest(user.code.encode(), code.encode()):
            await self.store.code_failed(user.username, user.code, self.guard.limits.code_attempts)
            raise CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")

    async def use_code(self, user: User, purpose: str, code: str) -> None:
        """Use up a code ``check_code`` accepted, before acting on it. ``user`` was read when the request
        began: copies of the code sent at once, or wrong tries that dropped it, may have taken it since."""
        if not await self.store.take_code(user.username, code, purpose, time.time()):
            raise CognitoError("ExpiredCodeException", "Invalid code provided, please request a code again.")

    # -- answers for logins that do not exist (prevent user existence errors) ------------------
    @property
    def hide_users(self) -> bool:
        return self.settings.prevent_user_existence_errors

    def _decoy(self, login: str, purpose: str) -> bytes:
        return hmac.new(self._decoy_key, f"{purpose}|{login.lower()}".encode(), hashlib.sha256).digest()

    def unknown(self, login: str) -> User:
        """Raise UserNotFoundException, unless users are hidden: then the caller answers as for a real user."""
        if not self.hide_users:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        return User(username=str(uuid.UUID(bytes=self._decoy(login, "username")[:16], version=4)), sub="",
                    email=login.lower() if EMAIL.match(login) else None,
                    phone_number=login if PHONE.match(login) else None, attributes={}, password_hash=None,
                    srp_salt=None, srp_verifier=None, status="CONFIRMED", enabled=True, created_at=0, updated_at=0)

    async def decoy_delivery(self, login: str) -> dict[str, str]:
        """What ``new_code`` answers for a user that does not exist, without sending anything."""
        decoy = self.unknown(login)
        await self._limit_code_sends(unknown_login_key(login))
        if self.code_hook is None:  # a known user would get CodeDeliveryFailureException: so does an unknown one
            raise CognitoError("CodeDeliveryFailureException", "Unable to deliver the code: the user pool has no "
                               "code delivery configured.")
        # Sending a known user a code costs a committed write, an fsync: commit one for an unknown
        # user too, or the response time tells them apart.
        await self.store.set_meta("decoy_write_at", str(time.time()))
        if decoy.email or not decoy.phone_number:
            letters = self._decoy(login, "destination")
            destination = decoy.email or f"{chr(97 + letters[0] % 26)}@{chr(97 + letters[1] % 26)}.com"
            return {"Destination": mask_destination(destination), "DeliveryMedium": "EMAIL", "AttributeName": "email"}
        return {"Destination": mask_destination(decoy.phone_number), "DeliveryMedium": "SMS",
                "AttributeName": "phone_number"}

    def decoy_srp(self, login: str) -> tuple[str, str]:
        """A salt and verifier for a login with none: derived from it, so stable like a real user's."""
        salt = srp.pad_hex(int.from_bytes(self._decoy(login, "salt")[:16], "big") | 1)
        verifier = int.from_bytes(b"".join(self._decoy(login, f"v{i}") for i in range(12)), "big") % srp.N
        return salt, format(verifier, "x")

    async def find_or_mismatch(self, login: str) -> User:
        """The user of a code confirmation; an unknown one, when users are hidden, gets a wrong-code answer."""
        user = await self.store.find_user(login)
        if user is None:
            self.unknown(login)  # no write, as for a known user with no live code (the usual case)
            raise CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")
        return user

    # -- lockouts ------------------------------------------------------------------------------
    # Wrong passwords are counted in the database, so a login locks after the same number of them
    # whichever processes and hosts they were sent to. The lock is read at the door and again once
    # the password was checked: a burst of concurrent guesses all pass the door before any of them is
    # counted, and those still in flight when the login locks must not learn their answers.
    def lock_key(self, login: str, user: User | None) -> str:
        return user.username if user is not None else unknown_login_key(login)

    async def check_lockout(self, key: str) -> None:
        """Refuse a locked login, before its password is checked."""
        if self.guard.limits.password_failures > 0:
            self._refuse_if_locked(await self.store.login_lock(key))

    async def wrong_password(self, key: str) -> CognitoError:
        """The answer to a wrong password, counted; a login locked meanwhile answers as at the door."""
        limits = self.guard.limits
        if limits.password_failures > 0:
            now = time.time()
            locked_until = await self.store.login_lock(key)
            if locked_until is not None and locked_until > now:
                return _attempts_exceeded()
            await self.store.login_failed(key, limits.password_failures, limits.lockout_max_seconds, now)
            await self._prune_now_and_then(now)
        return CognitoError("NotAuthorizedException", "Incorrect username or password.")

    async def right_password(self, key: str) -> None:
        """After a right password: refused if the login locked meanwhile, else its wrong ones forgotten."""
        if self.guard.limits.password_failures <= 0:
            return
        locked_until = await self.store.login_lock(key)
        self._refuse_if_locked(locked_until)
        if locked_until is not None:
            await self.store.forget_login_failures(key)

    @staticmethod
    def _refuse_if_locked(locked_until: float | None) -> None:
        if locked_until is not None and locked_until > time.time():
            raise _attempts_exceeded()

    async def _prune_now_and_then(self, now: float) -> None:
        """Drop counts past their use, on about one call in PRUNE_EVERY (rather than a timer in every process)."""
        if secrets.randbelow(PRUNE_EVERY) == 0:
            kept = max(FAILURES_KEPT_SECONDS, self.guard.limits.lockout_max_seconds)   # never a lock still running
            await self.store.prune_counts(failures_before=now - kept, attempts_before=now - CODE_SEND_WINDOW)

    # -- signed in -----------------------------------------------------------------------------
    def check_usable(self, user: User) -> None:
        if not user.enabled:
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        if user.status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")
        if user.status == "RESET_REQUIRED":
            raise CognitoError("PasswordResetRequiredException", "Password reset required for the user")

    async def authentication_result(self, user: User, client_id: str, *, refresh: bool = True,
                                    origin_jti: str | None = None, auth_time: int | None = None) -> dict[str, Any]:
        origin = origin_jti or str(uuid.uuid4())
        when = auth_time or int(time.time())
        access, ident, expires_in = await self.tokens.issue(
            sub=user.sub, username=user.username, groups=user.groups, attributes=user.attributes,
            origin_jti=origin, auth_time=when, client_id=client_id)
        result: dict[str, Any] = {"AccessToken": access, "ExpiresIn": expires_in, "TokenType": "Bearer",
                                  "IdToken": ident}
        if refresh:
            token = "cove1." + secrets.token_urlsafe(48)
            await self.store.save_refresh_token(token_hash(token), RefreshToken(
                user.username, client_id, origin, when, time.time() + self.settings.refresh_token_validity, False))
            result["RefreshToken"] = token
        return {"ChallengeParameters": {}, "AuthenticationResult": result}

    def new_password_challenge(self, user: User) -> dict[str, Any]:
        session = self._session.seal({"u": user.username, "c": "NEW_PASSWORD_REQUIRED"}, 180)
        return {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": session,
                "ChallengeParameters": {"USER_ID_FOR_SRP": user.username, "requiredAttributes": "[]",
                                        "userAttributes": "{}"}}

    async def access_claims(self, token: str) -> tuple[dict[str, Any], User]:
        """Verify an access token for the pool's own APIs (revoked sessions are refused here)."""
        try:
            claims = await self.tokens.verify(token, token_use="access")
        except TokenError as exc:
            message = "Access Token has expired" if "expired" in str(exc) else "Invalid Access Token"
            raise CognitoError("NotAuthorizedException", message) from None
        user = await self.find(str(claims.get("username")))
        if claims.get("origin_jti") in await self.store.revoked_origins(user.username):
            raise CognitoError("NotAuthorizedException", "Access Token has been revoked")
        return claims, user
