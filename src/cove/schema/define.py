"""Amplify's ``defineData`` and ``defineAuth`` in Python, the authorization-mode names they accept, and
``attach_auth``, which joins the two when a schema file defines both."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cove.identity.attributes import parse_declarations

from .compile import compile_schema
from .dsl import SchemaBuilder
from .model import AuthorizationModes, AuthSettings, PasswordPolicy, Schema, SchemaError

# Every spelling of an authorization mode (snake_case, Amplify's camelCase, AppSync's constants) ->
# the mode's name in AuthorizationModes. The client has its own table (client/_config.py), whose
# names are the client's (``api_key``) and which folds identity_pool into iam.
AUTH_MODE_ALIASES = {
    "apiKey": "apiKey", "api_key": "apiKey", "API_KEY": "apiKey",
    "userPool": "userPool", "user_pool": "userPool", "AMAZON_COGNITO_USER_POOLS": "userPool",
    "identityPool": "identityPool", "identity_pool": "identityPool",
    "iam": "iam", "AWS_IAM": "iam",
    "oidc": "oidc", "OPENID_CONNECT": "oidc",
    "lambda": "lambda", "AWS_LAMBDA": "lambda",
}


def _option(options: Mapping[str, Any], snake: str, camel: str, default: Any = None) -> Any:
    if snake in options:
        return options[snake]
    return options.get(camel, default)


def normalize_auth_mode(name: str) -> str:
    """Any accepted spelling (``api_key``, ``apiKey``, ``API_KEY``) -> ``apiKey``; SchemaError otherwise."""
    mode = AUTH_MODE_ALIASES.get(name)
    if mode is None:
        raise SchemaError(f"unknown authorization mode {name!r}; use one of "
                          "api_key, user_pool, identity_pool, iam, oidc, lambda")
    return mode


class DataDefinition:
    """What ``define_data`` returns: the compiled schema plus its authorization modes."""

    def __init__(self, schema: Schema, source: SchemaBuilder) -> None:
        self.schema = schema
        self.source = source


def define_data(*, schema: SchemaBuilder, authorization_modes: Mapping[str, Any] | None = None,
                name: str | None = None) -> DataDefinition:
    """Amplify's ``defineData``: a schema and how requests may authenticate."""
    if not isinstance(schema, SchemaBuilder):
        raise SchemaError("define_data(schema=...) takes the result of a.schema({...})")
    modes = _auth_modes(authorization_modes or {})
    compiled = compile_schema(schema, modes)
    return DataDefinition(compiled, schema)


def _auth_modes(options: Mapping[str, Any]) -> AuthorizationModes:
    known = {"default_authorization_mode", "defaultAuthorizationMode", "api_key_authorization_mode",
             "apiKeyAuthorizationMode", "lambda_authorization_mode", "lambdaAuthorizationMode",
             "oidc_authorization_mode", "oidcAuthorizationMode"}
    for key in options:
        if key not in known:
            raise SchemaError(f"define_data(authorization_modes=...): unknown key {key!r}")
    modes = AuthorizationModes()
    default = _option(options, "default_authorization_mode", "defaultAuthorizationMode")
    if default is not None:
        modes.default = normalize_auth_mode(default)
        modes.default_given = True
    api_key = _option(options, "api_key_authorization_mode", "apiKeyAuthorizationMode") or {}
    _known_keys(api_key, "api_key_authorization_mode", {"expires_in_days", "expiresInDays", "description"})
    days = _option(api_key, "expires_in_days", "expiresInDays", 7)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise SchemaError("api_key_authorization_mode.expires_in_days must be a whole number from 1 to 365")
    modes.api_key_expires_in_days = days
    modes.api_key_description = api_key.get("description")
    lam = _option(options, "lambda_authorization_mode", "lambdaAuthorizationMode")
    if lam is not None:
        _known_keys(lam, "lambda_authorization_mode", {"function", "time_to_live_in_seconds", "timeToLiveInSeconds"})
        modes.lambda_function = lam.get("function")
        modes.lambda_ttl_seconds = int(_option(lam, "time_to_live_in_seconds", "timeToLiveInSeconds", 60))
    modes.oidc = _option(options, "oidc_authorization_mode", "oidcAuthorizationMode")
    return modes


