"""Request limits, and the measure of a document that is checked against them before it runs.

A document is measured on its syntax tree with fragments expanded (each named fragment is measured
once and reused, so a document that spreads fragments into an exponential tree costs linear time to
measure): its depth, its aliases, its root fields, its selected fields and its *cost*, an upper
bound on the objects the response can hold. Every list multiplies what it selects by its `limit`
(or the default page size), so `blog { posts { items { blog { posts { ... } } } } }` grows by 100
per level, and a request whose bound passes the budget is refused before it reads a row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)

from cove.settings import parse_settings

from .errors import location


@dataclass
class Limits:
    """Request limits; each breach gets a clear error rather than a slow or huge response.
    ``cove serve --limit NAME=VALUE`` sets any of them."""

    #: Largest request body (bytes).
    max_body_bytes: int = 1_048_576
    #: Seconds a request may take to arrive, headers and body (slow clients hold a connection).
    request_timeout: float = 30.0
    max_header_bytes: int = 65_536
    max_depth: int = 15
    max_aliases: int = 50
    #: Root fields of one operation, counted after fragments are expanded.
    max_root_fields: int = 20
    #: Fields selected by one operation, counted after fragments are expanded.
    max_fields: int = 2_000
    #: Times one response key may be selected in one selection set, fragments included; checked before
    #: validation, whose overlapping-fields rule compares every such pair (quadratic).
    max_field_repeats: int = 50
    #: Upper bound on the objects one request may return (see the module docstring).
    max_cost: int = 50_000
    #: Requests whose cost passes this run in a worker thread so the event loop stays responsive.
    inline_cost: int = 500
    #: Seconds of CPU a SQLite read may take on the event loop; one that needs more (an unindexed
    #: filter, sort or relation over many rows) is stopped and read again on the reader thread, and
    #: later requests of its document read there from the start.
    loop_read_seconds: float = 0.002
    max_list_limit: int = 1000
    default_list_limit: int = 100
    #: Seconds a custom query or mutation handler may run (AppSync's resolver timeout is 30 s).
    handler_timeout: float = 30.0
    #: Worker threads for synchronous custom handlers.
    handler_threads: int = 16
    document_cache_size: int = 1000

    @classmethod
    def parse(cls, items: list[str] | None, flag: str = "--limit") -> Limits:
        return parse_settings(cls(), items, flag)


@dataclass
class Measure:
    depth: int = 0
    aliases: int = 0
    fields: int = 0
    cost: int = 0
    #: A `limit` came from a variable (the cost was computed with the variable's value, or the maximum).
    variable_limits: bool = False

    def add(self, other: Measure, depth_offset: int = 0, multiplier: int = 1) -> None:
        self.depth = max(self.depth, other.depth + depth_offset)
        self.aliases += other.aliases
        self.fields += other.fields
        self.cost += other.cost * multiplier
        self.variable_limits = self.variable_limits or other.variable_limits


def _unwrap(t: Any) -> tuple[Any, bool]:
    if isinstance(t, GraphQLNonNull):
        t = t.of_type
    is_list = isinstance(t, GraphQLList)
    while isinstance(t, (GraphQLList, GraphQLNonNull)):
        t = t.of_type
    return t, is_list


def is_connection(type_name: str) -> bool:
    return type_name.startswith("Model") and type_name.endswith("Connection")


class DocumentMeter:
    """Measures one operation of a validated document. ``variables`` are the request's raw
    variables, or None to bound every variable `limit` by the largest allowed."""

    def __init__(self, schema: GraphQLSchema, limits: Limits, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any] | None) -> None:
        self.schema = schema
        self.limits = limits
        self.fragments = fragments
        self.variables = variables
        self._memo: dict[tuple[str, int], Measure] = {}
        self._open: set[str] = set()
        self.limit_variables: set[str] = set()   # the variables a `limit` came from

    def operation(self, op: OperationDefinitionNode) -> tuple[Measure, int]:
        """(measure of the operation, number of distinct root fields after fragment expansion)."""
        root = {OperationType.QUERY: self.schema.query_type, OperationType.MUTATION: self.schema.mutation_type,
                OperationType.SUBSCRIPTION: self.schema.subscription_type}[op.operation]
        measure = self._selection(op.selection_set, root, 1)
        keys: set[str] = set()
        self._root_keys(op.selection_set, keys, set())
        return measure, len(keys)

    def _root_keys(self, sel: SelectionSetNode, keys: set[str], seen: set[str]) -> None:
        for s in sel.selections:
            if isinstance(s, FieldNode):
                keys.add(s.alias.value if s.alias else s.name.value)
            elif isinstance(s, InlineFragmentNode):
                self._root_keys(s.selection_set, keys, seen)
            elif isinstance(s, FragmentSpreadNode) and s.name.value not in seen:
                seen.add(s.name.value)
                frag = self.fragments.get(s.name.value)
                if frag is not None:
                    self._root_keys(frag.selection_set, keys, seen)

    def _selection(self, sel: SelectionSetNode, parent: Any, page: int) -> Measure:
        """``page``: how many items a list field of ``parent`` holds (a connection's `items`)."""
        out = Measure()
        for s in sel.selections:
            if isinstance(s, FieldNode):
                out.add(self._field(s, parent, page))
            elif isinstance(s, InlineFragmentNode):
                cond = s.type_condition
                target = self.schema.get_type(cond.name.value) if cond is not None else parent
                out.add(self._selection(s.selection_set, target or parent, page))
            elif isinstance(s, FragmentSpreadNode):
                out.add(self._fragment(s.name.value, page))
        return out

    def _fragment(self, name: str, page: int) -> Measure:
        key = (name, page)
        found = self._memo.get(key)
        if found is not None:
            return found
        frag = self.fragments.get(name)
        if frag is None or name in self._open:  # validation refuses both; never loop
            return Measure()
        self._open.add(name)
        target = self.schema.get_type(frag.type_condition.name.value)
        measure = self._selection(frag.selection_set, target, page)
        self._open.discard(name)
        self._memo[key] = measure
        return measure

    def _field(self, node: FieldNode, parent: Any, page: int) -> Measure:
        out = Measure(depth=1, aliases=1 if node.alias is not None else 0, fields=1)
        if node.selection_set is None:
            return out
        fdef = parent.fields.get(node.name.value) if isinstance(parent, GraphQLObjectType) else None
        if fdef is None:  # introspection (__schema, __type): no rows, only its own fields count
            out.add(self._selection(node.selection_set, None, 1), 1)
            return out
        named, is_list = _unwrap(fdef.type)
        if is_connection(named.name):
            size, from_variable = self._limit(node)
            out.variable_limits = from_variable
            out.cost = 1  # the statement that reads the page
            out.add(self._selection(node.selection_set, named, size), 1)
            return out
        sub = self._selection(node.selection_set, named, 1)
        count = page if is_list and is_connection(parent.name) else 1
        out.cost = count
        out.add(sub, 1, count)
        return out

    def _limit(self, node: FieldNode) -> tuple[int, bool]:
        limits = self.limits
        arg = next((a for a in node.arguments or () if a.name.value == "limit"), None)
        value: Any = None
        from_variable = False
        if arg is not None:
            if isinstance(arg.value, IntValueNode):
                value = int(arg.value.value)
            elif isinstance(arg.value, VariableNode):
                from_variable = True
                self.limit_variables.add(arg.value.name.value)
                value = limits.max_list_limit if self.variables is None else \
                    self.variables.get(arg.value.name.value)
        if not isinstance(value, int) or isinstance(value, bool):
            value = limits.default_list_limit
        # Out of range is refused when the field runs, with its own clear error.
        return min(max(value, 1), limits.max_list_limit), from_variable


def limit_errors(limits: Limits, op: OperationDefinitionNode, measure: Measure, roots: int,
                 *, check_cost: bool = True) -> list[dict[str, Any]]:
    errors = []

    def refuse(error_type: str, message: str) -> None:
        errors.append({"path": None, "data": None, "errorType": error_type, "errorInfo": None,
                       "locations": location(op), "message": message})

    if measure.depth > limits.max_depth:
        refuse("QueryDepthLimitExceeded", f"Query depth {measure.depth} exceeds the limit of {limits.max_depth}")
    if measure.aliases > limits.max_aliases:
        refuse("AliasLimitExceeded", f"The document uses {measure.aliases} aliases; the limit is {limits.max_aliases}")
    if roots > limits.max_root_fields:
        refuse("RootFieldLimitExceeded",
               f"The operation selects {roots} root fields; the limit is {limits.max_root_fields}")
    if measure.fields > limits.max_fields:
        refuse("FieldLimitExceeded",
               f"The operation selects {measure.fields} fields (fragments expanded); the limit is {limits.max_fields}")
    if check_cost and measure.cost > limits.max_cost:
        refuse("QueryCostLimitExceeded", cost_message(measure.cost, limits))
    return errors


def cost_message(cost: int, limits: Limits) -> str:
    return (f"The query could return up to {cost} objects (each list counted at its limit, or "
            f"{limits.default_list_limit} without one); the limit is {limits.max_cost}. Select fewer "
            f"nested lists or pass smaller limits, and page with nextToken")


def repeated_field_errors(document: DocumentNode, limits: Limits) -> list[dict[str, Any]]:
    """Refuse a document that selects one response key too often in one selection set, before
    graphql-core's validation spends quadratic time comparing the copies."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, Counter[str]] = {}
    open_: set[str] = set()

    def flat(sel: SelectionSetNode) -> Counter[str]:
        keys: Counter[str] = Counter()
        for s in sel.selections:
            if isinstance(s, FieldNode):
                keys[s.alias.value if s.alias else s.name.value] += 1
            elif isinstance(s, InlineFragmentNode):
                keys.update(flat(s.selection_set))
            elif isinstance(s, FragmentSpreadNode):
                name = s.name.value
                if name not in memo and name in fragments and name not in open_:
                    open_.add(name)
                    memo[name] = flat(fragments[name].selection_set)
                    open_.discard(name)
                keys.update(memo.get(name, ()))
        return keys

    stack = [d.selection_set for d in document.definitions
             if isinstance(d, (OperationDefinitionNode, FragmentDefinitionNode))]
    while stack:
        sel = stack.pop()
        counts = flat(sel)
        if counts:
            key, times = counts.most_common(1)[0]
            if times > limits.max_field_repeats:
                return [{"path": None, "data": None, "errorType": "FieldLimitExceeded", "errorInfo": None,
                         "locations": location(sel.selections[0]),
                         "message": f"The field '{key}' is selected {times} times in one selection set (fragments "
                                    f"included); the limit is {limits.max_field_repeats}"}]
        for s in sel.selections:
            if isinstance(s, (FieldNode, InlineFragmentNode)) and s.selection_set is not None:
                stack.append(s.selection_set)
    return []
