"""Documents: parsed, validated and checked against the limits once, then cached by their text."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    parse,
    validate,
)

from ..errors import from_graphql_error
from ..limits import DocumentMeter, Limits, limit_errors, repeated_field_errors
from ..workers import Workers
from .plan import OperationPlan


# Costs kept per document for different `limit` values (past this, new values are measured each time).
MAX_VARIABLE_COSTS = 64


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
    # The variables any `limit` came from, and the costs measured per operation and their values
    # (a list's `$limit` mostly takes a few values, so the document is not walked for each request).
    limit_variables: tuple[str, ...] = ()
    variable_costs: dict[tuple[str | None, tuple[Any, ...]], int] = field(default_factory=dict)


class Documents:
    """The document cache of one engine (its schema and limits)."""

    def __init__(self, graphql_schema: GraphQLSchema, limits: Limits, workers: Workers) -> None:
        self.graphql_schema = graphql_schema
        self.limits = limits
        self.workers = workers
        self._cache: OrderedDict[str, PreparedDocument] = OrderedDict()

    def prepare(self, query: str) -> PreparedDocument:
        return self.cached(query) or self.remember(query, self.parse(query))

    async def prepare_async(self, query: str) -> PreparedDocument:
        """:meth:`prepare`, with a new document parsed and validated off the event loop."""
        cached = self.cached(query)
        if cached is not None:
            return cached
        return self.remember(query, await self.workers.prepare(partial(self.parse, query)))

    def cached(self, query: str) -> PreparedDocument | None:
        cached = self._cache.get(query)
        if cached is not None:
            self._cache.move_to_end(query)
        return cached

    def remember(self, query: str, prepared: PreparedDocument) -> PreparedDocument:
        self._cache[query] = prepared
        if len(self._cache) > self.limits.document_cache_size:
            self._cache.popitem(last=False)
        return prepared

    def parse(self, query: str) -> PreparedDocument:
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
        prepared.limit_variables = tuple(sorted(meter.limit_variables))
        return errors

    def cost(self, prepared: PreparedDocument, op: OperationDefinitionNode, variables: Any) -> int:
        """The cost budget's estimate of ``op`` with the request's variables (see limits.py)."""
        bound, from_variables = prepared.costs.get(op.name.value if op.name else None, (0, False))
        if not from_variables or bound <= self.limits.inline_cost:
            return bound  # within every threshold whatever the variables say
        values = variables.coerced
        name = op.name.value if op.name else None
        key = (name, tuple(values.get(v) for v in prepared.limit_variables))
        keep = True
        try:
            return prepared.variable_costs[key]
        except KeyError:
            pass
        except TypeError:   # a value that cannot be a key (not an Int): measured, not kept
            keep = False
        meter = DocumentMeter(self.graphql_schema, self.limits, prepared.fragments, values)
        cost = meter.operation(op)[0].cost
        if keep and len(prepared.variable_costs) < MAX_VARIABLE_COSTS:
            prepared.variable_costs[key] = cost
        return cost
