"""A user pool speaking Cognito's JSON API (``X-Amz-Target: AWSCognitoIdentityProviderService.*``).

Served by the sandbox so boto3's ``cognito-idp`` client and aws-amplify's Auth work against it
unchanged. Users sign in by email (or phone); as in Amplify Gen 2 pools, the Cognito username is a
UUID equal to ``sub`` and the email is an alias. Passwords are hashed with argon2id and, for
``USER_SRP_AUTH``, also kept as an SRP verifier. Tokens are RS256 JWTs with Cognito's claims;
refresh tokens are opaque, stored hashed, and revocable.

Operations are coroutines run on the server's event loop; what they build on (``accounts.py``)
awaits the identity state and runs argon2, SRP and token signing on worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from cove.store.identity_state import DuplicateUser, Group, User
from cove.wire import srp

from .accounts import EMAIL, PHONE, Accounts, token_hash
from .cognito_json import CognitoError, attribute_list, attributes_member, string_member
from .passwords import check_password, check_password_or_decoy
from .sealing import SealError

_log = logging.getLogger("cove.identity")


def _srp_signature(state: Mapping[str, Any], verifier: str, pool_name: str, secret_block: str,
                   timestamp: str) -> str:
    """The signature a client knowing the password would send (two 3072-bit exponentiations)."""
    key = srp.session_key(int(state["A"], 16), int(state["B"], 16), int(state["b"], 16), verifier)
    return srp.signature(key, pool_name, str(state["u"]), secret_block, timestamp)


class UserPool(Accounts):
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

    # -- dispatch ------------------------------------------------------------------------------
    async def call(self, operation: str, body: Mapping[str, Any], *, admin: bool = False) -> dict[str, Any]:
        if operation in self.ADMIN:
            if not admin:
                raise CognitoError("AccessDeniedException", f"{operation} needs a request signed with the server's "
                                   "IAM credentials (cove iam create)", 403)
            if body.get("UserPoolId") != self.pool_id:
                raise CognitoError("ResourceNotFoundException", f"User pool {body.get('UserPoolId')} does not exist.")
        elif operation not in self.PUBLIC:
            raise CognitoError("UnknownOperationException", f"Cove does not implement {operation}")
        if not self.settings_saved:
            await self.save_settings()
        handler = getattr(self, "op_" + operation)
        result: dict[str, Any] = await handler(body)
        return result

    def _client(self, body: Mapping[str, Any]) -> str:
        client_id = string_member(body, "ClientId")
        if client_id != self.client_id:
            raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client_id

    # -- signing in ----------------------------------------------------------------------------
    async def _password_signin(self, login: str, password: str, client_id: str) -> dict[str, Any]:
        user = await self.store.find_user(login)
        key = self.lock_key(login, user)
        await self.check_lockout(key)
        if user is None:
            self.unknown(login)
        stored = user.password_hash if user is not None else None
        # an unknown user's check costs the same argon2 time as a known one's (the decoy never matches)
        if not await asyncio.to_thread(check_password_or_decoy, stored, password) or user is None:
            raise await self.wrong_password(key)
        await self.right_password(key)
        self.check_usable(user)
        if user.status == "FORCE_CHANGE_PASSWORD":
            return self.new_password_challenge(user)
        return await self.authentication_result(user, client_id)

    async def _refresh(self, token: str, client_id: str) -> dict[str, Any]:
        record = await self.store.find_refresh_token(token_hash(token))
        if record is None or record.revoked or record.client_id != client_id:
            raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
        if record.expires_at < time.time():
            raise CognitoError("NotAuthorizedException", "Refresh Token has expired")
        user = await self.store.find_user(record.username)
        if user is None:
            raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
        self.check_usable(user)
        return await self.authentication_result(user, client_id, refresh=False, origin_jti=record.origin_jti,
                                                auth_time=record.auth_time)

    async def _srp_start(self, login: str, srp_a: str) -> dict[str, Any]:
        try:
            A = int(srp_a, 16)
        except ValueError:
            raise CognitoError("InvalidParameterException", "SRP_A is not a hex number") from None
        if A % srp.N == 0 or len(srp_a) > 2048:
            raise CognitoError("InvalidParameterException", "Illegal SRP_A")
        user = await self.store.find_user(login)
        if user is None or not user.srp_verifier or not user.srp_salt:
            # A plausible challenge for a login that does not exist (or has no password yet): the salt
            # and verifier are derived from the login, so they are stable like a real user's, and B
            # is fresh each time like a real user's; the answer is then refused in _srp_finish.
            user = self.unknown(login) if user is None else user
            salt, verifier = self.decoy_srp(login)
        else:
            salt, verifier = user.srp_salt, user.srp_verifier
        b, B = await asyncio.to_thread(srp.server_ephemeral, verifier)
        block = self._srp.seal({"u": user.username, "l": login, "b": format(b, "x"), "B": format(B, "x"),
                                "A": srp_a}, 300)
        return {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": {
            "SALT": salt, "SECRET_BLOCK": block, "SRP_B": format(B, "x"), "USERNAME": user.username,
            "USER_ID_FOR_SRP": user.username}}

    async def _srp_finish(self, responses: Mapping[str, Any], client_id: str) -> dict[str, Any]:
        secret_block = string_member(responses, "PASSWORD_CLAIM_SECRET_BLOCK")
        try:
            state = self._srp.open(secret_block)
        except SealError:
            raise CognitoError("NotAuthorizedException", "Incorrect username or password.") from None
        user = await self.store.find_user(state["u"])
        lock = self.lock_key(str(state.get("l", "")), user)
        await self.check_lockout(lock)
        timestamp = string_member(responses, "TIMESTAMP")
        claimed = string_member(responses, "PASSWORD_CLAIM_SIGNATURE")
        when = srp.parse_timestamp(timestamp)
        if when is None or abs(when - time.time()) > 300:
            raise await self.wrong_password(lock)
        if user is not None and responses.get("USERNAME") not in (None, user.username, user.email, user.phone_number):
            raise CognitoError("NotAuthorizedException", "Incorrect username or password.")
        # A login without a verifier does the same SRP work on its decoy verifier, so the time tells nothing.
        real = user.srp_verifier if user is not None else None
        verifier = real or self.decoy_srp(str(state.get("l", "")))[1]
        try:
            expected = await asyncio.to_thread(_srp_signature, state, verifier, self.pool_name, secret_block,
                                               timestamp)
        except srp.SrpError:
            raise await self.wrong_password(lock) from None
        if not real or user is None or not secrets.compare_digest(expected.encode(), claimed.encode()):
            raise await self.wrong_password(lock)
        await self.right_password(lock)
        self.check_usable(user)
        if user.status == "FORCE_CHANGE_PASSWORD":
            return self.new_password_challenge(user)
        return await self.authentication_result(user, client_id)

    # -- public operations ---------------------------------------------------------------------
    async def op_SignUp(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        if not self.settings.self_sign_up:
            raise CognitoError("NotAuthorizedException", "SignUp is not permitted for this user pool")
        login = string_member(body, "Username")
        password = string_member(body, "Password")
        required = self.settings.require_confirmation
        confirmed = self.auto_confirm if required is None else not required
        status = "CONFIRMED" if confirmed else "UNCONFIRMED"
        user = await self.create_user(login, password, attributes_member(body), status=status, admin=False)
        result: dict[str, Any] = {"UserConfirmed": confirmed, "UserSub": user.sub}
        if not confirmed:
            try:
                result["CodeDeliveryDetails"] = await self.new_code(user, "signup", "sign_up")
            except CognitoError:
                await self.store.delete_user(user.username)  # nothing half made: the address can sign up again
                raise
        return result

    async def op_ConfirmSignUp(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        user = await self.find_or_mismatch(string_member(body, "Username"))
        code = string_member(body, "ConfirmationCode")
        if user.status == "CONFIRMED":
            raise CognitoError("NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")
        await self.check_code(user, "signup", code)
        await self.use_code(user, "signup", code)
        attrs = dict(user.attributes)
        attrs["email_verified" if user.email else "phone_number_verified"] = "true"
        await self.store.update_user(user.username, status="CONFIRMED", code=None, code_purpose=None,
                                     code_expires_at=None, attributes=attrs)
        return {}

    async def op_ResendConfirmationCode(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        login = string_member(body, "Username")
        user = await self.store.find_user(login)
        if user is None or (user.status != "UNCONFIRMED" and self.hide_users):
            return {"CodeDeliveryDetails": await self.decoy_delivery(login)}
        if user.status != "UNCONFIRMED":
            raise CognitoError("InvalidParameterException", "User is already confirmed.")
        return {"CodeDeliveryDetails": await self.new_code(user, "signup", "resend_code")}

    async def op_InitiateAuth(self, body: Mapping[str, Any]) -> dict[str, Any]:
        client_id = self._client(body)
        flow = string_member(body, "AuthFlow")
        params = body.get("AuthParameters") or {}
        if not isinstance(params, Mapping):
            raise CognitoError("InvalidParameterException", "AuthParameters must be a map")
        if flow == "USER_PASSWORD_AUTH":
            return await self._password_signin(string_member(params, "USERNAME"), string_member(params, "PASSWORD"),
                                               client_id)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return await self._refresh(string_member(params, "REFRESH_TOKEN"), client_id)
        if flow == "USER_SRP_AUTH":
            return await self._srp_start(string_member(params, "USERNAME"), string_member(params, "SRP_A"))
        raise CognitoError("InvalidParameterException", f"Unsupported AuthFlow {flow}; Cove supports "
                           "USER_PASSWORD_AUTH, USER_SRP_AUTH and REFRESH_TOKEN_AUTH")

    async def op_GetTokensFromRefreshToken(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Cognito's newer refresh call (what aws-amplify 6.22 uses); no refresh-token rotation."""
        client_id = self._client(body)
        result = await self._refresh(string_member(body, "RefreshToken"), client_id)
        return {"AuthenticationResult": result["AuthenticationResult"]}

    async def op_RespondToAuthChallenge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        client_id = self._client(body)
        name = string_member(body, "ChallengeName")
        responses = body.get("ChallengeResponses") or {}
        if not isinstance(responses, Mapping):
            raise CognitoError("InvalidParameterException", "ChallengeResponses must be a map")
        if name == "PASSWORD_VERIFIER":
            return await self._srp_finish(responses, client_id)
        if name == "NEW_PASSWORD_REQUIRED":
            try:
                session = self._session.open(string_member(body, "Session"))
            except SealError:
                expired = "Invalid session for the user, session is expired."
                raise CognitoError("NotAuthorizedException", expired) from None
            user = await self.find(session["u"])
            password = string_member(responses, "NEW_PASSWORD")
            self.check_policy(password)
            await self.set_password(user, password, status="CONFIRMED")
            user = await self.find(user.username)
            return await self.authentication_result(user, client_id)
        raise CognitoError("InvalidParameterException", f"Unsupported challenge {name}")

    async def op_GetUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = await self.access_claims(string_member(body, "AccessToken"))
        return {"Username": user.username, "UserAttributes": attribute_list(user)}

    async def op_UpdateUserAttributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = await self.access_claims(string_member(body, "AccessToken"))
        changes = attributes_member(body)
        self.check_writes(changes, admin=False)
        for name in ("email", "phone_number"):
            if name in changes:
                raise CognitoError("InvalidParameterException", f"Cove does not let users change {name} yet")
        await self.store.update_user(user.username, attributes={**user.attributes, **changes})
        return {"CodeDeliveryDetailsList": []}

    async def op_GlobalSignOut(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = await self.access_claims(string_member(body, "AccessToken"))
        await self.store.revoke_user_tokens(user.username)
        return {}

    async def op_RevokeToken(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        token = string_member(body, "Token")
        record = await self.store.find_refresh_token(token_hash(token))
        if record is None:
            raise CognitoError("UnsupportedTokenTypeException", "The token type is not supported.")
        await self.store.revoke_refresh_token(token_hash(token))
        return {}

    async def op_ForgotPassword(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        login = string_member(body, "Username")
        user = await self.store.find_user(login)
        if user is None:
            return {"CodeDeliveryDetails": await self.decoy_delivery(login)}
        return {"CodeDeliveryDetails": await self.new_code(user, "reset", "forgot_password")}

    async def op_ConfirmForgotPassword(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        user = await self.find_or_mismatch(string_member(body, "Username"))
        code = string_member(body, "ConfirmationCode")
        password = string_member(body, "Password")
        await self.check_code(user, "reset", code)
        self.check_policy(password)   # a refused password leaves the code usable
        await self.use_code(user, "reset", code)
        status = "CONFIRMED" if user.status in ("RESET_REQUIRED", "FORCE_CHANGE_PASSWORD", "CONFIRMED") else user.status
        await self.set_password(user, password, status=status, code=None, code_purpose=None, code_expires_at=None)
        await self.store.forget_login_failures(user.username)   # a reset ends a lockout
        return {}

    async def op_ChangePassword(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = await self.access_claims(string_member(body, "AccessToken"))
        await self.check_lockout(user.username)
        if not await asyncio.to_thread(check_password, user.password_hash, string_member(body, "PreviousPassword")):
            raise await self.wrong_password(user.username)
        await self.right_password(user.username)
        password = string_member(body, "ProposedPassword")
        self.check_policy(password)
        await self.set_password(user, password)
        return {}

    async def op_DeleteUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _, user = await self.access_claims(string_member(body, "AccessToken"))
        await self.store.delete_user(user.username)
        return {}

    # -- admin operations (signed with the server's IAM credentials) ---------------------------
    def _admin_user(self, user: User) -> dict[str, Any]:
        return {"Username": user.username, "Attributes": attribute_list(user), "UserCreateDate": user.created_at,
                "UserLastModifiedDate": user.updated_at, "Enabled": user.enabled, "UserStatus": user.status}

    async def op_AdminCreateUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Creates the user and sends the temporary password (trigger ``admin_create_user``) unless
        ``MessageAction`` is ``SUPPRESS``; ``RESEND`` sends a new one to a user who has not signed in yet."""
        login = string_member(body, "Username")
        action = body.get("MessageAction")
        if action not in (None, "SUPPRESS", "RESEND"):
            raise CognitoError("InvalidParameterException", "MessageAction must be SUPPRESS or RESEND")
        temporary = string_member(body, "TemporaryPassword", required=False) or None
        if temporary is None:
            temporary = secrets.token_urlsafe(9) + "aA1!"
        if action == "RESEND":
            user = await self.find(login)
            if user.status != "FORCE_CHANGE_PASSWORD":
                raise CognitoError("UnsupportedUserStateException",
                                   f"Resend not possible. {user.username} status is not FORCE_CHANGE_PASSWORD.")
            self.check_policy(temporary)
            await self.send_code(user, "admin_create_user", temporary)   # the old password stays until this succeeds
            await self.set_password(user, temporary, status="FORCE_CHANGE_PASSWORD")
            return {"User": self._admin_user(await self.find(user.username))}
        user = await self.create_user(login, temporary, attributes_member(body), status="FORCE_CHANGE_PASSWORD",
                                      admin=True)
        await self.store.update_user(user.username, attributes={**user.attributes, **(
            {"email_verified": "true"} if user.email else {})})
        user = await self.find(user.username)
        if action is None:
            if self.code_hook is None:
                _log.warning("AdminCreateUser: no code delivery is configured, the temporary password of %s "
                             "was not sent", user.username)
            else:
                try:
                    await self.send_code(user, "admin_create_user", temporary)
                except CognitoError:
                    await self.store.delete_user(user.username)  # nothing half made: the admin can try again
                    raise
        return {"User": self._admin_user(user)}

    async def op_AdminGetUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        out = self._admin_user(user)
        out["UserAttributes"] = out.pop("Attributes")
        return out

    async def op_AdminDeleteUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        await self.store.delete_user(user.username)
        return {}

    async def op_AdminAddUserToGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        await self.add_to_group(user.username, string_member(body, "GroupName"))
        return {}

    async def op_AdminRemoveUserFromGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        await self.store.remove_from_group(user.username, string_member(body, "GroupName"))
        return {}

    async def op_AdminUpdateUserAttributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        changes = attributes_member(body)
        self.check_writes(changes, admin=True)
        logins: dict[str, Any] = {}
        if "email" in changes:
            if not EMAIL.match(changes["email"]):
                raise CognitoError("InvalidParameterException", "Invalid email address format.")
            changes["email"] = logins["email"] = changes["email"].lower()
        if "phone_number" in changes:
            if not PHONE.match(changes["phone_number"]):
                raise CognitoError("InvalidParameterException", "Invalid phone number format.")
            logins["phone_number"] = changes["phone_number"]
        try:
            await self.store.update_user(user.username, attributes={**user.attributes, **changes}, **logins)
        except DuplicateUser:
            what = "email" if "email" in logins else "phone_number"
            raise CognitoError("AliasExistsException", f"An account with the given {what} already exists.") from None
        return {}

    def _group(self, group: Group) -> dict[str, Any]:
        g: dict[str, Any] = {"GroupName": group.name, "UserPoolId": self.pool_id}
        if group.precedence is not None:
            g["Precedence"] = group.precedence
        if group.description:
            g["Description"] = group.description
        return g

    async def op_AdminListGroupsForUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        info = {g.name: g for g in await self.store.list_groups()}
        return {"Groups": [self._group(info.get(name, Group(name, None, None))) for name in user.groups]}

    async def op_ListGroups(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"Groups": [self._group(g) for g in await self.store.list_groups()]}

    async def op_ListUsersInGroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        group = string_member(body, "GroupName")
        return {"Users": [self._admin_user(u) for u in await self.store.list_users() if group in u.groups]}

    async def op_AdminConfirmSignUp(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        if user.status != "UNCONFIRMED":
            raise CognitoError("NotAuthorizedException", f"User cannot be confirmed. Current status is {user.status}")
        await self.store.update_user(user.username, status="CONFIRMED", code=None, code_purpose=None)
        return {}

    async def op_AdminSetUserPassword(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        password = string_member(body, "Password")
        self.check_policy(password)
        status = "CONFIRMED" if body.get("Permanent") else "FORCE_CHANGE_PASSWORD"
        await self.set_password(user, password, status=status)
        return {}

    async def op_AdminUserGlobalSignOut(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        await self.store.revoke_user_tokens(user.username)
        return {}

    async def op_AdminDisableUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        await self.store.update_user(user.username, enabled=False)
        await self.store.revoke_user_tokens(user.username)
        return {}

    async def op_AdminEnableUser(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = await self.find(string_member(body, "Username"))
        await self.store.update_user(user.username, enabled=True)
        return {}

    async def op_ListUsers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        users = await self.store.list_users()
        flt = body.get("Filter")
        if isinstance(flt, str) and flt:
            m = re.fullmatch(r'\s*(\w+)\s*=\s*"([^"]*)"\s*', flt)
            if m is None:
                raise CognitoError("InvalidParameterException", "Cove supports filters of the form name = \"value\"")
            name, value = m.groups()
            users = [u for u in users if {"username": u.username, "sub": u.sub, **u.attributes}.get(name) == value]
        return {"Users": [self._admin_user(u) for u in users]}

    async def op_DescribeUserPool(self, body: Mapping[str, Any]) -> dict[str, Any]:
        p = self.settings.password_policy
        return {"UserPool": {"Id": self.pool_id, "Name": "cove", "UsernameAttributes": list(self.settings.login_with),
                             "Policies": {"PasswordPolicy": {
                                 "MinimumLength": p.min_length, "RequireUppercase": p.require_uppercase,
                                 "RequireLowercase": p.require_lowercase, "RequireNumbers": p.require_numbers,
                                 "RequireSymbols": p.require_symbols}},
                             "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": not self.settings.self_sign_up},
                             "EstimatedNumberOfUsers": len(await self.store.list_users())}}

    async def op_DescribeUserPoolClient(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._client(body)
        return {"UserPoolClient": {"UserPoolId": self.pool_id, "ClientId": self.client_id, "ClientName": "cove",
                                   "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
                                                         "ALLOW_REFRESH_TOKEN_AUTH"]}}

