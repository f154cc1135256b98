"""What Cove serves beyond AppSync's generated fields: ``count<Models>``, ``aggregate<Models>``,
``search<Models>``, the list's ``sortBy`` and the ``transactWrite`` mutation, each with every authorization rule applied as
the standard fields apply them (row rules pushed into SQL, field rules refusing what the caller may
not read, every transaction item checked before anything is written)."""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from cove.schema.model import Model, Schema
from cove.schema.naming import mutation_field
from cove.store.base import (
    AggregateRequest,
    Page,
    RecordStore,
    SearchRequest,
    SortKey,
    StoreError,
    TransactionCanceled,
    TransactItem,
)

from ..authorization import Authorizer, HiddenField
from ..errors import FieldError
from ..events import MutationEvent
from ..identity import Identity
from .payload import selection_mask
from .plan import RootField
from .prefetch import prefetch
from .render import Context
from .writes import Writes

MAX_SORT_FIELDS = 8
MAX_TRANSACTION_ITEMS = 100   # DynamoDB's TransactWriteItems limit
# DynamoDB's message for each cancellation reason (none for an item that would have succeeded).
REASON_MESSAGES = {"ConditionalCheckFailed": "The conditional request failed",
                   "TransactionConflict": "Transaction is ongoing for the item"}
DEFAULT_MAX_GROUPS = 100


class Parts(Protocol):
    """What these fields need of the engine (an Engine, without importing it)."""

    schema: Schema
    authorizer: Authorizer
    writes: Writes

    def _publish_event(self, event: MutationEvent) -> None: ...


def sort_keys(args: dict[str, Any]) -> tuple[SortKey, ...]:
    """The list's ``sortBy`` as store sort keys (FieldError for a bad one)."""
    given = args.get("sortBy")
    if not given:
        return ()
    if args.get("sortDirection") is not None:
        raise FieldError("sortDirection does not apply with sortBy: give each sortBy field its direction",
                         "InvalidArgumentsError")
    if len(given) > MAX_SORT_FIELDS:
        raise FieldError(f"sortBy takes at most {MAX_SORT_FIELDS} fields, got {len(given)}", "InvalidArgumentsError")
    names = [item["field"] for item in given]
    if len(set(names)) != len(names):
        raise FieldError("sortBy names a field twice", "InvalidArgumentsError")
    return tuple(SortKey(item["field"], item.get("direction") == "DESC") for item in given)


def readable(authorizer: Authorizer, model: Model, names: list[str], identity: Identity,
             flt: dict[str, Any] | None) -> dict[str, Any] | None:
    """``flt`` restricted to the records on which the caller may read every field in ``names`` (sorted,
    grouped or aggregated by, so they would leak as a filter would); HiddenField for one they may
    never read."""
    for name in names:
        decision = authorizer.field_read(model, name, identity)
        if not decision.allowed:
            raise HiddenField(model.name, name)
        if decision.row_filter is not None:
            flt = {"and": [flt, decision.row_filter]} if flt else decision.row_filter
    return flt


async def count_or_aggregate(engine: Parts, rf: RootField, kind: str, model: Model, args: dict[str, Any],
                             row_filter: dict[str, Any] | None, ctx: Context, reads: RecordStore) -> Any:
    authorizer = engine.authorizer
    flt = authorizer.blind_filter(model, args.get("filter"), ctx.identity)
    function, field, group_by, max_groups = "count", None, None, 1
    if kind == "aggregate":
        function, field, group_by = args["function"], args.get("field"), args.get("groupBy")
        given = args.get("maxGroups")
        max_groups = DEFAULT_MAX_GROUPS if given is None else given
    flt = readable(authorizer, model, [n for n in (field, group_by) if n is not None], ctx.identity, flt)
    if row_filter is not None:
        flt = {"and": [flt, row_filter]} if flt else row_filter
    groups = await reads.aggregate(AggregateRequest(model, function, field, flt, group_by, max_groups))
    if kind == "count":
        return groups[0].value
    assert rf.plan is not None
    return [ctx.record(rf.plan, {"key": _json(g.key), "value": _json(g.value)}) for g in groups]


