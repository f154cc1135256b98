"""The compiled hot path: each distinct document is parsed, validated and planned once.

A plan maps every root field to one store call (one SQL statement, filters pushed down) and every
selection to a precomputed list of entries, so a request is: look up the plan, coerce variables,
run the statement, build the response dict. graphql-core is used for parsing, validation, variable
coercion and introspection only; no general-purpose executor walks fields one by one.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    parse,
    validate,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import BooleanValueNode, VariableNode

from cove.wire.filters import FilterTooLarge, check_filter_size, matches
from cove.schema.model import Field, Model, Schema, SecondaryIndex
from cove.schema.naming import get_field, list_field, mutation_field, sort_key_argument
from cove.store.base import KeyCondition, ListRequest, Record, StoreError
from cove.wire.scalars import now_iso

from .authorization import Authorizer, Decision, HiddenField
from .coercion import compile_variables
from .errors import FieldError, field_error, from_graphql_error, location
from .graphql_schema import build_graphql_schema
from .identity import Identity
from .limits import DocumentMeter, Limits, cost_message, limit_errors, repeated_field_errors
from .workers import HandlerCall, HeavyRead, Workers, call_inline


class _NonNull(Exception):
    """A null reached a non-null position; carries the path back up to the nearest nullable parent."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path: list[Any] = []


# --------------------------------------------------------------------------------------------
# Selection plans


# ABSENT: selected by a subscriber but not by the mutation whose event it receives (rendered as null).
SCALAR, TYPENAME, OBJECT, RELATED, HAS_MANY, ITEMS, NEXT_TOKEN, ABSENT = range(8)


@dataclass
class Entry:
    key: str
    kind: int
    name: str
    nonnull: bool = False
    type_label: str = ""
    sub: Plan | None = None
    is_list: bool = False
    nodes: list[FieldNode] = field(default_factory=list)
    field_def: GraphQLField | None = None
    model_field: Field | None = None
    arg_vars: dict[str, str] | None = None


