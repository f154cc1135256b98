"""Authorization rules, evaluated per operation and per record, with AppSync's semantics.

A rule applies to a request when its provider matches the request's mode and it grants the
operation. Static rules (public, private, static groups, custom) authorize the whole operation.
Owner and dynamic-group rules authorize record by record: for reads they become a filter AND-ed to
the user's (pushed into SQL, so unauthorized rows never leave the database and pages stay full);
for writes they are checked against the input and the stored record.

Owner values follow Cognito: a record's owner is stored as ``<sub>::<username>`` and read back as
stored, as AppSync does; a stored value equal to the bare sub or the bare username also matches
(legacy data, and owners named by username when sharing with ``owners_defined_in``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cove.wire.filters import matches
from cove.schema.model import AuthRule, Model, Schema

from .identity import PROVIDERS_FOR_MODE, Identity


@dataclass
class Decision:
    """What a request may do with one operation on one model."""

    allowed: bool
    # Filter (AppSync filter syntax) a record must match, for owner/dynamic-group access; None when a
    # static rule allows the operation on every record.
    row_filter: dict[str, Any] | None = None
    # Owner fields to fill in on create when absent: field -> value (or [value] for list fields).
    owner_defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def static(self) -> bool:
        return self.allowed and self.row_filter is None


ALLOW = Decision(True)
DENY = Decision(False)


class HiddenField(Exception):
    """A filter, condition or key names a field the caller may never read."""

    def __init__(self, type_name: str, field_name: str) -> None:
        super().__init__(f"Not Authorized to access {field_name} on type {type_name}")
        self.type_name = type_name
        self.field_name = field_name


def _claim_list(value: Any) -> list[str]:
    """A group claim may be a list, a JSON-encoded list, or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
                if isinstance(parsed, list):
                    return [str(v) for v in parsed]
            except ValueError:
                pass
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(value)]


def owner_values(rule: AuthRule, identity: Identity) -> tuple[str | None, list[str]]:
    """(value to store on create, values that identify the caller as owner)."""
    claims = identity.claims
    if rule.identity_claim and rule.identity_claim not in ("sub::username", "cognito:username::sub"):
        if "::" in rule.identity_claim:
            parts = [claims.get(c) for c in rule.identity_claim.split("::")]
            if any(p is None for p in parts):
                return None, []
            value = "::".join(str(p) for p in parts)
            return value, [value, *(str(p) for p in parts)]
        v = claims.get(rule.identity_claim)
        if v is None and rule.identity_claim == "cognito:username":
            v = claims.get("username")
        return (str(v), [str(v)]) if v is not None else (None, [])
    sub = claims.get("sub")
    if identity.mode == "userPool":
        # The pool's own claims only: an id token's user is its cognito:username, an access token's
        # its username (an id token has no "username" claim unless an attribute sneaked one in).
        username = claims.get("cognito:username" if claims.get("token_use") == "id" else "username")
    else:
        username = claims.get("username") or claims.get("cognito:username")
    if sub is not None and username is not None:
        combined = f"{sub}::{username}"
        return combined, [combined, str(sub), str(username)]
    single = sub if sub is not None else username
    return (str(single), [str(single)]) if single is not None else (None, [])


