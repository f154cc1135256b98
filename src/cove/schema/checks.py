"""Schema mistakes that are valid GraphQL but almost certainly not what was meant.

Each finding is a warning the sandbox prints at start and on reload: a rule no configured
authorization mode can satisfy (so it silently denies everyone), or an owner/group field that a
rule created because its name is a near miss of a field the model declares.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from .model import AuthRule, Schema


def schema_warnings(schema: Schema) -> list[str]:
    """Human-readable warnings, each naming where the problem is and what to do."""
    found: list[str] = []
    for where, rule in _rules(schema):
        problem = _unsatisfiable(rule, schema)
        if problem is not None:
            found.append(f"{where}: {_describe(rule)} {problem}")
    found += _near_miss_fields(schema)
    return found


def _rules(schema: Schema) -> Iterator[tuple[str, AuthRule]]:
    for model in schema.models.values():
        for rule in model.rules:
            yield model.name, rule
        for field in model.fields.values():
            for rule in field.rules or ():
                yield f"{model.name}.{field.name}", rule
    for operations in (schema.queries, schema.mutations):
        for op in operations.values():
            for rule in op.rules:
                yield op.name, rule


def _describe(rule: AuthRule) -> str:
    if rule.strategy == "public":
        return "allow.guest()" if rule.provider == "identityPool" else "allow.public_api_key()"
    provider = "" if rule.provider == "userPools" else repr(rule.provider)
    if rule.strategy == "private":
        return f"allow.authenticated({provider})"
    extra = f", {provider}" if provider else ""
    if rule.strategy == "owner":
        if rule.owner_field == "owner" and not rule.owner_is_list:
            return f"allow.owner({provider})"
        kind = "owners_defined_in" if rule.owner_is_list else "owner_defined_in"
        return f"allow.{kind}({rule.owner_field!r}{extra})"
    if rule.strategy == "groups":
        if rule.groups_field:
            kind = "groups_defined_in" if rule.groups_field_is_list else "group_defined_in"
            return f"allow.{kind}({rule.groups_field!r}{extra})"
        return f"allow.groups({list(rule.groups)!r}{extra})"
    return f"allow.{rule.strategy}()"


def _unsatisfiable(rule: AuthRule, schema: Schema) -> str | None:
    """Why no request can ever pass `rule` with the schema's modes, or None if one can."""
    auth = schema.auth
    if rule.provider == "userPools" and rule.strategy != "public":
        if auth is None:
            return ("needs a user pool, but the schema file has no `auth = define_auth(...)`: nobody can sign "
                    "in, so the rule lets no one through. Add auth = define_auth(login_with={'email': True}).")
        if rule.strategy == "groups" and not rule.groups_field:
            unknown = [g for g in rule.groups if g not in auth.groups]
            if unknown:
                hints = [f"{g!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(
                    g, auth.groups, n=1, cutoff=0.6)) else repr(g) for g in unknown]
                declared = ", ".join(auth.groups) or "none"
                return (f"names groups define_auth(groups=...) does not declare: {', '.join(hints)}; "
                        f"the declared groups are: {declared}")
    if rule.provider == "oidc" and not schema.authorization_modes.oidc:
        return ("needs an OIDC mode, but define_data has none: add oidc_authorization_mode to "
                "define_data(authorization_modes=...) or use the user pool (the default provider)")
    if rule.provider == "identityPool":
        if auth is None:
            return "needs an identity pool: add auth = define_auth(...) to the schema file"
        if rule.strategy == "public" and not auth.allow_guest_access:
            return "lets guests in, but define_auth(...) does not: add allow_guest_access=True"
    return None


def _near_miss_fields(schema: Schema) -> list[str]:
    found = []
    for model in schema.models.values():
        declared = [f.name for f in model.fields.values() if not f.implicit]
        for rule in model.rules:
            for name in (rule.owner_field, rule.groups_field):
                field = model.fields.get(name) if name else None
                if name is None or field is None or not field.implicit:
                    continue
                close = difflib.get_close_matches(name, declared, n=1, cutoff=0.8)
                if close:
                    found.append(f"{model.name}: {_describe(rule)} adds a field {name!r} that the model does not "
                                 f"declare, next to its field {close[0]!r}; a typo? Name the existing field in the "
                                 f"rule, or rename the field.")
    return found
