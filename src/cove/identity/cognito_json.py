"""Shapes of Cognito's JSON API shared by the user pool and the identity pool: the error answer,
reading request members, and a user's attributes as the API lists them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cove.store.identity_state import User


class CognitoError(Exception):
    """An error answer of the Cognito JSON API: HTTP 400 ``{"__type": ..., "message": ...}``."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def string_member(body: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    """The string member ``name`` of a request ("" when absent and not required)."""
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        member = name[:1].lower() + name[1:]
        raise CognitoError("InvalidParameterException", f"1 validation error detected: Value at '{member}' "
                           "failed to satisfy constraint: Member must not be null")
    if len(value) > 8192:
        raise CognitoError("InvalidParameterException", f"{name} is too long")
    return value


def attributes_member(body: Mapping[str, Any], name: str = "UserAttributes") -> dict[str, str]:
    """A request's ``[{Name, Value}]`` list as a dict."""
    raw = body.get(name) or []
    if not isinstance(raw, list):
        raise CognitoError("InvalidParameterException", f"{name} must be a list of {{Name, Value}}")
    out: dict[str, str] = {}
    for item in raw:
        well_formed = isinstance(item, Mapping) and isinstance(item.get("Name"), str)
        if not well_formed or not isinstance(item.get("Value", ""), str):
            raise CognitoError("InvalidParameterException", f"{name} must be a list of {{Name, Value}}")
        out[item["Name"]] = item.get("Value", "")
    return out


def attribute_list(user: User) -> list[dict[str, str]]:
    """A user's attributes (``sub`` first) as the API answers them."""
    attrs = {"sub": user.sub, **user.attributes}
    return [{"Name": k, "Value": str(v).lower() if isinstance(v, bool) else str(v)} for k, v in attrs.items()]


def mask_destination(destination: str) -> str:
    """How a code's destination is shown: ``a***@e***`` or ``+*******1234``."""
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    return "+*******" + destination[-4:]