async def search(engine: Parts, model: Model, args: dict[str, Any], limit: int, row_filter: dict[str, Any] | None,
                 ctx: Context, reads: RecordStore) -> Page:
    """``search<Models>``: the caller's filter made blind, restricted to the records whose searchable
    fields they may read (the words found would reveal them) and to the rows they may read."""
    authorizer = engine.authorizer
    flt = authorizer.blind_filter(model, args.get("filter"), ctx.identity)
    flt = readable(authorizer, model, list(model.searchable), ctx.identity, flt)
    if row_filter is not None:
        flt = {"and": [flt, row_filter]} if flt else row_filter
    return await reads.search(SearchRequest(model, args["query"], flt, limit, args.get("nextToken")))


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


async def transact(engine: Parts, rf: RootField, args: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """All the items or none. Each item is checked first (operation and field rules, the caller's
    owner and group rules as a condition); a denial aborts the transaction before anything runs. The
    subscription events go out after the commit, one per item, as its own mutation's would."""
    items = args["items"]
    if not 1 <= len(items) <= MAX_TRANSACTION_ITEMS:
        raise FieldError(f"A transaction takes 1 to {MAX_TRANSACTION_ITEMS} items, got {len(items)}",
                         "ValidationException")
    targets = _targets(engine.schema)
    prepared: list[TransactItem] = []
    names: list[str] = []
    seen: set[tuple[str, tuple[Any, ...]]] = set()
    writes, authorizer = engine.writes, engine.authorizer
    for i, item in enumerate(items):
        given = [(name, body) for name, body in item.items() if body is not None]
        if len(given) != 1:
            raise FieldError(f"items[{i}] must set exactly one operation (e.g. createTodo), it sets {len(given)}",
                             "ValidationException")
        name, body = given[0]
        op, model = targets[name]
        auth = authorizer.check_operation(model, op, ctx.identity)
        denied = f"Not Authorized to access {name} on type Mutation (transaction item {i})"
        if not auth.allowed or authorizer.operation_denied("Mutation", name, ctx.identity):
            raise FieldError(denied, "Unauthorized")
        try:
            if op == "create":
                prepared_item = await writes.prepare_create(model, body, auth, ctx.identity, denied)
            elif op == "update":
                prepared_item = await writes.prepare_update(model, body, auth, ctx.identity, denied, missing_fails=True)
            else:
                prepared_item = await writes.prepare_delete(model, body, auth, ctx.identity, denied, missing_fails=True)
        except HiddenField as exc:
            raise FieldError(f"{exc} (transaction item {i})", "Unauthorized") from None
        key_source = prepared_item.values if op == "create" else prepared_item.key
        key = (model.name, tuple(key_source.get(k) for k in model.identifier))
        if key in seen:
            raise FieldError("Transaction request cannot include multiple operations on one item "
                             f"(items[{i}]: {model.name} {dict(zip(model.identifier, key[1]))})", "ValidationException")
        seen.add(key)
        prepared.append(prepared_item)
        names.append(name)
    try:
        records: list[dict[str, Any]] = await writes.store.transact(prepared)
    except TransactionCanceled as exc:
        reasons = [{"type": r, "message": REASON_MESSAGES.get(r)} for r in exc.reasons]
        raise FieldError(str(exc), exc.error_type, error_info={"cancellationReasons": reasons}) from None
    except StoreError as exc:
        raise FieldError(str(exc), exc.error_type) from None
    for i, (name, item, record) in enumerate(zip(names, prepared, records)):
        entry = next((e for e in rf.plan.entries if e.name == name), None) if rf.plan is not None else None
        mask = selection_mask(entry.sub) if entry is not None else None
        engine._publish_event(MutationEvent(name, item.model.name, record, mask))   # after the commit
    return await _results(rf, names, records, ctx, writes.store)


async def _results(rf: RootField, names: list[str], records: list[dict[str, Any]], ctx: Context,
                   reads: RecordStore) -> list[dict[str, Any]]:
    plan = rf.plan
    assert plan is not None
    for e in plan.entries:
        if e.sub is not None and e.sub.loads:
            await prefetch(ctx, reads, e.sub, [r for n, r in zip(names, records) if n == e.name])
    out = []
    for i, (name, record) in enumerate(zip(names, records)):
        row: dict[str, Any] = {}
        for e in plan.entries:
            if e.sub is None:     # __typename
                row[e.key] = plan.type_name
            elif e.name == name:
                ctx.path = [rf.key, i, e.key]
                row[e.key] = ctx.record(e.sub, record)
            else:
                row[e.key] = None
        out.append(row)
    return out


def _targets(schema: Schema) -> dict[str, tuple[str, Model]]:
    return {mutation_field(op, model): (op, model) for model in schema.models.values()
            for op in ("create", "update", "delete")}
