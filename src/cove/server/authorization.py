"""Authorization rules, evaluated per operation.

A rule authorizes a request when its provider matches the request's mode and its strategy accepts
the identity. Static rules (public, private, static groups, custom) decide the whole operation;
owner and dynamic-group rules (the authorization issue) add a row filter instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cove.schema.model import AuthRule, Model, Schema

from .identity import PROVIDERS_FOR_MODE, Identity


@dataclass
class Decision:
    allowed: bool
    # A filter AND-ed to reads (owner/group rules); None when the operation is statically allowed.
    row_filter: dict[str, Any] | None = None


ALLOW = Decision(True)
DENY = Decision(False)


class Authorizer:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._cache: dict[tuple[str, str, str], bool] = {}

    def check_rules(self, rules: list[AuthRule], operation: str, identity: Identity) -> bool:
        providers = PROVIDERS_FOR_MODE.get(identity.mode, ())
        for rule in rules:
            if rule.provider not in providers or not rule.grants(operation):
                continue
            if self._static_match(rule, identity):
                return True
        return False

    def _static_match(self, rule: AuthRule, identity: Identity) -> bool:
        if rule.strategy == "public":
            return True
        if rule.strategy == "private":
            return identity.mode != "iam" or identity.iam_kind in ("authenticated", "trusted")
        if rule.strategy == "custom":
            return identity.mode == "lambda"
        if rule.strategy == "groups" and rule.groups:
            claim = identity.claims.get(rule.group_claim) or []
            if isinstance(claim, str):
                claim = [claim]
            return any(g in claim for g in rule.groups)
        return False

    def check_operation(self, model: Model, operation: str, identity: Identity) -> Decision:
        if identity.mode == "iam" and identity.iam_kind == "trusted":
            return ALLOW  # Amplify Gen 2's generic IAM access for back-end code
        if identity.mode in ("apiKey", "lambda"):
            key = (model.name, operation, identity.mode)
            cached = self._cache.get(key)
            if cached is None:
                cached = self._cache[key] = self.check_rules(model.rules, operation, identity)
            return ALLOW if cached else DENY
        return ALLOW if self.check_rules(model.rules, operation, identity) else DENY
