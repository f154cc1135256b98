"""Relations loaded before rendering, in batches: one statement per relationship per level.

For the records of one level (a page, a mutation's result, an event) and each relationship its plan
selects, one store call loads the related records of every parent at once (belongsTo: ``get_many``;
hasOne and hasMany: ``list_related``), then the walk recurses into what it loaded. Rendering then only
looks results up in ``Context.loaded``. The same authorization decisions as rendering's are taken
here to know whether and with which row filter to load; rendering takes them again and reports the
errors, so a relationship the caller may not read is never loaded and its error is said where it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cove.store.base import ListRequest, Record, RecordStore, RelatedRequest, StoreError
from cove.wire.filters import matches

from ..authorization import HiddenField
from ..errors import FieldError
from .plan import HAS_MANY, ITEMS, OBJECT, RELATED, Entry, Plan, field_arguments, list_fields
from .render import Context


async def prefetch(ctx: Context, store: RecordStore, plan: Plan, records: Iterable[Any]) -> None:
    """Load what rendering ``records`` (dicts, or None) with ``plan`` will look up."""
    if not plan.loads:
        return
    rows = [r for r in records if isinstance(r, dict)]
    if not rows:
        return
    for e in plan.entries:
        sub = e.sub
        if e.kind == RELATED:
            children = await _load_one(ctx, store, e, plan, rows)
            if sub is not None and children:
                await prefetch(ctx, store, sub, children)
        elif e.kind == HAS_MANY:
            children = await _load_many(ctx, store, e, plan, rows)
            if sub is not None and children:
                await prefetch_connection(ctx, store, sub, children)
        elif e.kind == OBJECT and sub is not None and sub.loads:
            values = [r.get(e.name) for r in rows]
            if e.is_list:
                values = [item for v in values if isinstance(v, list) for item in v]
            await prefetch(ctx, store, sub, values)


async def prefetch_connection(ctx: Context, store: RecordStore, plan: Plan, items: list[Record]) -> None:
    """:func:`prefetch` for a page rendered with a connection's plan (``items``, ``nextToken``)."""
    if not plan.loads:
        return
    for e in plan.entries:
        if e.kind == ITEMS and e.sub is not None:
            await prefetch(ctx, store, e.sub, items)


def _keys(rows: list[Record], fields: Iterable[str]) -> list[tuple[Any, ...]]:
    """The distinct key tuples of ``rows``, in their order."""
    names = tuple(fields)
    return list(dict.fromkeys(tuple(r.get(f) for f in names) for r in rows))


async def _load_one(ctx: Context, store: RecordStore, e: Entry, plan: Plan, rows: list[Record]) -> list[Record]:
    """A belongsTo or hasOne entry's records for every row; returns those rendering may show."""
    rules = ctx.rules
    assert e.model_field is not None and e.model_field.relation is not None and plan.model is not None
    rel = e.model_field.relation
    related = rules.schema.models[rel.related_model]
    if rules.authorizer.operation_denied(plan.type_name, e.name, ctx.identity):
        return []
    decision = rules.authorizer.check_operation(related, "get" if rel.parent_holds_key else "list", ctx.identity)
    if not decision.allowed:
        return []
    if rel.parent_holds_key:
        keys = [k for k in _keys(rows, rel.key_fields) if not any(v is None for v in k)]
        found = await store.get_many(related, [dict(zip(related.identifier, k, strict=True)) for k in keys])
        by_key = {tuple(r.get(f) for f in related.identifier): r for r in found}
        ctx.loaded[id(e)] = by_key
        if decision.row_filter is None:
            return found
        return [r for r in found if matches(decision.row_filter, r, list_fields(related))]
    pages = await store.list_related(RelatedRequest(related, tuple(rel.references),
                                                    _keys(rows, plan.model.identifier),
                                                    filter=decision.row_filter, limit=1))
    ctx.loaded[id(e)] = pages
    return [page.items[0] for page in pages.values() if page.items]


async def _load_many(ctx: Context, store: RecordStore, e: Entry, plan: Plan, rows: list[Record]) -> list[Record]:
    """A hasMany entry's pages for every row; returns all their items."""
    rules = ctx.rules
    assert e.model_field is not None and e.model_field.relation is not None and plan.model is not None
    rel = e.model_field.relation
    related = rules.schema.models[rel.related_model]
    if rules.authorizer.operation_denied(plan.type_name, e.name, ctx.identity):
        return []
    decision = rules.authorizer.check_operation(related, "list", ctx.identity)
    if not decision.allowed:
        return []
    try:
        args = field_arguments(e, ctx.variables)
        limit = args.get("limit") or rules.limits.default_list_limit
        user_filter = rules.authorizer.blind_filter(related, args.get("filter"), ctx.identity)
    except (FieldError, HiddenField):
        return []  # rendering meets the same problem and reports it
    if not 1 <= limit <= rules.limits.max_list_limit:
        return []
    if decision.row_filter is not None:
        user_filter = {"and": [user_filter, decision.row_filter]} if user_filter else decision.row_filter
    parents = _keys(rows, plan.model.identifier)
    descending = args.get("sortDirection") == "DESC"
    pages: dict[tuple[Any, ...], Any] = {}
    try:
        if args.get("nextToken"):
            # A nested page given its own nextToken continues one parent's list: one list per parent
            # (the token only fits the parent it came from; the others answer with its error).
            for parent in parents:
                request = ListRequest(related, filter=user_filter, limit=limit, next_token=args["nextToken"],
                                      descending=descending,
                                      extra_equals=dict(zip(rel.references, parent, strict=True)))
                try:
                    pages[parent] = await store.list(request)
                except StoreError as exc:
                    pages[parent] = exc
        else:
            pages = await store.list_related(RelatedRequest(related, tuple(rel.references), parents,
                                                            filter=user_filter, limit=limit, descending=descending))
    except StoreError as exc:
        ctx.loaded[id(e)] = exc
        return []
    ctx.loaded[id(e)] = pages
    return [item for page in pages.values() if not isinstance(page, StoreError) for item in page.items]
