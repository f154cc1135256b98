"""Selection plans: what a document selects, compiled once per document into entries and renderers.

A plan maps every root field to one store call and every selection to a precomputed list of entries;
each plan compiles a straight-line renderer (record -> response dict) that reads prefetched results
only (see prefetch.py and render.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.execution.values import get_argument_values
from graphql.language import BooleanValueNode, VariableNode

from cove.schema.model import Field, Model, Schema, SecondaryIndex
from cove.schema.naming import (
    TRANSACT_FIELD,
    aggregate_field,
    count_field,
    get_field,
    list_field,
    mutation_field,
    search_field,
)
from cove.wire.filters import FilterTooLarge, check_filter_size

from ..errors import FieldError
from ..events import Mask

# A compiled renderer: (render.Context, record) -> response dict. (Context is not imported: render.py
# imports this module.)
Renderer = Callable[[Any, dict[str, Any]], dict[str, Any]]

class NonNullViolation(Exception):
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
    render: Renderer | None = None
    loads: bool = False   # a relationship is selected at some depth: its records need a prefetch

    def __post_init__(self) -> None:
        self.render = _compile_renderer(self)
        self.loads = any(e.kind in (RELATED, HAS_MANY) or (e.sub is not None and e.sub.loads) for e in self.entries)


def _compile_renderer(plan: Plan) -> Renderer:
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
    source = "def render(ctx, r):\n" + "".join(c + "\n" for c in checks) + "    return {" + ", ".join(parts) + "}\n"
    namespace: dict[str, Any] = {"E": plan.entries, "P": plan, "_null": null_violation}
    exec(compile(source, f"<cove plan {plan.type_name}>", "exec"), namespace)  # noqa: S102 - our own code
    return namespace["render"]  # type: ignore[no-any-return]


def unwrap(t: Any) -> tuple[Any, bool, bool]:
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
        cond = False
        if isinstance(value, BooleanValueNode):
            cond = value.value
        elif isinstance(value, VariableNode):
            cond = bool(variables.coerced.get(value.name.value))
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


def arg_vars(node: FieldNode) -> dict[str, str] | None:
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
    kind: str                          # get list index search count aggregate create update delete transact custom
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
    selection: Mask | None = None       # a mutation's: what its subscribers' events may hold
    #: Until this time.monotonic(), read on the reader first (a read of it ran past the bounded view's budget).
    reads_long_until: float = 0.0


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


def list_fields(model: Model) -> frozenset[str]:
    return frozenset(f.name for f in model.fields.values() if f.is_array)


def null_violation(e: Entry, plan: Plan) -> NonNullViolation:
    err = NonNullViolation(f"Cannot return null for non-nullable type: '{e.type_label.rstrip('!')}' "
                           f"within parent '{plan.type_name}'")
    err.path.append(e.key)
    return err


class Planner:
    """Builds the plan of one operation against the schema (cached per document by the caller)."""

    def __init__(self, schema: Schema, graphql_schema: GraphQLSchema) -> None:
        self.schema = schema
        self.graphql_schema = graphql_schema
        self.roots: dict[str, RootSpec] = {}
        for model in schema.models.values():
            self.roots[get_field(model)] = RootSpec("get", model)
            self.roots[list_field(model)] = RootSpec("list", model)
            for ix in model.indexes:
                if ix.query_field:
                    self.roots[ix.query_field] = RootSpec("index", model, ix)
            for kind in ("create", "update", "delete"):
                self.roots[mutation_field(kind, model)] = RootSpec(kind, model)
            self.roots[count_field(model)] = RootSpec("count", model)
            self.roots[aggregate_field(model)] = RootSpec("aggregate", model)
            if model.searchable:
                self.roots[search_field(model)] = RootSpec("search", model)
        self.roots[TRANSACT_FIELD] = RootSpec("transact")
        for ops in (schema.queries, schema.mutations):
            for name, operation in ops.items():
                self.roots[name] = RootSpec("custom", operation=operation)

    def operation(self, fragments: dict[str, FragmentDefinitionNode], op: OperationDefinitionNode,
                  variables: Any) -> OperationPlan:
        gql = self.graphql_schema
        root_type = {OperationType.QUERY: gql.query_type, OperationType.MUTATION: gql.mutation_type,
                     OperationType.SUBSCRIPTION: gql.subscription_type}[op.operation]
        assert root_type is not None
        fields = collect_fields(op.selection_set, root_type.name, fragments, variables)
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
            named, nonnull, is_list = unwrap(fdef.type)
            plan = self._plan_type(named, nodes, fragments, variables)
            roots.append(RootField(key, name, self.roots.get(name), nodes, fdef, plan, nonnull, is_list,
                                   arg_vars(nodes[0])))
        introspection = None
        if intro:
            introspection = OperationDefinitionNode(
                operation=op.operation, name=None, variable_definitions=op.variable_definitions,
                directives=(), selection_set=SelectionSetNode(selections=tuple(intro)))
        return OperationPlan(op.operation, roots, introspection)

    def _plan_type(self, named: Any, nodes: list[FieldNode], fragments: dict[str, FragmentDefinitionNode],
                   variables: dict[str, Any]) -> Plan | None:
        if not isinstance(named, GraphQLObjectType):
            return None
        merged: OrderedDict[str, list[FieldNode]] = OrderedDict()
        for sel in _merged_selection(nodes):
            collect_fields(sel, named.name, fragments, variables, merged)
        model = self.schema.models.get(named.name)
        custom = self.schema.custom_types.get(named.name)
        entries: list[Entry] = []
        for key, fnodes in merged.items():
            fname = fnodes[0].name.value
            if fname == "__typename":
                entries.append(Entry(key, TYPENAME, named.name))
                continue
            fdef = named.fields[fname]
            inner, nonnull, is_list = unwrap(fdef.type)
            label = str(fdef.type)
            if named.name.startswith("Model") and named.name.endswith("Connection") and model is None:
                if fname == "items":
                    sub = self._plan_type(inner, fnodes, fragments, variables)
                    entries.append(Entry(key, ITEMS, fname, nonnull, label, sub, True, fnodes, fdef))
                elif fname == "nextToken":
                    entries.append(Entry(key, NEXT_TOKEN, fname, nonnull, label))
                continue
            owner = model if model is not None else custom
            mfield = owner.fields.get(fname) if owner is not None else None
            if mfield is not None and mfield.relation is not None:
                sub = self._plan_type(inner, fnodes, fragments, variables)
                kind = HAS_MANY if mfield.relation.kind == "has_many" else RELATED
                entries.append(Entry(key, kind, fname, nonnull, label, sub, is_list, fnodes, fdef, mfield,
                                     arg_vars(fnodes[0])))
            elif isinstance(inner, GraphQLObjectType):
                sub = self._plan_type(inner, fnodes, fragments, variables)
                entries.append(Entry(key, OBJECT, fname, nonnull, label, sub, is_list, fnodes, fdef, mfield))
            else:
                entries.append(Entry(key, SCALAR, fname, nonnull, label, None, is_list, fnodes, fdef, mfield))
        return Plan(named.name, entries, model)

    # ------------------------------------------------------------------ execution


def field_arguments(holder: RootField | Entry, variables: Any) -> dict[str, Any]:
    """A planned field's argument values (FieldError when they cannot be read); filters and
    conditions are bounded before SQL (or Python) recurses over them: no parser stack overflow."""
    if holder.arg_vars is not None:
        coerced = variables.coerced
        args = {a: coerced[v] for a, v in holder.arg_vars.items() if v in coerced}
    else:
        assert holder.field_def is not None
        try:
            args = get_argument_values(holder.field_def, holder.nodes[0], variables)
        except GraphQLError as exc:
            raise FieldError(exc.message, "BadRequestException") from None
    for name in ("filter", "condition"):
        if args.get(name):
            try:
                check_filter_size(args[name])
            except FilterTooLarge as exc:
                raise FieldError(str(exc), "InvalidArgumentsError") from None
    return args