@dataclass
class Plan:
    """How to turn one object (a record, a custom-type value, a connection) into response JSON."""

    type_name: str
    entries: list[Entry]
    model: Model | None = None
    render: Callable[[Context, dict[str, Any]], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self.render = _compile_renderer(self)


def _compile_renderer(plan: Plan) -> Callable[[Context, dict[str, Any]], dict[str, Any]]:
    """Generate straight-line Python for one selection: a dict literal in response order, with the
    non-null checks first. This is the per-record inner loop, so it avoids all per-entry dispatch."""
    checks: list[str] = []
    parts: list[str] = []
    for i, e in enumerate(plan.entries):
        key = repr(e.key)
        if e.kind == SCALAR:
            if e.nonnull:
                checks.append(f"    v{i} = r.get({e.name!r})\n    if v{i} is None: raise _null(E[{i}], P)")
                parts.append(f"{key}: v{i}")
            else:
                parts.append(f"{key}: r.get({e.name!r})")
        elif e.kind == TYPENAME:
            parts.append(f"{key}: {plan.type_name!r}")
        elif e.kind == OBJECT:
            parts.append(f"{key}: ctx._object(E[{i}], r.get({e.name!r}), P)")
        elif e.kind == RELATED:
            parts.append(f"{key}: ctx._related(E[{i}], P, r)")
        elif e.kind == HAS_MANY:
            parts.append(f"{key}: ctx._has_many(E[{i}], P, r)")
        elif e.kind == ABSENT:
            if e.nonnull:
                checks.append(f"    raise _null(E[{i}], P)")
            parts.append(f"{key}: None")
    source = "def render(ctx, r):\n" + "".join(c + "\n" for c in checks) + \
        "    return {" + ", ".join(parts) + "}\n"
    namespace: dict[str, Any] = {"E": plan.entries, "P": plan, "_null": _null}
    exec(compile(source, f"<cove plan {plan.type_name}>", "exec"), namespace)  # noqa: S102 - our own code
    return namespace["render"]  # type: ignore[no-any-return]


def _unwrap(t: Any) -> tuple[Any, bool, bool]:
    """(named type, outer non-null, is list)."""
    nonnull = isinstance(t, GraphQLNonNull)
    if nonnull:
        t = t.of_type
    is_list = isinstance(t, GraphQLList)
    if is_list:
        t = t.of_type
        if isinstance(t, GraphQLNonNull):
            t = t.of_type
    return t, nonnull, is_list


def _included(node: Any, variables: Any) -> bool:
    for d in node.directives or ():
        name = d.name.value
        if name not in ("skip", "include"):
            continue
        arg = next((a for a in d.arguments if a.name.value == "if"), None)
        if arg is None:
            continue
        value = arg.value
        cond = value.value if isinstance(value, BooleanValueNode) else (
            bool(variables.coerced.get(value.name.value)) if isinstance(value, VariableNode) else False)
        if (name == "skip" and cond) or (name == "include" and not cond):
            return False
    return True


def collect_fields(selection_set: SelectionSetNode, type_name: str,
                   fragments: dict[str, FragmentDefinitionNode], variables: Any,
                   out: OrderedDict[str, list[FieldNode]] | None = None,
                   visited: set[str] | None = None) -> OrderedDict[str, list[FieldNode]]:
    out = OrderedDict() if out is None else out
    visited = set() if visited is None else visited
    for sel in selection_set.selections:
        if not _included(sel, variables):
            continue
        if isinstance(sel, FieldNode):
            key = sel.alias.value if sel.alias else sel.name.value
            out.setdefault(key, []).append(sel)
        elif isinstance(sel, InlineFragmentNode):
            if sel.type_condition is None or sel.type_condition.name.value == type_name:
                collect_fields(sel.selection_set, type_name, fragments, variables, out, visited)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is None or name in visited:
                continue
            visited.add(name)
            if frag.type_condition.name.value == type_name:
                collect_fields(frag.selection_set, type_name, fragments, variables, out, visited)
    return out


def _arg_vars(node: FieldNode) -> dict[str, str] | None:
    """{argument: variable} when every argument is a bare variable (the shape clients send), so
    arguments can be read straight from the coerced variables; None means "ask graphql-core"."""
    out = {}
    for arg in node.arguments or ():
        if not isinstance(arg.value, VariableNode):
            return None
        out[arg.name.value] = arg.value.name.value
    return out


def _merged_selection(nodes: list[FieldNode]) -> list[SelectionSetNode]:
    return [n.selection_set for n in nodes if n.selection_set is not None]


# --------------------------------------------------------------------------------------------
# Root fields


@dataclass
class RootSpec:
    kind: str                          # get list index create update delete custom
    model: Model | None = None
    index: SecondaryIndex | None = None
    operation: Any = None


@dataclass
class RootField:
    key: str
    name: str
    spec: RootSpec | None
    nodes: list[FieldNode]
    field_def: GraphQLField
    plan: Plan | None
    nonnull: bool
    is_list: bool
    arg_vars: dict[str, str] | None = None


@dataclass
class Written:
    """A model mutation's stored record, before its result is rendered."""

    model: Model
    record: Record


@dataclass
class OperationPlan:
    kind: OperationType
    root_fields: list[RootField]
    introspection: OperationDefinitionNode | None    # the part graphql-core answers


class PlanError(Exception):
    """A request that cannot be planned; `errors` are AppSync-shaped."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("message") if errors else "invalid request")
        self.errors = errors


@dataclass
class PreparedDocument:
    document: DocumentNode | None
    errors: list[dict[str, Any]] | None
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    operations: dict[str | None, OperationDefinitionNode] = field(default_factory=dict)
    variable_directives: bool = False
    plans: dict[str | None, OperationPlan] = field(default_factory=dict)
    coercers: dict[str | None, Callable[[dict[str, Any]], dict[str, Any] | None]] = field(default_factory=dict)
    # Per operation: the cost bound with every variable `limit` at its maximum, and whether a
    # variable `limit` took part (then the request's own values decide, when the bound is high).
    costs: dict[str | None, tuple[int, bool]] = field(default_factory=dict)


@dataclass
class PlannedRequest:
    prepared: PreparedDocument
    operation: OperationDefinitionNode
    variables: Any                      # coerced (graphql-core's VariableValues)
    plan: OperationPlan
    cost: int                           # the cost budget's estimate (see limits.py)


class Engine:
    """Executes GraphQL requests against one schema and one store."""

    def __init__(self, schema: Schema, store: Any, limits: Limits | None = None,
                 workers: Workers | None = None) -> None:
        self.schema = schema
        self.store = store
        self.limits = limits or Limits()
        self.workers = workers or Workers(self.limits.handler_threads)
        self.graphql_schema, self.sdl = build_graphql_schema(schema)
        self.authorizer = Authorizer(schema)
        # Models whose records need a per-caller pass before rendering (field-level rules).
        self.guarded_models = frozenset(m.name for m in schema.models.values() if self.authorizer.has_field_rules(m))
        # Called after each successful mutation as on_mutation(field, model, record, value, plan): the
        # mutation field, its model (None for custom mutations), the stored record (or the handler's
        # result), the rendered result and the plan it was rendered with. The real-time hub publishes
        # subscription events from it; it must not raise.
        self.on_mutation: Callable[[str, Model | None, Any, Any, Plan | None], None] | None = None
        self._cache: OrderedDict[str, PreparedDocument] = OrderedDict()
        self._roots: dict[str, RootSpec] = {}
        for model in schema.models.values():
            self._roots[get_field(model)] = RootSpec("get", model)
            self._roots[list_field(model)] = RootSpec("list", model)
            for ix in model.indexes:
                if ix.query_field:
                    self._roots[ix.query_field] = RootSpec("index", model, ix)
            for op in ("create", "update", "delete"):
                self._roots[mutation_field(op, model)] = RootSpec(op, model)
        for ops in (schema.queries, schema.mutations):
            for name, op in ops.items():
                self._roots[name] = RootSpec("custom", operation=op)

    # ------------------------------------------------------------------ documents

    def prepare(self, query: str) -> PreparedDocument:
        return self._cached(query) or self._remember(query, self._prepare(query))

    async def prepare_async(self, query: str) -> PreparedDocument:
        """:meth:`prepare`, with a new document parsed and validated off the event loop."""
        cached = self._cached(query)
        if cached is not None:
            return cached
        return self._remember(query, await self.workers.run(self._preparing(query), 0))

    def _preparing(self, query: str) -> HeavyRead:
        # Parsing and validating a new document is pure Python whose time grows with the document
        # (graphql-core's overlapping-fields rule is quadratic in repeated fields): a worker does it.
        return HeavyRead(lambda _: self._prepare(query), None)

    def _cached(self, query: str) -> PreparedDocument | None:
        cached = self._cache.get(query)
        if cached is not None:
            self._cache.move_to_end(query)
        return cached

    def _remember(self, query: str, prepared: PreparedDocument) -> PreparedDocument:
        self._cache[query] = prepared
        if len(self._cache) > self.limits.document_cache_size:
            self._cache.popitem(last=False)
        return prepared

    def _prepare(self, query: str) -> PreparedDocument:
        try:
            document = parse(query, max_tokens=20_000)
        except GraphQLSyntaxError as exc:
            err = from_graphql_error(exc, "Invalid Syntax: ")
            err["message"] = "Invalid Syntax: " + exc.message.removeprefix("Syntax Error: ")
            return PreparedDocument(None, [err])
        repeated = repeated_field_errors(document, self.limits)
        if repeated:
            return PreparedDocument(None, repeated)
        errors = validate(self.graphql_schema, document)
        if errors:
            return PreparedDocument(None, [from_graphql_error(e, "Validation error: ") for e in errors])
        prepared = PreparedDocument(document, None)
        for d in document.definitions:
            if isinstance(d, FragmentDefinitionNode):
                prepared.fragments[d.name.value] = d
            elif isinstance(d, OperationDefinitionNode):
                prepared.operations[d.name.value if d.name else None] = d
        prepared.variable_directives = "@skip" in query or "@include" in query
        limit_errors = self._check_limits(prepared)
        if limit_errors:
            return PreparedDocument(None, limit_errors)
        return prepared

    def _check_limits(self, prepared: PreparedDocument) -> list[dict[str, Any]]:
        errors = []
        meter = DocumentMeter(self.graphql_schema, self.limits, prepared.fragments, None)
        for name, op in prepared.operations.items():
            measure, roots = meter.operation(op)
            # A cost that depends on variables is checked again with the request's values.
            errors += limit_errors(self.limits, op, measure, roots, check_cost=not measure.variable_limits)
            prepared.costs[name] = (measure.cost, measure.variable_limits)
        return errors

    # ------------------------------------------------------------------ planning

    def _plan_operation(self, prepared: PreparedDocument, op: OperationDefinitionNode,
                        variables: dict[str, Any]) -> OperationPlan:
        gql = self.graphql_schema
        root_type = {OperationType.QUERY: gql.query_type, OperationType.MUTATION: gql.mutation_type,
                     OperationType.SUBSCRIPTION: gql.subscription_type}[op.operation]
        assert root_type is not None
        fields = collect_fields(op.selection_set, root_type.name, prepared.fragments, variables)
        roots: list[RootField] = []
        intro: list[Any] = []
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name in ("__schema", "__type"):
                intro.extend(nodes)
                continue
            if name == "__typename":
                roots.append(RootField(key, name, None, nodes, None, None, True, False))  # type: ignore[arg-type]
                continue
            fdef = root_type.fields[name]
            named, nonnull, is_list = _unwrap(fdef.type)
            plan = self._plan_type(named, nodes, prepared, variables)
            roots.append(RootField(key, name, self._roots.get(name), nodes, fdef, plan, nonnull, is_list,
                                   _arg_vars(nodes[0])))
        introspection = None
        if intro:
            introspection = OperationDefinitionNode(
                operation=op.operation, name=None, variable_definitions=op.variable_definitions,
                directives=(), selection_set=SelectionSetNode(selections=tuple(intro)))
        return OperationPlan(op.operation, roots, introspection)

    def _plan_type(self, named: Any, nodes: list[FieldNode], prepared: PreparedDocument,
                   variables: dict[str, Any]) -> Plan | None:
        if not isinstance(named, GraphQLObjectType):
            return None
        merged: OrderedDict[str, list[FieldNode]] = OrderedDict()
        for sel in _merged_selection(nodes):
            collect_fields(sel, named.name, prepared.fragments, variables, merged)
        model = self.schema.models.get(named.name)
        custom = self.schema.custom_types.get(named.name)
        entries: list[Entry] = []
        for key, fnodes in merged.items():
            fname = fnodes[0].name.value
            if fname == "__typename":
                entries.append(Entry(key, TYPENAME, named.name))
                continue
            fdef = named.fields[fname]
            inner, nonnull, is_list = _unwrap(fdef.type)
            label = str(fdef.type)
            if named.name.startswith("Model") and named.name.endswith("Connection") and model is None:
                if fname == "items":
                    sub = self._plan_type(inner, fnodes, prepared, variables)
                    entries.append(Entry(key, ITEMS, fname, nonnull, label, sub, True, fnodes, fdef))
                elif fname == "nextToken":
                    entries.append(Entry(key, NEXT_TOKEN, fname, nonnull, label))
                continue
            mfield = (model.fields.get(fname) if model is not None else
                      custom.fields.get(fname) if custom is not None else None)
            if mfield is not None and mfield.relation is not None:
                sub = self._plan_type(inner, fnodes, prepared, variables)
                kind = HAS_MANY if mfield.relation.kind == "has_many" else RELATED
                entries.append(Entry(key, kind, fname, nonnull, label, sub, is_list, fnodes, fdef, mfield,
                                     _arg_vars(fnodes[0])))
            elif isinstance(inner, GraphQLObjectType):
                sub = self._plan_type(inner, fnodes, prepared, variables)
                entries.append(Entry(key, OBJECT, fname, nonnull, label, sub, is_list, fnodes, fdef, mfield))
            else:
                entries.append(Entry(key, SCALAR, fname, nonnull, label, None, is_list, fnodes, fdef, mfield))
        return Plan(named.name, entries, model)

    # ------------------------------------------------------------------ execution

    def execute(self, query: str, variables: Any, operation_name: str | None,
                identity: Identity) -> dict[str, Any]:
        """Run a request entirely on the calling thread (custom handlers too): for tests and embedding.
        The server uses :meth:`execute_async`, which keeps handlers and heavy reads off its loop."""
        steps = self._steps(query, variables, operation_name, identity)
        outcome: Outcome = (None, None)
        while True:
            step = _advance(steps, outcome)
            if not isinstance(step, (HandlerCall, HeavyRead)):
                return step
            try:
                outcome = (call_inline(step), None)
            except (FieldError, _NonNull) as exc:
                outcome = (None, exc)

    async def execute_async(self, query: str, variables: Any, operation_name: str | None,
                            identity: Identity) -> dict[str, Any]:
        steps = self._steps(query, variables, operation_name, identity)
        outcome: Outcome = (None, None)
        while True:
            step = _advance(steps, outcome)
            if not isinstance(step, (HandlerCall, HeavyRead)):
                return step
            try:
                outcome = (await self.workers.run(step, self.limits.handler_timeout), None)
            except (FieldError, _NonNull) as exc:
                outcome = (None, exc)

    def _steps(self, query: str, variables: Any, operation_name: str | None,
               identity: Identity) -> Steps:
        """The request as a generator: it yields the work that may leave the calling thread (a
        handler call, a heavy read, preparing a new document) and receives its result, or its
        FieldError thrown back in."""
        prepared = self._cached(query)
        if prepared is None:
            prepared = self._remember(query, (yield self._preparing(query)))
        try:
            planned = self.plan_request(query, variables, operation_name, prepared)
        except PlanError as exc:
            return {"data": None, "errors": exc.errors}
        if planned.plan.kind == OperationType.SUBSCRIPTION:
            return {"data": None, "errors": [{
                "path": None, "locations": location(planned.operation), "errorType": "UnsupportedOperation",
                "message": "Subscriptions are served over the real-time WebSocket endpoint "
                           "(<graphql url>/realtime), not over HTTP POST"}]}
        heavy = planned.cost > self.limits.inline_cost
        return (yield from self._run(planned.plan, prepared, planned.variables, variables or {}, identity, heavy))

    def plan_request(self, query: str, variables: Any, operation_name: str | None,
                     prepared: PreparedDocument | None = None) -> PlannedRequest:
        """Parse (cached, unless ``prepared`` is given), choose the operation, coerce the variables,
        check the cost budget and plan it (cached); raise PlanError with AppSync-shaped errors when
        any step fails."""
        if prepared is None:
            prepared = self.prepare(query)
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
        cost = self._cost(prepared, op, coerced)
        if cost > self.limits.max_cost:
            raise PlanError([{"path": None, "data": None, "errorType": "QueryCostLimitExceeded",
                              "errorInfo": None, "locations": location(op), "message": cost_message(cost, self.limits)}])
        plan: OperationPlan | None = None
        if not prepared.variable_directives:
            plan = prepared.plans.get(operation_name)
        if plan is None:
            plan = self._plan_operation(prepared, op, coerced)
            if not prepared.variable_directives:
                prepared.plans[operation_name] = plan
        return PlannedRequest(prepared, op, coerced, plan, cost)

    def arguments(self, rf: RootField, variables: Any, identity: Identity) -> dict[str, Any]:
        """A planned root field's argument values (raises FieldError when they cannot be read)."""
        return self._args(rf, Context(self, identity, variables))

    def render_event(self, plan: Plan | None, key: str, record: Any, variables: Any,
                     identity: Identity) -> dict[str, Any]:
        """A subscription event's response body for one subscriber: the stored `record` rendered with
        the subscriber's own selection, variables and rights at every depth, as its own query would be."""
        if plan is None or record is None:
            return {"data": {key: record}}
        ctx = Context(self, identity, variables)
        ctx.path = [key]
        node = plan.entries[0].nodes[0] if plan.entries and plan.entries[0].nodes else None
        try:
            if isinstance(record, list):
                value: Any = [ctx.record(plan, r) if r is not None else None for r in record]
            else:
                value = ctx.record(plan, record)
        except _NonNull as exc:
            ctx.errors.append(field_error(exc.message, None, [key, *exc.path], node))
            value = None
        except FieldError as exc:
            ctx.errors.append(field_error(exc.message, exc.error_type, [key], node, exc.error_info))
            value = None
        body: dict[str, Any] = {"data": {key: value}}
        if ctx.errors:
            body["errors"] = ctx.errors
        return body

    def _cost(self, prepared: PreparedDocument, op: OperationDefinitionNode, variables: Any) -> int:
        bound, from_variables = prepared.costs.get(op.name.value if op.name else None, (0, False))
        if not from_variables or bound <= self.limits.inline_cost:
            return bound  # within every threshold whatever the variables say
        meter = DocumentMeter(self.graphql_schema, self.limits, prepared.fragments, variables.coerced)
        return meter.operation(op)[0].cost

    def _run(self, plan: OperationPlan, prepared: PreparedDocument, variables: Any,
             raw_variables: dict[str, Any], identity: Identity,
             heavy: bool) -> Steps:
        ctx = Context(self, identity, variables)
        data: dict[str, Any] | None = {}
        intro_data: dict[str, Any] = {}
        if plan.introspection is not None:
            doc = DocumentNode(definitions=(plan.introspection, *prepared.fragments.values()))
            result = execute(self.graphql_schema, doc, variable_values=raw_variables)
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
                    value = yield from self._run_custom(rf, spec, self._args(rf, ctx), ctx)
                elif heavy and plan.kind == OperationType.MUTATION:
                    # The write stays on the loop (one short statement); rendering its result does not.
                    written = self._run_root(rf, ctx, render=False)
                    assert rf.plan is not None
                    value = yield HeavyRead(partial(self._on_reader, ctx=ctx, work=partial(
                        ctx.record, rf.plan, written.record)), self.store)
                    self._published(rf, written.model, written.record, value)
                elif heavy:
                    value = yield HeavyRead(partial(self._on_reader, ctx=ctx, work=partial(
                        self._run_root, rf, ctx)), self.store)
                else:
                    value = self._run_root(rf, ctx)
            except FieldError as exc:
                ctx.errors.append(field_error(exc.message, exc.error_type, [rf.key], rf.nodes[0], exc.error_info))
                value = None
            except _NonNull as exc:
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

    def _args(self, rf: RootField | Entry, ctx: Context) -> dict[str, Any]:
        arg_vars = rf.arg_vars
        if arg_vars is not None:
            coerced = ctx.variables.coerced
            args = {a: coerced[v] for a, v in arg_vars.items() if v in coerced}
        else:
            assert rf.field_def is not None
            try:
                args = get_argument_values(rf.field_def, rf.nodes[0], ctx.variables)
            except GraphQLError as exc:
                raise FieldError(exc.message, "BadRequestException") from None
        for name in ("filter", "condition"):
            if args.get(name):
                try:  # bounded before SQL (or Python) recurses over it: no parser stack overflow
                    check_filter_size(args[name])
                except FilterTooLarge as exc:
                    raise FieldError(str(exc), "InvalidArgumentsError") from None
        return args

    def _on_reader(self, store: Any, ctx: Context, work: Callable[[], Any]) -> Any:
        """``work()`` reading through ``store`` (a reader thread's; the loop awaits meanwhile)."""
        ctx.store = store
        try:
            return work()
        finally:
            ctx.store = self.store

    def _run_root(self, rf: RootField, ctx: Context, render: bool = True) -> Any:
        """The value of a model root field; with ``render=False`` a write returns what it wrote."""
        spec = rf.spec
        if spec is None:
            raise FieldError(f"No resolver for {rf.name}", "MappingTemplate")
        args = self._args(rf, ctx)
        model = spec.model
        assert model is not None and rf.plan is not None
        op = {"index": "list"}.get(spec.kind, spec.kind)
        parent = "Query" if spec.kind in ("get", "list", "index") else "Mutation"
        auth = self.authorizer.check_operation(model, op, ctx.identity)
        denied = f"Not Authorized to access {rf.name} on type {parent}"
        if not auth.allowed or self.authorizer.operation_denied(parent, rf.name, ctx.identity):
            raise FieldError(denied, "Unauthorized")
        try:
            return self._run_model_root(rf, spec, model, args, auth, ctx, denied, render)
        except HiddenField as exc:  # a filter, condition or key would test what the caller may not read
            raise FieldError(str(exc), "Unauthorized") from None

    def _run_model_root(self, rf: RootField, spec: RootSpec, model: Model, args: dict[str, Any], auth: Decision,
                        ctx: Context, denied: str, render: bool) -> Any:
        assert rf.plan is not None
        store = ctx.store
        row_filter = auth.row_filter
        try:
            if spec.kind == "get":
                record = store.get(model, {k: args[k] for k in model.identifier})
                if record is None:
                    return None
                if row_filter is not None and not matches(row_filter, record, _list_fields(model)):
                    raise FieldError(denied, "Unauthorized")
                return ctx.record(rf.plan, record)
            if spec.kind in ("list", "index"):
                request = self._list_request(model, spec.index, args, ctx, rf.name)
                request.filter = self._readable_keys(model, request, ctx.identity)
                if row_filter is not None:
                    # Pushed into SQL: rows the caller may not read never leave the database.
                    request.filter = {"and": [request.filter, row_filter]} if request.filter else row_filter
                page = store.list(request)
                return ctx.connection(rf.plan, page.items, page.next_token)
            if spec.kind == "create":
                record = self._create(model, args, auth, ctx, denied)
            elif spec.kind == "update":
                record = self._update(model, args, auth, ctx, denied)
            else:
                record = self._delete(model, args, auth, ctx, denied)
        except StoreError as exc:
            raise FieldError(str(exc), exc.error_type) from None
        if not render:
            return Written(model, record)
        value = ctx.record(rf.plan, record)
        self._published(rf, model, record, value)
        return value

    def _published(self, rf: RootField, model: Model, record: Record, value: Any) -> None:
        if self.on_mutation is not None:
            self.on_mutation(rf.name, model, record, value, rf.plan)

    def _field_guard(self, model: Model, operation: str, given: list[str], record: Record | None,
                     ctx: Context) -> None:
        if not self.authorizer.has_field_rules(model):
            return
        denied = self.authorizer.field_denials(model, operation, given, record, ctx.identity)
        if denied:
            raise FieldError(f"Unauthorized on [{', '.join(denied)}]", "Unauthorized")

    def _create(self, model: Model, args: dict[str, Any], auth: Decision, ctx: Context, denied: str) -> Record:
        given = args["input"]
        self._field_guard(model, "create", [k for k, v in given.items() if v is not None], None, ctx)
        values = self._create_values(model, given)
        if auth.row_filter is not None:
            for name, value in auth.owner_defaults.items():
                if values.get(name) is None:
                    values[name] = value  # the owner is the caller unless the input names them
            # An owner may only create records they own (or that name one of their groups).
            if not matches(auth.row_filter, values, _list_fields(model)):
                raise FieldError(denied, "Unauthorized")
        return self.store.create(model, values, self._condition(model, args, ctx))

    def _stored_for_write(self, model: Model, key: dict[str, Any], auth: Decision, denied: str) -> Record:
        stored = self.store.get(model, key)
        if stored is None:
            # AppSync's message and type (clients match on them), then the reason in plain words.
            shown = ", ".join(f"{k}={v!r}" for k, v in key.items())
            raise FieldError(f"The conditional request failed: no {model.name} record with key {shown}",
                             "DynamoDB:ConditionalCheckFailedException")
        if auth.row_filter is not None and not matches(auth.row_filter, stored, _list_fields(model)):
            raise FieldError(denied, "Unauthorized")
        return stored

    def _condition(self, model: Model, args: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
        return self.authorizer.blind_filter(model, args.get("condition"), ctx.identity)

    def _readable_keys(self, model: Model, request: ListRequest, identity: Identity) -> dict[str, Any] | None:
        """The request's filter made blind (see Authorizer.blind_filter), and its key condition checked
        the same way: a key field the caller may never read is refused; one they may read on some
        records only restricts the query to those records."""
        flt = self.authorizer.blind_filter(model, request.filter, identity)
        key = request.key_condition
        if key is None:
            return flt
        tested = [key.partition_key, *(key.sort_keys if key.sort_condition is not None else ())]
        for name in tested:
            decision = self.authorizer.field_read(model, name, identity)
            if not decision.allowed:
                raise HiddenField(model.name, name)
            if decision.row_filter is not None:
                flt = {"and": [flt, decision.row_filter]} if flt else decision.row_filter
        return flt

    @staticmethod
    def _guarded(condition: dict[str, Any] | None, auth: Decision) -> dict[str, Any] | None:
        """The user's condition AND the row filter, so a concurrent change of owner cannot slip by."""
        if auth.row_filter is None:
            return condition
        return {"and": [condition, auth.row_filter]} if condition else auth.row_filter

    def _update(self, model: Model, args: dict[str, Any], auth: Decision, ctx: Context, denied: str) -> Record:
        key, changes = self._update_values(model, args["input"])
        stored = self._stored_for_write(model, key, auth, denied)
        self._field_guard(model, "update", [k for k in args["input"] if k not in model.identifier], stored, ctx)
        if auth.row_filter is not None and not matches(auth.row_filter, {**stored, **changes}, _list_fields(model)):
            # An owner cannot hand the record to someone else (or out of their groups).
            raise FieldError(denied, "Unauthorized")
        return self.store.update(model, key, changes, self._guarded(self._condition(model, args, ctx), auth))

    def _delete(self, model: Model, args: dict[str, Any], auth: Decision, ctx: Context, denied: str) -> Record:
        key = {k: args["input"][k] for k in model.identifier}
        stored = self._stored_for_write(model, key, auth, denied)
        self._field_guard(model, "delete", [f for f in stored if stored[f] is not None], stored, ctx)
        return self.store.delete(model, key, self._guarded(self._condition(model, args, ctx), auth))

    def _list_request(self, model: Model, index: SecondaryIndex | None, args: dict[str, Any], ctx: Context,
                      field_name: str) -> ListRequest:
        limit = args.get("limit")
        if limit is None:
            limit = self.limits.default_list_limit
        elif not 1 <= limit <= self.limits.max_list_limit:
            raise FieldError(f"limit must be between 1 and {self.limits.max_list_limit}, got {limit}",
                             "InvalidArgumentsError")
        direction = args.get("sortDirection")
        request = ListRequest(model, filter=args.get("filter"), limit=limit, next_token=args.get("nextToken"),
                              descending=direction == "DESC", index=index)
        if index is not None:
            sks = index.sort_keys
            sk_arg = sort_key_argument(model, sks, index)[0] if sks else None
            request.key_condition = KeyCondition(index.partition_key, args[index.partition_key], sks,
                                                 args.get(sk_arg) if sk_arg else None)
        else:
            if direction is not None and not model.sort_keys:
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

    def _create_values(self, model: Model, given: dict[str, Any]) -> Record:
        values: Record = {}
        now = now_iso()
        for f in model.stored_fields():
            v = given.get(f.name)
            if v is None and f.has_default:
                v = f.default
            if v is not None:
                values[f.name] = v
        if "id" in model.fields and model.fields["id"].implicit and values.get("id") is None:
            values["id"] = str(uuid.uuid4())
        for ts in model.timestamp_fields:
            if values.get(ts) is None:
                values[ts] = now  # AppSync: the input's value if given, else the time of the write
        return values

    def _update_values(self, model: Model, given: dict[str, Any]) -> tuple[dict[str, Any], Record]:
        key = {k: given[k] for k in model.identifier}
        changes: Record = {}
        updated_at = model.updated_at
        for name, value in given.items():
            if name in model.identifier or (name == updated_at and value is None):
                continue
            f = model.fields[name]
            if value is None and (f.required or f.array_required):
                raise FieldError(f"Cannot set the required field {model.name}.{name} to null",
                                 "InvalidArgumentsError")
            changes[name] = value
        if updated_at is not None and changes.get(updated_at) is None:
            changes[updated_at] = now_iso()
        return key, changes

    def _run_custom(self, rf: RootField, spec: RootSpec, args: dict[str, Any],
                    ctx: Context) -> Generator[HandlerCall, Any, Any]:
        op = spec.operation
        parent = "Query" if op.kind == "query" else "Mutation"
        handler = op.handler
        if not callable(handler):
            # Said before any authorization check: "Not Authorized" would hide the cause.
            how = ("serve it with --handlers MODULE (a function named after the operation)"
                   if self.schema.source_mis is not None else "give it one with .handler(function)")
            raise FieldError(f"{rf.name} has no handler in this Cove server; {how}", "MappingTemplate")
        if not self.authorizer.check_rules(op.rules, "read", ctx.identity) or \
                self.authorizer.operation_denied(parent, rf.name, ctx.identity):
            raise FieldError(f"Not Authorized to access {rf.name} on type {parent}", "Unauthorized")
        event = {"typeName": parent, "fieldName": rf.name, "arguments": args,
                 "identity": ctx.identity_event(), "source": None, "request": {"headers": {}}}
        result = yield HandlerCall(rf.name, handler, event, self)
        value = result
        returns = op.returns
        if returns is not None and returns.type.kind == "scalar" and returns.type.name == "AWSJSON" \
                and result is not None:
            # AppSync returns AWSJSON as a JSON string, whatever the handler built.
            encode = (lambda v: v if isinstance(v, str) else orjson.dumps(v).decode())
            value = [encode(v) for v in result] if returns.is_array and isinstance(result, list) else encode(result)
        if rf.plan is not None and result is not None:
            if isinstance(result, list):
                value = [ctx.record(rf.plan, r) if r is not None else None for r in result]
            else:
                value = ctx.record(rf.plan, result)
        if op.kind == "mutation" and self.on_mutation is not None:
            self.on_mutation(rf.name, None, result, value, rf.plan)
        return value


class Context:
    """Per-request state: identity, variables, collected errors."""

    __slots__ = ("engine", "errors", "identity", "path", "store", "variables")

    def __init__(self, engine: Engine, identity: Identity, variables: Any) -> None:
        self.engine = engine
        self.store = engine.store  # a heavy read renders with a reader thread's own connection
        self.identity = identity
        self.variables = variables
        self.errors: list[dict[str, Any]] = []
        self.path: list[Any] = []   # where rendering is, for field-level errors

    def identity_event(self) -> dict[str, Any] | None:
        ident = self.identity
        if ident.mode == "apiKey":
            return None
        if ident.mode == "lambda":
            return {"resolverContext": ident.resolver_context or {}}
        return {"claims": ident.claims, "sub": ident.claims.get("sub")}

    def record(self, plan: Plan, record: dict[str, Any]) -> dict[str, Any]:
        model = plan.model
        if model is not None and (model.name in self.engine.guarded_models or self.identity.denied_fields):
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
        authorizer = self.engine.authorizer
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
                raise _null(e, parent)
            return None
        assert e.sub is not None
        if e.is_list:
            out = []
            for i, item in enumerate(value):
                try:
                    out.append(self.record(e.sub, item) if item is not None else None)
                except _NonNull as exc:
                    exc.path[:0] = [e.key, i]
                    raise
            return out
        try:
            return self.record(e.sub, value)
        except _NonNull as exc:
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
                guarded = sub.model is not None and (sub.model.name in self.engine.guarded_models
                                                     or bool(self.identity.denied_fields))
                try:
                    if guarded:
                        base = self.path
                        rendered = []
                        for i, item in enumerate(items):
                            self.path = [*base, e.key, i]
                            rendered.append(self.record(sub, item))
                        self.path = base
                    else:
                        rendered = [render(self, item) for item in items]
                except _NonNull:
                    rendered = []
                    for i, item in enumerate(items):
                        try:
                            rendered.append(self.record(sub, item))
                        except _NonNull as exc:
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
                    raise _null(e, plan)
                out[e.key] = None
        return out

    def _related(self, e: Entry, plan: Plan, record: dict[str, Any]) -> Any:
        engine = self.engine
        assert e.model_field is not None and e.model_field.relation is not None and e.sub is not None
        rel = e.model_field.relation
        related = engine.schema.models[rel.related_model]
        if engine.authorizer.operation_denied(plan.type_name, e.name, self.identity):
            return None
        decision = engine.authorizer.check_operation(related, "get" if rel.parent_holds_key else "list",
                                                     self.identity)
        if not decision.allowed:
            self.errors.append(field_error(f"Not Authorized to access {e.name} on type {plan.type_name}",
                                           "Unauthorized", [*self.path, e.key], e.nodes[0]))
            return None
        assert plan.model is not None
        if rel.parent_holds_key:
            key_values = [record.get(r) for r in rel.key_fields]
            if any(v is None for v in key_values):
                return None
            found = self.store.get(related, dict(zip(related.identifier, key_values, strict=True)))
            if found is not None and decision.row_filter is not None and \
                    not matches(decision.row_filter, found, _list_fields(related)):
                found = None  # a parent the caller may not read is not shown
        else:
            parent_key = [record.get(k) for k in plan.model.identifier]
            page = self.store.list(ListRequest(related, filter=decision.row_filter, limit=1,
                                                 extra_equals=dict(zip(rel.references, parent_key, strict=True))))
            found = page.items[0] if page.items else None
        if found is None:
            return None
        try:
            return self.record(e.sub, found)
        except _NonNull as exc:
            exc.path.insert(0, e.key)
            raise

    def _has_many(self, e: Entry, plan: Plan, record: dict[str, Any]) -> Any:
        engine = self.engine
        assert e.model_field is not None and e.model_field.relation is not None and e.sub is not None
        rel = e.model_field.relation
        related = engine.schema.models[rel.related_model]
        if engine.authorizer.operation_denied(plan.type_name, e.name, self.identity):
            return None
        decision = engine.authorizer.check_operation(related, "list", self.identity)
        if not decision.allowed:
            self.errors.append(field_error(f"Not Authorized to access {e.name} on type {plan.type_name}",
                                           "Unauthorized", [*self.path, e.key], e.nodes[0]))
            return None
        assert plan.model is not None
        args = engine._args(e, self)
        parent_key = [record.get(k) for k in plan.model.identifier]
        limit = args.get("limit") or engine.limits.default_list_limit
        if not 1 <= limit <= engine.limits.max_list_limit:
            raise FieldError(f"limit must be between 1 and {engine.limits.max_list_limit}", "InvalidArgumentsError")
        try:
            user_filter = engine.authorizer.blind_filter(related, args.get("filter"), self.identity)
        except HiddenField as exc:
            self.errors.append(field_error(str(exc), "Unauthorized", [*self.path, e.key], e.nodes[0]))
            return None
        if decision.row_filter is not None:
            user_filter = {"and": [user_filter, decision.row_filter]} if user_filter else decision.row_filter
        request = ListRequest(related, filter=user_filter, limit=limit, next_token=args.get("nextToken"),
                              descending=args.get("sortDirection") == "DESC",
                              extra_equals=dict(zip(rel.references, parent_key, strict=True)))
        try:
            page = self.store.list(request)
        except StoreError as exc:
            self.errors.append(field_error(str(exc), exc.error_type, [e.key], e.nodes[0]))
            return None
        return self.connection(e.sub, page.items, page.next_token)


Steps = Generator[HandlerCall | HeavyRead, Any, dict[str, Any]]
Outcome = tuple[Any, Exception | None]   # a step's result, or the error to throw back into the request


def _advance(steps: Steps, outcome: Outcome) -> HandlerCall | HeavyRead | dict[str, Any]:
    """Resume a request with the last step's outcome: its next step, or its response when done."""
    try:
        return steps.throw(outcome[1]) if outcome[1] is not None else steps.send(outcome[0])
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _list_fields(model: Model) -> frozenset[str]:
    return frozenset(f.name for f in model.fields.values() if f.is_array)


def _null(e: Entry, plan: Plan) -> _NonNull:
    err = _NonNull(f"Cannot return null for non-nullable type: '{e.type_label.rstrip('!')}' within parent "
                   f"'{plan.type_name}'")
    err.path.append(e.key)
    return err

