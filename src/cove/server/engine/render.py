"""Rendering: records (already read, relations already prefetched) into response JSON, with no I/O.

The compiled renderers of plan.py call back into :class:`Context` for nested objects and
relationships; a relationship's value is looked up in what prefetch.py loaded for its entry.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Protocol

import orjson

from cove.schema.model import Model, Schema
from cove.store.base import Page, Record, StoreError

from ..authorization import Authorizer, HiddenField
from ..errors import FieldError, field_error
from ..identity import Identity
from ..limits import Limits
from .plan import (
    ABSENT,
    ITEMS,
    NEXT_TOKEN,
    OBJECT,
    SCALAR,
    TYPENAME,
    Entry,
    NonNullViolation,
    Plan,
    null_violation,
)

NO_PAGE = Page([], None)
# What prefetch leaves for a relationship it did not load (besides the FieldError, HiddenField or
# StoreError it met): the field is denied by an operation rule (null, silently), or the related
# model may not be read (null with an Unauthorized error per parent).
HIDDEN = object()
DENIED = object()


class Rules(Protocol):
    """What rendering needs of its engine (an Engine, without importing it)."""

    schema: Schema
    authorizer: Authorizer
    guarded_models: frozenset[str]
    limits: Limits


class Context:
    """Per-request state: identity, variables, collected errors, and the relations prefetched for
    each plan entry: ``loaded[id(entry)]`` is a dict (parent key -> record, page, or the StoreError
    that parent's read met), or what kept the entry from being loaded (see :meth:`_refused`)."""

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
        loaded = self.loaded[id(e)]
        if type(loaded) is not dict:
            return self._refused(e, plan, loaded)
        assert e.model_field is not None and e.model_field.relation is not None and e.sub is not None
        rel = e.model_field.relation
        if rel.parent_holds_key:
            # Loaded without the parents the caller may not read; a key with a null is never loaded.
            found = loaded.get(tuple([record.get(r) for r in rel.key_fields]))
        else:
            assert plan.model is not None
            page = loaded.get(tuple([record.get(k) for k in plan.model.identifier]), NO_PAGE)
            found = page.items[0] if page.items else None
        if found is None:
            return None
        try:
            return self.record(e.sub, found)
        except NonNullViolation as exc:
            exc.path.insert(0, e.key)
            raise

    def _has_many(self, e: Entry, plan: Plan, record: dict[str, Any]) -> Any:
        loaded = self.loaded[id(e)]
        if type(loaded) is not dict:
            return self._refused(e, plan, loaded)
        assert plan.model is not None and e.sub is not None
        # A parent key with a null matches no stored reference: an empty page, as a list finds it.
        page = loaded.get(tuple([record.get(k) for k in plan.model.identifier]), NO_PAGE)
        if isinstance(page, StoreError):
            self.errors.append(field_error(str(page), page.error_type, [e.key], e.nodes[0]))
            return None
        return self.connection(e.sub, page.items, page.next_token)

    def _refused(self, e: Entry, plan: Plan, refusal: Any) -> None:
        """A relationship prefetch did not load, said the way its per-parent read always said it."""
        if refusal is HIDDEN:
            return None
        if isinstance(refusal, FieldError):
            raise refusal
        if refusal is DENIED:
            message, error_type = f"Not Authorized to access {e.name} on type {plan.type_name}", "Unauthorized"
        elif isinstance(refusal, HiddenField):
            message, error_type = str(refusal), "Unauthorized"
        else:
            assert isinstance(refusal, StoreError)
            self.errors.append(field_error(str(refusal), refusal.error_type, [e.key], e.nodes[0]))
            return None
        self.errors.append(field_error(message, error_type, [*self.path, e.key], e.nodes[0]))
        return None


# A list at least this long is written in chunks of items sized to take about _CHUNK_SECONDS each; a
# shorter one item by item, looking for a long list inside its items.
_LONG_LIST = 16
_CHUNK_SECONDS = 100e-6
_FIRST_CHUNK = 16
_MAX_CHUNK = 4096


def dumps_piecewise(value: Any, cut: bool = True) -> bytes:
    """``orjson.dumps(value)``, built from calls of about 0.1 ms each.

    A heavy rendering (megabytes of JSON) serialized in one call holds the GIL for milliseconds, and
    the interpreter can only hand the GIL to the event loop between calls. So the first long list
    down each branch (the items of a page) is written in chunks whose size adapts to how long the
    last one took: few calls for small items, short ones for big items. ``value`` is not changed: a
    rendering may hold a record's own lists (array fields), shared with other parts of the answer."""
    if not cut:
        return orjson.dumps(value)
    if isinstance(value, dict):
        return b"{" + b",".join(orjson.dumps(key) + b":" + dumps_piecewise(item)
                                for key, item in value.items()) + b"}"
    if not isinstance(value, list):
        return orjson.dumps(value)
    if len(value) < _LONG_LIST:
        return b"[" + b",".join([dumps_piecewise(item) for item in value]) + b"]"
    parts = []
    start, size, count = 0, _FIRST_CHUNK, len(value)
    while start < count:
        end = min(count, start + size)
        began = perf_counter()
        parts.append(orjson.dumps(value[start:end])[1:-1])
        took = perf_counter() - began
        start = end
        size = max(1, min(_MAX_CHUNK, int(size * _CHUNK_SECONDS / max(took, 1e-7))))
    return b"[" + b",".join(parts) + b"]"