class AuthDefinition:
    """What ``define_auth`` returns; put it next to ``data`` in the schema file as ``auth = ...``."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings


_LOGIN_ATTRIBUTES = {"email": "email", "phone": "phone_number", "phone_number": "phone_number"}


def define_auth(*, login_with: Mapping[str, Any] | None = None, groups: Iterable[str] = (),
                allow_guest_access: bool = False, password_policy: Mapping[str, Any] | None = None,
                access_token_validity: int = 3600, id_token_validity: int = 3600,
                refresh_token_validity: int = 30 * 86400, self_sign_up: bool = True,
                require_confirmation: bool | None = None, on_send_code: Callable[..., Any] | None = None,
                user_attributes: Mapping[str, Any] | None = None, prevent_user_existence_errors: bool = True,
                **camel: Any) -> AuthDefinition:
    """Amplify's ``defineAuth``: a user pool (and an identity pool) for the API.

    ``login_with={"email": True}`` (or ``"phone": True``); ``groups=["Admins"]`` (precedence in
    list order); ``allow_guest_access=True`` lets the identity pool hand out guest credentials;
    ``password_policy={"min_length": 8, "require_lowercase": True, "require_uppercase": True,
    "require_numbers": True, "require_symbols": True}`` (Cognito's defaults); token lifetimes in
    seconds. ``self_sign_up=False`` refuses SignUp (only admins create users);
    ``require_confirmation`` (default: the sandbox confirms sign-ups at once, ``cove serve`` sends a
    code) and ``on_send_code(event)``, called with a ``cove.identity.delivery.CodeEvent`` for every
    confirmation and password-reset code. ``user_attributes={"custom:tenant": {"data_type": "String",
    "mutable": False}, "preferredUsername": {"required": True}}`` declares custom attributes (only
    declared ones are writable) and marks standard ones required or immutable.
    ``prevent_user_existence_errors=False`` makes unknown users get ``UserNotFoundException`` (Gen 2
    pools hide them, the default). camelCase spellings (``loginWith``, ``allowGuestAccess``,
    ``selfSignUp``, ``requireConfirmation``, ``onSendCode``, ``userAttributes``) work too.
    """
    aliases = {"loginWith": "login_with", "allowGuestAccess": "allow_guest_access",
               "passwordPolicy": "password_policy", "selfSignUp": "self_sign_up",
               "requireConfirmation": "require_confirmation", "onSendCode": "on_send_code",
               "userAttributes": "user_attributes"}
    options: dict[str, Any] = {"login_with": login_with, "allow_guest_access": allow_guest_access,
                               "password_policy": password_policy, "self_sign_up": self_sign_up,
                               "require_confirmation": require_confirmation, "on_send_code": on_send_code,
                               "user_attributes": user_attributes}
    for key, value in camel.items():
        if key not in aliases:
            raise SchemaError(f"define_auth(): unknown option {key!r}")
        options[aliases[key]] = value
    login_with, allow_guest_access = options["login_with"], options["allow_guest_access"]
    password_policy, self_sign_up = options["password_policy"], options["self_sign_up"]
    require_confirmation, on_send_code = options["require_confirmation"], options["on_send_code"]
    user_attributes = options["user_attributes"]
    if not isinstance(self_sign_up, bool):
        raise SchemaError("define_auth(self_sign_up=...) must be True or False")
    if require_confirmation is not None and not isinstance(require_confirmation, bool):
        raise SchemaError("define_auth(require_confirmation=...) must be True, False or None")
    if on_send_code is not None and not callable(on_send_code):
        raise SchemaError("define_auth(on_send_code=...) takes a function that receives a CodeEvent")
    login = login_with if login_with is not None else {"email": True}
    if not isinstance(login, Mapping):
        raise SchemaError('define_auth(login_with=...) takes a dict such as {"email": True}')
    attributes: list[str] = []
    for key, value in login.items():
        if key not in _LOGIN_ATTRIBUTES:
            raise SchemaError(f"define_auth(login_with=...): unknown login {key!r}; use email or phone")
        if value:
            attributes.append(_LOGIN_ATTRIBUTES[key])
    if not attributes:
        raise SchemaError("define_auth(login_with=...): enable at least one of email, phone")
    names = tuple(groups)
    for g in names:
        if not isinstance(g, str) or not g or len(g) > 128:
            raise SchemaError(f"define_auth(groups=...): {g!r} is not a valid group name")
    if len(set(names)) != len(names):
        raise SchemaError("define_auth(groups=...): group names repeat")
    policy = PasswordPolicy()
    for key, value in (password_policy or {}).items():
        snake = {"minLength": "min_length", "requireLowercase": "require_lowercase",
                 "requireUppercase": "require_uppercase", "requireNumbers": "require_numbers",
                 "requireSymbols": "require_symbols"}.get(key, key)
        if not hasattr(policy, snake):
            raise SchemaError(f"define_auth(password_policy=...): unknown key {key!r}")
        if snake == "min_length":
            if isinstance(value, bool) or not isinstance(value, int) or not 6 <= value <= 99:
                raise SchemaError("define_auth(password_policy=...): min_length must be 6..99")
        elif not isinstance(value, bool):
            raise SchemaError(f"define_auth(password_policy=...): {key} must be True or False")
        setattr(policy, snake, value)
    for name, value in (("access_token_validity", access_token_validity), ("id_token_validity", id_token_validity),
                        ("refresh_token_validity", refresh_token_validity)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SchemaError(f"define_auth({name}=...): a positive number of seconds")
    if user_attributes is not None and not isinstance(user_attributes, Mapping):
        raise SchemaError('define_auth(user_attributes=...) takes a dict such as {"custom:tenant": {}}')
    try:
        declared = parse_declarations(user_attributes)
    except ValueError as exc:
        raise SchemaError(f"define_auth(user_attributes=...): {exc}") from None
    return AuthDefinition(AuthSettings(tuple(attributes), names, bool(allow_guest_access), policy,
                                       access_token_validity, id_token_validity, refresh_token_validity,
                                       self_sign_up=self_sign_up, require_confirmation=require_confirmation,
                                       on_send_code=on_send_code, user_attributes=declared,
                                       prevent_user_existence_errors=bool(prevent_user_existence_errors)))


def attach_auth(definition: DataDefinition, auth: AuthDefinition) -> DataDefinition:
    """Give a data definition its ``define_auth``: user pool tokens become accepted and, unless
    ``default_authorization_mode`` was given, the default mode (as in Amplify)."""
    schema = definition.schema
    schema.auth = auth.settings
    modes = schema.authorization_modes
    modes.user_pool = True
    if not modes.default_given:
        modes.default = "userPool"
    return definition


def _known_keys(options: Any, where: str, known: set[str]) -> None:
    if not isinstance(options, Mapping):
        raise SchemaError(f"define_data(authorization_modes=...): {where} must be a dict, got {options!r}")
    for key in options:
        if key not in known:
            raise SchemaError(f"define_data(authorization_modes=...): unknown key {key!r} in {where}; "
                              f"use any of {', '.join(sorted(known))}")
