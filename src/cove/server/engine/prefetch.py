"""Relations loaded before rendering, in batches: one statement per relationship per level.

For the records of one level (a page, a mutation's result, an event) and each relationship its plan
selects, one store call loads the related records of every parent at once (belongsTo: ``get_many``;
hasOne and hasMany: ``list_related``), then the walk recurses into what it loaded. Rendering then only
looks results up in ``Context.loaded``. The authorization decisions a per-parent read took are taken
here once per relationship and level; what refused a relationship is left for rendering, which says
it for each parent where the per-parent read said it (same message, type and path), so a
relationship the caller may not read is never loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cove.schema.model import Model
from cove.store.base import ListRequest, Record, RecordStore, RelatedRequest, StoreError
from cove.wire.filters import matches

from ..authorization import Decision, HiddenField
from ..errors import FieldError
from .plan import HAS_MANY, ITEMS, OBJECT, RELATED, Entry, Plan, field_arguments, list_fields
from .render import DENIED, HIDDEN, Context


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


def _keys(rows: list[Record], fields: Sequence[str]) -> list[tuple[Any, ...]]:
    """The distinct key tuples of ``rows``, in their order."""
    if len(rows) == 1:
        return [tuple([rows[0].get(f) for f in fields])]
    return list(dict.fromkeys([tuple([r.get(f) for f in fields]) for r in rows]))


def _refusal(ctx: Context, e: Entry, plan: Plan, related: Model, operation: str) -> Decision | None:
    """The caller's decision on reading ``e``, or None with the refusal left for rendering."""
    authorizer = ctx.rules.authorizer
    if authorizer.operation_denied(plan.type_name, e.name, ctx.identity):
        ctx.loaded[id(e)] = HIDDEN
        return None
    decision = authorizer.check_operation(related, operation, ctx.identity)
    if not decision.allowed:
        ctx.loaded[id(e)] = DENIED
        return None
    return decision


async def _load_one(ctx: Context, store: RecordStore, e: Entry, plan: Plan, rows: list[Record]) -> list[Record]:
    """A belongsTo or hasOne entry's records for every row; returns them."""
    assert e.model_field is not None and e.model_field.relation is not None and plan.model is not None
    rel = e.model_field.relation
    related = ctx.rules.schema.models[rel.related_model]
    decision = _refusal(ctx, e, plan, related, "get" if rel.parent_holds_key else "list")
    if decision is None:
        return []
    if rel.parent_holds_key:
        identifier = related.identifier
        keys = [k for k in _keys(rows, rel.key_fields) if None not in k]
        if len(keys) == 1:   # one parent (a get, a mutation's result, an event): no keys to match up
            one = await store.get(related, dict(zip(identifier, keys[0], strict=True)))
            found = [one] if one is not None else []
        else:
            found = await store.get_many(related, [dict(zip(identifier, k, strict=True)) for k in keys])
        row_filter = decision.row_filter
        if row_filter is not None:   # a parent the caller may not read is not shown
            array_fields = list_fields(related)
            found = [r for r in found if matches(row_filter, r, array_fields)]
        if len(keys) == 1:
            ctx.loaded[id(e)] = {keys[0]: found[0]} if found else {}
        else:
            ctx.loaded[id(e)] = {tuple([r.get(f) for f in identifier]): r for r in found}
        return found
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
    decision = _refusal(ctx, e, plan, related, "list")
    if decision is None:
        return []
    limits = rules.limits
    try:
        args = field_arguments(e, ctx.variables)
        limit = args.get("limit") or limits.default_list_limit
        if not 1 <= limit <= limits.max_list_limit:
            raise FieldError(f"limit must be between 1 and {limits.max_list_limit}", "InvalidArgumentsError")
        user_filter = rules.authorizer.blind_filter(related, args.get("filter"), ctx.identity)
    except (FieldError, HiddenField) as exc:
        ctx.loaded[id(e)] = exc   # rendering raises or reports it, for each parent as before
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
