"""Rendering: records (already read, relations already prefetched) into response JSON, with no I/O.

The compiled renderers of plan.py call back into :class:`Context` for nested objects and
relationships; a relationship's value is looked up in what prefetch.py loaded for its entry.
"""

from __future__ import annotations

from typing import Any, Protocol

from cove.schema.model import Model, Schema
from cove.store.base import Page, Record, StoreError
from cove.wire.filters import matches

from ..authorization import Authorizer, HiddenField
from ..errors import FieldError, field_error
from ..identity import Identity
from ..limits import Limits
from .plan import (
    ITEMS,
    NEXT_TOKEN,
    OBJECT,
    SCALAR,
    TYPENAME,
    ABSENT,
    Entry,
    NonNullViolation,
    Plan,
    field_arguments,
    list_fields,
    null_violation,
)

NO_PAGE = Page([], None)


class Rules(Protocol):
    """What rendering needs of its engine (an Engine, without importing it)."""

    schema: Schema
    authorizer: Authorizer
    guarded_models: frozenset[str]
    limits: Limits


class Context:
    """Per-request state: identity, variables, collected errors, and the relations prefetched for
    each plan entry (``loaded[id(entry)]``: parent key -> record or page, or the StoreError the
    entry's batch failed with)."""

    __slots__ = ("rules", "errors", "identity", "loaded", "path", "variables")

    def __init__(self, rules: Rules, identity: Identity, variables: Any) -> None:
        self.rules = rules
        self.identity = identity
        self.variables = variables
        self.errors: list[dict[str, Any]] = []
        self.path: list[Any] = []   # where rendering is, for field-level errors
        self.loaded: dict[int, Any] = {}

    def identity_event(self) -> dict[str, Any] | None:
        ident = self.identity
        if ident.mode == "apiKey":
            return None
        if ident.mode == "lambda":
            return {"resolverContext": ident.resolver_context or {}}
        return {"claims": ident.claims, "sub": ident.claims.get("sub")}

    def record(self, plan: Plan, record: dict[str, Any]) -> dict[str, Any]:
        model = plan.model
        if model is not None and (model.name in self.rules.guarded_models or self.identity.denied_fields):
            record = self._guard(plan, model, record)
        elif self.identity.denied_fields:  # a custom type's fields may be denied too
            record = self._without_denied(plan, record)
        return plan.render(self, record)  # type: ignore[misc]

    def _without_denied(self, plan: Plan, record: dict[str, Any]) -> dict[str, Any]:
        """A Lambda authorizer's deniedFields nulled (silently, as AppSync does)."""
        denied = self.identity.denied_fields
        names = [e.name for e in plan.entries if f"{plan.type_name}.{e.name}" in denied]
        return {**record, **dict.fromkeys(names)} if names else record

    def _guard(self, plan: Plan, model: Model, record: dict[str, Any]) -> dict[str, Any]:
        """What the caller may see of a record: fields denied by field-level rules nulled with an
        error, a Lambda authorizer's deniedFields nulled."""
        authorizer = self.rules.authorizer
        out = dict(record)
        if authorizer.has_field_rules(model):
            selected = [e for e in plan.entries if e.kind in (SCALAR, OBJECT) and e.name in model.fields]
            denied = set(authorizer.field_denials(model, "read", [e.name for e in selected], record, self.identity))
            for e in selected:
                if e.name in denied:
                    out[e.name] = None
                    self.errors.append(field_error(f"Not Authorized to access {e.name} on type {model.name}",
                                                   "Unauthorized", [*self.path, e.key], e.nodes[0]))
        return self._without_denied(plan, out) if self.identity.denied_fields else out

    def _object(self, e: Entry, value: Any, parent: Plan) -> Any:
        if value is None:
            if e.nonnull:
                raise null_violation(e, parent)
            return None
        assert e.sub is not None
        if e.is_list:
            out = []
            for i, item in enumerate(value):
                try:
                    out.append(self.record(e.sub, item) if item is not None else None)
                except NonNullViolation as exc:
                    exc.path[:0] = [e.key, i]
                    raise
            return out
        try:
            return self.record(e.sub, value)
        except NonNullViolation as exc:
            exc.path.insert(0, e.key)
            raise

    def connection(self, plan: Plan, items: list[Record], next_token: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for e in plan.entries:
            if e.kind == ITEMS:
                sub = e.sub
                assert sub is not None
                render = sub.render
                assert render is not None
                guarded = sub.model is not None and (sub.model.name in self.rules.guarded_models
                                                     or bool(self.identity.denied_fields))
                try:
                    if guarded:
                        base = self.path
                        rendered: list[dict[str, Any] | None] = []
                        for i, item in enumerate(items):
                            self.path = [*base, e.key, i]
                            rendered.append(self.record(sub, item))
                        self.path = base
                    else:
                        rendered = [render(self, item) for item in items]
                except NonNullViolation:
                    rendered = []
                    for i, item in enumerate(items):
                        try:
                            rendered.append(self.record(sub, item))
                        except NonNullViolation as exc:
                            # List items are nullable: the bad item becomes null, the page survives.
                            self.errors.append(field_error(exc.message, None, [e.key, i, *exc.path],
                                                           e.nodes[0]))
                            rendered.append(None)
                out[e.key] = rendered
            elif e.kind == NEXT_TOKEN:
                out[e.key] = next_token
            elif e.kind == TYPENAME:
                out[e.key] = plan.type_name
            elif e.kind == ABSENT:
                if e.nonnull:
                    raise null_violation(e, plan)
                out[e.key] = None
        return out


    def _related(self, e: Entry, plan: Plan, record: dict[str, Any]) -> Any:
        rules = self.rules
        assert e.model_field is not None and e.model_field.relation is not None and e.sub is not None
        rel = e.model_field.relation
        related = rules.schema.models[rel.related_model]
        if rules.authorizer.operation_denied(plan.type_name, e.name, self.identity):
            return None
        decision = rules.authorizer.check_operation(related, "get" if rel.parent_holds_key else "list",
                                                    self.identity)
        if not decision.allowed:
            self.errors.append(field_error(f"Not Authorized to access {e.name} on type {plan.type_name}",
                                           "Unauthorized", [*self.path, e.key], e.nodes[0]))
            return None
        assert plan.model is not None
        loaded = self.loaded[id(e)]
        if rel.parent_holds_key:
            key = tuple(record.get(r) for r in rel.key_fields)
            if any(v is None for v in key):
                return None
            found = loaded.get(key)
            row_filter = decision.row_filter
            hidden = row_filter is not None and found is not None and not matches(row_filter, found,
                                                                                  list_fields(related))
            if hidden:
                found = None  # a parent the caller may not read is not shown
        else:
            page = loaded.get(tuple(record.get(k) for k in plan.model.identifier), NO_PAGE)
            found = page.items[0] if page.items else None
        if found is None:
            return None
        try:
            return self.record(e.sub, found)
        except NonNullViolation as exc:
            exc.path.insert(0, e.key)
            raise

    def _has_many(self, e: Entry, plan: Plan, record: dict[str, Any]) -> Any:
        rules = self.rules
        assert e.model_field is not None and e.model_field.relation is not None and e.sub is not None
        rel = e.model_field.relation
        related = rules.schema.models[rel.related_model]
        if rules.authorizer.operation_denied(plan.type_name, e.name, self.identity):
            return None
        decision = rules.authorizer.check_operation(related, "list", self.identity)
        if not decision.allowed:
            self.errors.append(field_error(f"Not Authorized to access {e.name} on type {plan.type_name}",
                                           "Unauthorized", [*self.path, e.key], e.nodes[0]))
            return None
        assert plan.model is not None
        args = field_arguments(e, self.variables)
        limit = args.get("limit") or rules.limits.default_list_limit
        if not 1 <= limit <= rules.limits.max_list_limit:
            raise FieldError(f"limit must be between 1 and {rules.limits.max_list_limit}", "InvalidArgumentsError")
        try:
            rules.authorizer.blind_filter(related, args.get("filter"), self.identity)
        except HiddenField as exc:
            self.errors.append(field_error(str(exc), "Unauthorized", [*self.path, e.key], e.nodes[0]))
            return None
        loaded = self.loaded[id(e)]
        page = loaded
        if not isinstance(loaded, StoreError):
            page = loaded.get(tuple(record.get(k) for k in plan.model.identifier), NO_PAGE)
        if isinstance(page, StoreError):
            self.errors.append(field_error(str(page), page.error_type, [e.key], e.nodes[0]))
            return None
        return self.connection(e.sub, page.items, page.next_token)
