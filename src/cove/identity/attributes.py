"""Which user attributes exist, who may write them, and which reach tokens (Cognito's rules).

A user pool's attributes are the standard OpenID ones plus the ``custom:`` ones declared with
``define_auth(user_attributes=...)``. Every other name (``sub``, ``username``, ``cognito:groups``,
``iss``, ``identities``, undeclared ``custom:x`` ...) is refused with ``InvalidParameterException``,
so a claim a rule reads (owner, groups, ``identity_claim``) is always one the server issued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cove.schema.model import AuthSettings, UserAttribute

STANDARD = frozenset({
    "address", "birthdate", "email", "email_verified", "family_name", "gender", "given_name", "locale",
    "middle_name", "name", "nickname", "phone_number", "phone_number_verified", "picture", "preferred_username",
    "profile", "updated_at", "website", "zoneinfo",
})
# Amplify Gen 2's spellings in defineAuth({userAttributes}) -> Cognito's names.
_AMPLIFY_NAMES = {
    "birthdate": "birthdate", "email": "email", "familyName": "family_name", "fullname": "name",
    "gender": "gender", "givenName": "given_name", "lastUpdateTime": "updated_at", "locale": "locale",
    "middleName": "middle_name", "nickname": "nickname", "phoneNumber": "phone_number",
    "preferredUsername": "preferred_username", "profilePage": "profile", "profilePicture": "picture",
    "timezone": "zoneinfo", "website": "website", "address": "address",
}
# Set only by the server (verification) or by an administrator.
VERIFICATION = frozenset({"email_verified", "phone_number_verified"})
DATA_TYPES = ("String", "Number", "Boolean", "DateTime")
MAX_VALUE_LENGTH = 2048
MAX_CUSTOM = 50
_CUSTOM_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class AttributeRefused(ValueError):
    """A write the pool refuses; the message is Cognito's wording."""


def parse_declarations(declared: Mapping[str, Any] | None) -> tuple[UserAttribute, ...]:
    """``define_auth(user_attributes=...)`` -> declarations; raises ValueError with a readable message."""
    out: list[UserAttribute] = []
    for key, options in (declared or {}).items():
        if not isinstance(key, str):
            raise ValueError(f"{key!r} is not an attribute name")
        if options is True:
            options = {}
        if not isinstance(options, Mapping):
            raise ValueError(f"{key!r} takes a dict such as {{'mutable': True}}")
        known = {"data_type", "dataType", "mutable", "required"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"{key!r}: unknown option(s) {', '.join(sorted(unknown))}")
        mutable = options.get("mutable", True)
        required = options.get("required", False)
        if not isinstance(mutable, bool) or not isinstance(required, bool):
            raise ValueError(f"{key!r}: mutable and required are True or False")
        data_type = options.get("data_type", options.get("dataType", "String"))
        if key.startswith("custom:"):
            short = key[len("custom:"):]
            if not 1 <= len(short) <= 20 or not set(short) <= _CUSTOM_NAME_CHARS:
                raise ValueError(f"{key!r}: a custom name has 1-20 letters, digits, _ or -")
            if data_type not in DATA_TYPES:
                raise ValueError(f"{key!r}: data_type is one of {', '.join(DATA_TYPES)}")
            if required:
                raise ValueError(f"{key!r}: custom attributes cannot be required (as in Cognito)")
            out.append(UserAttribute(key, data_type, mutable, False))
            continue
        name = _AMPLIFY_NAMES.get(key, key)
        if name not in STANDARD or name in VERIFICATION:
            raise ValueError(f"{key!r} is neither a standard attribute nor custom:<name>")
        if "data_type" in options or "dataType" in options:
            raise ValueError(f"{key!r}: standard attributes have a fixed data type")
        out.append(UserAttribute(name, "String", mutable, required))
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise ValueError("an attribute is declared twice")
    if sum(a.name.startswith("custom:") for a in out) > MAX_CUSTOM:
        raise ValueError(f"at most {MAX_CUSTOM} custom attributes")
    return tuple(out)


def issued(name: str) -> bool:
    """Whether an attribute of that name may appear in an id token (standard or custom, never reserved)."""
    return (name in STANDARD or name.startswith("custom:")) and name != "sub"


def _check_value(attribute: UserAttribute, value: str) -> None:
    if attribute.data_type == "Number":
        try:
            int(value)
        except ValueError:
            raise AttributeRefused(f"{attribute.name}: Number attribute value is not a number.") from None
    elif attribute.data_type == "Boolean" and value not in ("true", "false"):
        raise AttributeRefused(f"{attribute.name}: Boolean attribute value must be true or false.")
    elif attribute.data_type == "DateTime":
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            raise AttributeRefused(f"{attribute.name}: DateTime attribute value is not an ISO 8601 date.") from None


def check_writes(settings: AuthSettings, changes: Mapping[str, str], *, admin: bool, creating: bool = False) -> None:
    """Refuse any attribute the caller may not write: unknown or reserved names, undeclared
    ``custom:`` ones, verification flags and immutable attributes (unless ``admin``). As in
    Cognito, an immutable standard attribute can be given once, at sign-up; an immutable custom
    one only by an administrator, so a rule may trust it (``identity_claim="custom:tenant"``)."""
    declared = {a.name: a for a in settings.user_attributes}
    for name, value in changes.items():
        attribute = declared.get(name)
        if attribute is None and name not in STANDARD:
            if name.startswith("custom:"):
                raise AttributeRefused(f"Attributes did not conform to the schema: Type for attribute {{{name}}} "
                                      "could not be determined")
            raise AttributeRefused(f"user.{name}: Attribute does not exist in the schema.")
        if len(value) > MAX_VALUE_LENGTH:
            raise AttributeRefused(f"{name}: the value is longer than {MAX_VALUE_LENGTH} characters.")
        if admin:
            if attribute is not None:
                _check_value(attribute, value)
            continue
        if name in VERIFICATION:
            raise AttributeRefused(f"{name} can be set only by an administrator.")
        if attribute is not None:
            if not attribute.mutable and not (creating and name in STANDARD):
                raise AttributeRefused(f"Cannot modify the non-mutable attribute {name}.")
            _check_value(attribute, value)


def missing_required(settings: AuthSettings, attributes: Mapping[str, str]) -> str | None:
    """The first required standard attribute absent from ``attributes``, or None."""
    for attribute in settings.user_attributes:
        if attribute.required and not attributes.get(attribute.name):
            return attribute.name
    return None