class Authorizer:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._static_cache: dict[tuple[str, str, str], bool] = {}
        self._claims_free_cache: dict[tuple[str, str, str], bool] = {}

    # ------------------------------------------------------------------ rule matching

    @staticmethod
    def _applicable(rules: list[AuthRule], operation: str, identity: Identity) -> list[AuthRule]:
        providers = PROVIDERS_FOR_MODE.get(identity.mode, ())
        return [r for r in rules if r.provider in providers and r.grants(operation)]

    @staticmethod
    def _static_match(rule: AuthRule, identity: Identity) -> bool:
        if rule.strategy == "public":
            if rule.provider == "identityPool":
                return identity.mode == "iam" and identity.iam_kind == "unauthenticated"
            return True
        if rule.strategy == "private":
            if rule.provider == "identityPool":
                return identity.mode == "iam" and identity.iam_kind == "authenticated"
            return True
        if rule.strategy == "custom":
            return identity.mode == "lambda"
        if rule.strategy == "groups" and rule.groups:
            mine = _claim_list(identity.claims.get(rule.group_claim))
            return any(g in mine for g in rule.groups)
        return False

    def check_rules(self, rules: list[AuthRule], operation: str, identity: Identity) -> bool:
        """Static check only (custom operations, and the fast path for API keys)."""
        if identity.mode == "iam" and identity.iam_kind == "trusted":
            return True
        return any(self._static_match(r, identity) for r in self._applicable(rules, operation, identity))

    def decide(self, rules: list[AuthRule], operation: str, identity: Identity) -> Decision:
        if identity.mode == "iam" and identity.iam_kind == "trusted":
            return ALLOW  # Amplify Gen 2's generic IAM access for back-end code
        applicable = self._applicable(rules, operation, identity)
        if any(self._static_match(r, identity) for r in applicable):
            return ALLOW
        alternatives: list[dict[str, Any]] = []
        defaults: dict[str, Any] = {}
        for rule in applicable:
            if rule.strategy == "owner" and rule.owner_field:
                store_value, mine = owner_values(rule, identity)
                if not mine:
                    continue
                op = "contains" if rule.owner_is_list else "eq"
                alternatives += [{rule.owner_field: {op: v}} for v in mine]
                if store_value is not None and rule.owner_field not in defaults:
                    defaults[rule.owner_field] = [store_value] if rule.owner_is_list else store_value
            elif rule.strategy == "groups" and rule.groups_field:
                groups = _claim_list(identity.claims.get(rule.group_claim))
                op = "contains" if rule.groups_field_is_list else "eq"
                alternatives += [{rule.groups_field: {op: g}} for g in groups]
        if not alternatives:
            return DENY
        return Decision(True, {"or": alternatives}, defaults)

    def check_operation(self, model: Model, operation: str, identity: Identity) -> Decision:
        mode = identity.mode
        if mode in ("apiKey", "lambda") or (mode in ("userPool", "oidc") and self._claims_free(model, operation, mode)):
            # The answer depends only on the mode here (no owner or group rule applies to it): compute once.
            key = (model.name, operation, mode)
            cached = self._static_cache.get(key)
            if cached is None:
                cached = self._static_cache[key] = self.check_rules(model.rules, operation, identity)
            return ALLOW if cached else DENY
        return self.decide(model.rules, operation, identity)

    def _claims_free(self, model: Model, operation: str, mode: str) -> bool:
        key = (model.name, operation, mode)
        free = self._claims_free_cache.get(key)
        if free is None:
            providers = PROVIDERS_FOR_MODE.get(mode, ())
            free = self._claims_free_cache[key] = not any(
                r.provider in providers and r.grants(operation) and r.strategy in ("owner", "groups")
                for r in model.rules)
        return free

    # ------------------------------------------------------------------ records

    def can_access(self, model: Model, operation: str, record: dict[str, Any], identity: Identity) -> bool:
        """Whether `identity` may perform `operation` on this stored record."""
        decision = self.check_operation(model, operation, identity)
        if not decision.allowed:
            return False
        return decision.row_filter is None or matches(decision.row_filter, record, _list_fields(model))

    def can_read(self, model: Model, record: dict[str, Any], identity: Identity) -> bool:
        """For subscriptions: may this subscriber receive this record?"""
        return self.can_access(model, "listen", record, identity)

    def field_denials(self, model: Model, operation: str, fields: list[str], record: dict[str, Any] | None,
                      identity: Identity) -> list[str]:
        """Fields (among `fields`) whose field-level rules deny `operation` ("read", "create",
        "update", "delete") for this identity and record."""
        denied = []
        for name in fields:
            f = model.fields.get(name)
            if f is None or f.rules is None:
                continue
            decision = self.decide(f.rules, operation, identity)
            if not decision.allowed:
                denied.append(name)
            elif decision.row_filter is not None and record is not None and \
                    not matches(decision.row_filter, record, _list_fields(model)):
                denied.append(name)
        return denied

    def has_field_rules(self, model: Model) -> bool:
        return any(f.rules is not None for f in model.fields.values())

    # ------------------------------------------------------------------ what the caller may test

    @staticmethod
    def operation_denied(type_name: str, field_name: str, identity: Identity) -> bool:
        """A Lambda authorizer's deniedFields may name a whole operation (``Query.listSecrets``)."""
        return f"{type_name}.{field_name}" in identity.denied_fields

    def field_read(self, model: Model, name: str, identity: Identity) -> Decision:
        """Whether the caller may read field `name`: on every record (static), on the records
        matching the decision's row filter (owner-based field rules), or never."""
        if f"{model.name}.{name}" in identity.denied_fields:
            return DENY
        f = model.fields.get(name)
        if f is None or f.rules is None:
            return ALLOW
        return self.decide(f.rules, "read", identity)

    def blind_filter(self, model: Model, flt: dict[str, Any] | None, identity: Identity) -> dict[str, Any] | None:
        """`flt` (a filter or condition) made blind to what the caller may not read, so that it is no
        oracle: a field they may never read raises HiddenField; a test of a field they may read on some
        records only is AND-ed with that field's row filter, so on other records it is false whatever
        the hidden value is (under `not` too)."""
        if not flt or not (identity.denied_fields or self.has_field_rules(model)):
            return flt
        return self._blind(model, flt, identity)

    def _blind(self, model: Model, flt: dict[str, Any], identity: Identity) -> dict[str, Any]:
        out: dict[str, Any] = {}
        row_filters: list[dict[str, Any]] = []
        for key, value in flt.items():
            if key in ("and", "or"):
                parts = value if isinstance(value, list) else [value]
                out[key] = [self._blind(model, p, identity) if isinstance(p, dict) else p for p in parts]
            elif key == "not":
                out[key] = self._blind(model, value, identity) if isinstance(value, dict) else value
            else:
                decision = self.field_read(model, key, identity)
                if not decision.allowed:
                    raise HiddenField(model.name, key)
                if decision.row_filter is not None:
                    row_filters.append(decision.row_filter)
                out[key] = value
        return {"and": [out, *row_filters]} if row_filters else out


def _list_fields(model: Model) -> frozenset[str]:
    return frozenset(f.name for f in model.fields.values() if f.is_array)
