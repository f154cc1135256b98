"""The engine: a GraphQL request planned (once per document), its root fields resolved against the
record store, their relations prefetched in batches, then rendered without I/O.

graphql-core is used for parsing, validation, variable coercion and introspection only; no
general-purpose executor walks fields one by one. Handler calls and heavy reads (a request whose
cost passes ``Limits.inline_cost``) leave the event loop: handlers on the Workers' threads, a heavy
read's statements on the store's reader (``RecordStore.for_heavy_reads``) and its rendering on the
Workers' reader thread. A light request reads on the loop through ``RecordStore.bounded_reads``: a
read that turns out long (an unindexed filter or sort over many rows) is stopped within a couple of
milliseconds and read again on the reader.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from graphql import DocumentNode, ExecutionResult, OperationDefinitionNode, OperationType, execute
from graphql.execution.values import VariableValues, get_variable_values

from cove.schema.model import Model, Schema, SecondaryIndex
from cove.schema.naming import sort_key_argument
from cove.store.base import KeyCondition, ListRequest, ReadOverBudget, RecordStore, StoreError
from cove.wire.filters import matches

from ..authorization import Authorizer, HiddenField
from ..errors import FieldError, field_error, from_graphql_error, location
from ..events import MutationEvent, Publisher
from ..identity import Identity
from ..limits import Limits, cost_message
from ..workers import HandlerCall, Workers, call_inline
from .coercion import compile_variables
from . import extensions
from .documents import Documents, PreparedDocument
from .graphql_schema import build_graphql_schema
from .payload import selection_mask
from .plan import (
    NonNullViolation,
    OperationPlan,
    Plan,
    PlanError,
    Planner,
    RootField,
    RootSpec,
    field_arguments,
    list_fields,
)
from .prefetch import prefetch, prefetch_connection
from .render import Context, dumps_piecewise
from .writes import Writes


# How long a root field whose read ran past the bounded view's budget reads on the reader first.
READS_LONG_SECONDS = 60.0
# The operation whose rules a root field's kind is checked against (other kinds are their own).
_RULE_OPERATION = {"index": "list", "search": "list", "count": "list", "aggregate": "list"}


@dataclass
class PlannedRequest:
    prepared: PreparedDocument
    operation: OperationDefinitionNode
    variables: Any                      # coerced (graphql-core's VariableValues)
    plan: OperationPlan
    cost: int                           # the cost budget's estimate (see limits.py)


class Engine:
    """Executes GraphQL requests against one schema and one record store. ``publisher`` hears of
    every successful mutation (the real-time hub's ``publish``)."""

    def __init__(self, schema: Schema, records: RecordStore, *, limits: Limits | None = None,
                 workers: Workers | None = None, publisher: Publisher | None = None) -> None:
        self.schema = schema
        self.records = records
        self.limits = limits or Limits()
        self.workers = workers or Workers(self.limits.handler_threads)
        # A heavy request's statements run on the thread that renders it (one busy thread, not two).
        self.heavy_records = records.for_heavy_reads(self.workers.reader())
        # Light requests read on the loop through this view: a read that turns out long (an unindexed
        # filter, sort or relation over many rows) is stopped early and read again on the reader.
        self.bounded_records = records.bounded_reads(self.limits.loop_read_seconds)
        self.publisher = publisher
        self.graphql_schema, self.sdl = build_graphql_schema(schema)
        self.authorizer = Authorizer(schema)
        # Models whose records need a per-caller pass before rendering (field-level rules).
        self.guarded_models = frozenset(m.name for m in schema.models.values() if self.authorizer.has_field_rules(m))
        self.documents = Documents(self.graphql_schema, self.limits, self.workers)
        self.planner = Planner(schema, self.graphql_schema)
        self.writes = Writes(self.authorizer, records)

    # ------------------------------------------------------------------ documents and plans

    def prepare(self, query: str) -> PreparedDocument:
        return self.documents.prepare(query)

    async def prepare_async(self, query: str) -> PreparedDocument:
        """:meth:`prepare`, with a new document parsed and validated off the event loop."""
        return await self.documents.prepare_async(query)

    def plan_request(self, query: str, variables: Any, operation_name: str | None,
                     prepared: PreparedDocument | None = None) -> PlannedRequest:
        """Parse (cached, unless ``prepared`` is given), choose the operation, coerce the variables,
        check the cost budget and plan it (cached); raise PlanError with AppSync-shaped errors when
        any step fails."""
        if prepared is None:
            prepared = self.documents.prepare(query)
        if prepared.errors is not None:
            raise PlanError(prepared.errors)
        op = prepared.operations.get(operation_name)
        if op is None and operation_name is None and len(prepared.operations) == 1:
            op = next(iter(prepared.operations.values()))
        if op is None:
            if operation_name is None and len(prepared.operations) > 1:
                msg = "Must provide operation name if query contains multiple operations."
            elif operation_name is None:
                msg = "The document contains no operation."
            else:
                msg = f"Unknown operation named '{operation_name}'."
            raise PlanError([{"path": None, "locations": None, "message": msg, "errorType": "BadRequestException"}])
        if variables is not None and not isinstance(variables, dict):
            raise PlanError([{"path": None, "locations": None, "message": "'variables' must be a JSON object"}])
        coerce = prepared.coercers.get(operation_name)
        if coerce is None:
            coerce = prepared.coercers[operation_name] = compile_variables(self.graphql_schema,
                                                                           op.variable_definitions or ())
        fast = coerce(variables or {})
        if fast is not None:
            coerced: Any = VariableValues({}, fast)
        else:
            coerced = get_variable_values(self.graphql_schema, op.variable_definitions or (), variables or {},
                                          max_errors=20)
            if isinstance(coerced, list):
                raise PlanError([from_graphql_error(e, "Validation error: ") for e in coerced])
        cost = self.documents.cost(prepared, op, coerced)
        if cost > self.limits.max_cost:
            raise PlanError([{"path": None, "data": None, "errorType": "QueryCostLimitExceeded", "errorInfo": None,
                              "locations": location(op), "message": cost_message(cost, self.limits)}])
        plan: OperationPlan | None = None
        if not prepared.variable_directives:
            plan = prepared.plans.get(operation_name)
        if plan is None:
            plan = self.planner.operation(prepared.fragments, op, coerced)
            if plan.kind == OperationType.MUTATION:
                for root in plan.root_fields:
                    root.selection = selection_mask(root.plan)
            if not prepared.variable_directives:
                prepared.plans[operation_name] = plan
        return PlannedRequest(prepared, op, coerced, plan, cost)


    def arguments(self, rf: RootField, variables: Any, identity: Identity) -> dict[str, Any]:
        """A planned root field's argument values (raises FieldError when they cannot be read)."""
        return field_arguments(rf, variables)

    async def render_event(self, plan: Plan | None, key: str, record: Any, variables: Any,
                           identity: Identity) -> dict[str, Any]:
        """A subscription event's response body for one subscriber: the stored `record` rendered with
        the subscriber's own selection, variables and rights at every depth, as its own query would be."""
        if plan is None or record is None:
            return {"data": {key: record}}
        ctx = Context(self, identity, variables)
        ctx.path = [key]
        node = plan.entries[0].nodes[0] if plan.entries and plan.entries[0].nodes else None
        await self._prefetch(ctx, plan, record if isinstance(record, list) else [record], False, False)
        try:
            if isinstance(record, list):
                value: Any = [ctx.record(plan, r) if r is not None else None for r in record]
            else:
                value = ctx.record(plan, record)
        except NonNullViolation as exc:
            ctx.errors.append(field_error(exc.message, None, [key, *exc.path], node))
            value = None
        except FieldError as exc:
            ctx.errors.append(field_error(exc.message, exc.error_type, [key], node, exc.error_info))
            value = None
        body: dict[str, Any] = {"data": {key: value}}
        if ctx.errors:
            body["errors"] = ctx.errors
        return body

    # ------------------------------------------------------------------ execution

    def execute(self, query: str, variables: Any, operation_name: str | None,
                identity: Identity) -> dict[str, Any]:
        """Run a request entirely on the calling thread (custom handlers too): for tests and embedding.
        The server uses :meth:`execute_async`, which keeps handlers and heavy reads off its loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass   # no loop on this thread: run inline
        else:
            raise RuntimeError("Engine.execute would block the running event loop; await Engine.execute_async")
        return _run_to_completion(self._request(query, variables, operation_name, identity, inline=True))

    def execute_async(self, query: str, variables: Any, operation_name: str | None,
                      identity: Identity) -> Coroutine[Any, Any, dict[str, Any]]:
        """The request, to be awaited on the server's loop (a plain def: one coroutine frame less)."""
        return self._request(query, variables, operation_name, identity, inline=False)

    async def _request(self, query: str, variables: Any, operation_name: str | None, identity: Identity,
                       inline: bool) -> dict[str, Any]:
        """The request; ``inline`` runs handlers, heavy reads and new documents on this thread."""
        documents = self.documents
        prepared = documents.cached(query)
        if prepared is None:
            parsed = documents.parse(query) if inline else await self.workers.prepare(partial(documents.parse, query))
            prepared = documents.remember(query, parsed)
        try:
            planned = self.plan_request(query, variables, operation_name, prepared)
        except PlanError as exc:
            return {"data": None, "errors": exc.errors}
        if planned.plan.kind == OperationType.SUBSCRIPTION:
            return {"data": None, "errors": [{
                "path": None, "locations": location(planned.operation), "errorType": "UnsupportedOperation",
                "message": "Subscriptions are served over the real-time WebSocket endpoint "
                           "(<graphql url>/realtime), not over HTTP POST"}]}
        heavy = planned.cost > self.limits.inline_cost and not inline
        return await self._run(planned.plan, prepared, planned.variables, variables or {}, identity, heavy, inline)

    async def _run(self, plan: OperationPlan, prepared: PreparedDocument, variables: Any,
                   raw_variables: dict[str, Any], identity: Identity, heavy: bool, inline: bool) -> dict[str, Any]:
        ctx = Context(self, identity, variables)
        data: dict[str, Any] | None = {}
        intro_data: dict[str, Any] = {}
        if plan.introspection is not None:
            doc = DocumentNode(definitions=(plan.introspection, *prepared.fragments.values()))
            result = execute(self.graphql_schema, doc, variable_values=raw_variables)
            assert isinstance(result, ExecutionResult)  # introspection resolves synchronously
            intro_data = result.data or {}
            for e in result.errors or ():
                ctx.errors.append(from_graphql_error(e))
        for rf in plan.root_fields:
            if data is None:
                break
            try:
                spec = rf.spec
                ctx.path = [rf.key]
                if spec is None and rf.name == "__typename":
                    value: Any = "Query" if plan.kind == OperationType.QUERY else "Mutation"
                elif spec is not None and spec.kind == "custom":
                    value = await self._run_custom(rf, spec, field_arguments(rf, variables), ctx, inline)
                elif spec is not None and spec.kind == "transact":
                    value = await self._run_transact(rf, ctx)
                else:
                    value = await self._run_root(rf, ctx, heavy, inline)
            except FieldError as exc:
                ctx.errors.append(field_error(exc.message, exc.error_type, [rf.key], rf.nodes[0], exc.error_info))
                value = None
            except NonNullViolation as exc:
                ctx.errors.append(field_error(exc.message, None, [rf.key, *exc.path], rf.nodes[0]))
                value = None
            if value is None and rf.nonnull:
                data = None
                break
            data[rf.key] = value
        if data is not None and intro_data:
            data.update(intro_data)
        body: dict[str, Any] = {"data": data}
        if ctx.errors:
            body["errors"] = ctx.errors
        return body

    async def _run_transact(self, rf: RootField, ctx: Context) -> Any:
        try:
            return await extensions.transact(self, rf, field_arguments(rf, ctx.variables), ctx)
        except StoreError as exc:
            raise FieldError(str(exc), exc.error_type) from None
        except HiddenField as exc:
            raise FieldError(str(exc), "Unauthorized") from None

    async def _run_root(self, rf: RootField, ctx: Context, heavy: bool, inline: bool = True) -> Any:
        """The value of a model root field; a heavy one reads on the store's reader and renders off the loop."""
        spec = rf.spec
        if spec is None:
            raise FieldError(f"No resolver for {rf.name}", "MappingTemplate")
        args = field_arguments(rf, ctx.variables)
        model = spec.model
        plan = rf.plan
        assert model is not None
        op = _RULE_OPERATION.get(spec.kind, spec.kind)
        parent = "Query" if op in ("get", "list") else "Mutation"
        auth = self.authorizer.check_operation(model, op, ctx.identity)
        denied = f"Not Authorized to access {rf.name} on type {parent}"
        if not auth.allowed or self.authorizer.operation_denied(parent, rf.name, ctx.identity):
            raise FieldError(denied, "Unauthorized")
        row_filter = auth.row_filter
        try:
            if spec.kind in ("count", "aggregate"):
                # A count or aggregate may read many rows: off the loop unless the request runs inline.
                return await extensions.count_or_aggregate(self, rf, spec.kind, model, args, row_filter, ctx,
                                                           self.records if inline else self.heavy_records)
            assert plan is not None
            if spec.kind in ("get", "list", "index", "search"):
                if inline or heavy:
                    return await self._read_root(rf, ctx, args, row_filter, denied,
                                                 self.records if inline else self.heavy_records, heavy)
                if rf.reads_long_until < time.monotonic():
                    try:
                        return await self._read_root(rf, ctx, args, row_filter, denied, self.bounded_records, False)
                    except ReadOverBudget:
                        # Its next requests read on the reader from the start, for a while (not for good:
                        # a stall of the database may have caused it, and another variable may be cheap).
                        rf.reads_long_until = time.monotonic() + READS_LONG_SECONDS
                return await self._read_root(rf, ctx, args, row_filter, denied, self.heavy_records, False)
            # The write stays on the loop (one short statement); a heavy result renders off it.
            writes = self.writes
            if spec.kind == "create":
                record = await writes.create(model, args, auth, ctx.identity, denied)
            elif spec.kind == "update":
                record = await writes.update(model, args, auth, ctx.identity, denied)
            else:
                record = await writes.delete(model, args, auth, ctx.identity, denied)
        except StoreError as exc:
            raise FieldError(str(exc), exc.error_type) from None
        except HiddenField as exc:  # a filter, condition or key would test what the caller may not read
            raise FieldError(str(exc), "Unauthorized") from None
        if plan.loads:
            await self._prefetch(ctx, plan, [record], heavy, inline)
        value: Any
        if heavy:
            value = await self._render_off_loop(partial(ctx.record, plan, record))
        else:
            value = ctx.record(plan, record)
        self._publish(rf, model.name, record)
        return value

    async def _read_root(self, rf: RootField, ctx: Context, args: dict[str, Any], row_filter: dict[str, Any] | None,
                         denied: str, reads: RecordStore, heavy: bool) -> Any:
        """A get, list, index query or search read through ``reads``; ``heavy`` renders off the loop."""
        spec, plan = rf.spec, rf.plan
        assert spec is not None and spec.model is not None and plan is not None
        model = spec.model
        if spec.kind == "get":
            record = await reads.get(model, {k: args[k] for k in model.identifier})
            if record is None:
                return None
            if row_filter is not None and not matches(row_filter, record, list_fields(model)):
                raise FieldError(denied, "Unauthorized")
            if plan.loads:
                await prefetch(ctx, reads, plan, [record])
            if not heavy:
                return ctx.record(plan, record)
            return await self._render_off_loop(partial(ctx.record, plan, record))
        if spec.kind == "search":
            # Ranking reads every match (inside FTS, which no step budget sees): on the reader.
            page = await extensions.search(self, model, args, self._limit(args), row_filter, ctx,
                                           self.records if reads is self.records else self.heavy_records)
        else:
            request = self._list_request(model, spec.index, args, rf.name)
            request.filter = self._readable_keys(model, request, ctx.identity)
            if row_filter is not None:
                # Pushed into SQL: rows the caller may not read never leave the database.
                request.filter = {"and": [request.filter, row_filter]} if request.filter else row_filter
            page = await reads.list(request)
        if plan.loads:
            await prefetch_connection(ctx, reads, plan, page.items)
        if not heavy:
            return ctx.connection(plan, page.items, page.next_token)
        return await self._render_off_loop(partial(ctx.connection, plan, page.items, page.next_token))

    async def _prefetch(self, ctx: Context, plan: Plan, records: list[Any], heavy: bool, inline: bool) -> None:
        """``plan``'s relations of ``records`` (a write's or a handler's result, an event): read on the
        loop while that stays quick, else on the reader."""
        if inline:
            await prefetch(ctx, self.records, plan, records)
            return
        if not heavy:
            try:
                await prefetch(ctx, self.bounded_records, plan, records)
                return
            except ReadOverBudget:
                pass
        await prefetch(ctx, self.heavy_records, plan, records)

    async def _render_off_loop(self, render: Callable[[], Any]) -> orjson.Fragment:
        """A heavy root field's value, rendered AND serialized on the reader thread: the loop gets the
        JSON bytes (spliced into the response by orjson), so neither walking nor freeing the big tree
        of dicts holds it; serialized and freed piecewise, so no single step holds the GIL for long."""
        fragment: orjson.Fragment = await self.workers.render(lambda: orjson.Fragment(dumps_piecewise(render())))
        return fragment

    def _publish(self, rf: RootField, model: str | None, record: Any) -> None:
        if self.publisher is not None:
            self.publisher(MutationEvent(rf.name, model, record, rf.selection))

    def _publish_event(self, event: MutationEvent) -> None:
        if self.publisher is not None:
            self.publisher(event)

    def _limit(self, args: dict[str, Any]) -> int:
        limit = args.get("limit")
        if limit is None:
            return self.limits.default_list_limit
        if not 1 <= limit <= self.limits.max_list_limit:
            raise FieldError(f"limit must be between 1 and {self.limits.max_list_limit}, got {limit}",
                             "InvalidArgumentsError")
        return int(limit)

    def _list_request(self, model: Model, index: SecondaryIndex | None, args: dict[str, Any],
                      field_name: str) -> ListRequest:
        limit = self._limit(args)
        direction = args.get("sortDirection")
        request = ListRequest(model, filter=args.get("filter"), limit=limit, next_token=args.get("nextToken"),
                              descending=direction == "DESC", index=index, sort=extensions.sort_keys(args))
        if index is not None:
            sks = index.sort_keys
            sk_arg = sort_key_argument(model, sks, index)[0] if sks else None
            request.key_condition = KeyCondition(index.partition_key, args[index.partition_key], sks,
                                                 args.get(sk_arg) if sk_arg else None)
        else:
            if direction is not None and not model.sort_keys and not request.sort:
                raise FieldError("sortDirection is not supported for List operations without a Sort key defined.",
                                 "InvalidArgumentsError")
            if model.sort_keys:
                sk_arg = sort_key_argument(model, model.sort_keys, None)[0]
                pk_value = args.get(model.primary_key)
                sk_cond = args.get(sk_arg)
                if pk_value is not None:
                    request.key_condition = KeyCondition(model.primary_key, pk_value, model.sort_keys, sk_cond)
                elif sk_cond is not None:
                    raise FieldError(f"{field_name}: the sort key condition '{sk_arg}' needs the partition key "
                                     f"'{model.primary_key}'", "InvalidArgumentsError")
        return request


    def _readable_keys(self, model: Model, request: ListRequest, identity: Identity) -> dict[str, Any] | None:
        """The request's filter made blind (see Authorizer.blind_filter), and its key condition checked
        the same way: a key field the caller may never read is refused; one they may read on some
        records only restricts the query to those records. So are the fields a list is sorted by: their
        order would reveal their values."""
        flt = self.authorizer.blind_filter(model, request.filter, identity)
        tested = [k.field for k in request.sort]
        key = request.key_condition
        if key is not None:
            tested += [key.partition_key, *(key.sort_keys if key.sort_condition is not None else ())]
        return extensions.readable(self.authorizer, model, tested, identity, flt) if tested else flt

    async def _run_custom(self, rf: RootField, spec: RootSpec, args: dict[str, Any], ctx: Context,
                          inline: bool) -> Any:
        op = spec.operation
        parent = "Query" if op.kind == "query" else "Mutation"
        handler = op.handler
        if not callable(handler):
            # Said before any authorization check: "Not Authorized" would hide the cause.
            how = ("serve it with --handlers MODULE (a function named after the operation)"
                   if self.schema.source_mis is not None else "give it one with .handler(function)")
            raise FieldError(f"{rf.name} has no handler in this Cove server; {how}", "MappingTemplate")
        allowed = self.authorizer.check_rules(op.rules, "read", ctx.identity)
        if not allowed or self.authorizer.operation_denied(parent, rf.name, ctx.identity):
            raise FieldError(f"Not Authorized to access {rf.name} on type {parent}", "Unauthorized")
        event: dict[str, Any] = {"typeName": parent, "fieldName": rf.name, "arguments": args,
                 "identity": ctx.identity_event(), "source": None, "request": {"headers": {}}}
        call = HandlerCall(rf.name, handler, event, self)
        result = call_inline(call) if inline else await self.workers.run(call, self.limits.handler_timeout)
        value = result
        returns = op.returns
        json_result = returns is not None and returns.type.kind == "scalar" and returns.type.name == "AWSJSON"
        if json_result and result is not None:
            # AppSync returns AWSJSON as a JSON string, whatever the handler built.
            many = returns.is_array and isinstance(result, list)
            value = [_json_string(v) for v in result] if many else _json_string(result)
        if rf.plan is not None and result is not None:
            await self._prefetch(ctx, rf.plan, result if isinstance(result, list) else [result], False, inline)
            if isinstance(result, list):
                value = [ctx.record(rf.plan, r) if r is not None else None for r in result]
            else:
                value = ctx.record(rf.plan, result)
        if op.kind == "mutation":
            # A result with a selection is rendered per subscriber; a scalar goes as the caller got it.
            self._publish(rf, None, result if rf.plan is not None else value)
        return value


def _json_string(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _run_to_completion(request: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Drive a request coroutine on this thread, without an event loop: inline, nothing it awaits
    suspends (a SQLite store answers at once), so no loop is needed, and a handler may itself call
    :meth:`Engine.execute`."""
    try:
        while True:
            if request.send(None) is not None:
                raise RuntimeError("Engine.execute ran into a store that waits for I/O; "
                                   "await Engine.execute_async on an event loop instead")
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        request.close()
