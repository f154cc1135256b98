"""Turning a ``start`` message into a subscription, through the engine's public API only.

A subscriber's events are filtered by its ``filter`` (evaluated on the whole stored record, so a
mutation that does not select a field still matches a filter on it; a filter may not test a field the
subscriber may not read, see ``Authorizer.blind_filter``), its ``owner`` argument, and its
authorization (``authorizer.can_read(model, record, identity)``); custom subscriptions filter by
equality on each argument given (AppSync's basic filtering).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import orjson
from graphql import OperationType

from cove.schema.model import Model
from cove.schema.naming import mutation_field, subscription_field
from cove.wire.filters import FilterError, compile_filter

from ..authorization import HiddenField
from ..errors import FieldError
from ..engine import Engine, Plan, PlanError
from .protocol import appsync_error

if TYPE_CHECKING:  # pragma: no cover
    from ..identity import Identity

__all__ = ["PlannedSubscription", "StartError", "StartRequest", "Subscription", "SubscriptionTargets",
           "plan_subscription", "read_start", "viewer_key"]

Predicate = Callable[[Any], bool]


class StartError(Exception):
    """A start that cannot become a subscription; `errors` go back in its ``error`` message."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("message") if errors else "start failed")
        self.errors = errors


class Subscriber(Protocol):
    """The connection a subscription delivers to."""

    def enqueue(self, data: bytes) -> None: ...
    def end_subscription(self, sub: Subscription, error: dict[str, Any]) -> None: ...


def viewer_key(identity: Identity) -> tuple[Any, ...]:
    """Identities with equal keys get equal renderings of any record, so subscribers share them: every
    input of an authorization decision (mode, IAM kind, deniedFields, claims) is in the key."""
    claims = b""
    if identity.claims:
        claims = orjson.dumps(identity.claims, option=orjson.OPT_SORT_KEYS, default=str)
    return (identity.mode, identity.iam_kind, identity.denied_fields, claims)


class Subscription:
    __slots__ = ("id", "frame_head", "conn", "fields", "key", "plan", "variables", "identity", "viewer",
                 "predicates", "reader", "credential", "expiry_timer")

    def __init__(self, sub_id: str, conn: Subscriber, planned: PlannedSubscription, identity: Identity,
                 credential: Any) -> None:
        self.id = sub_id
        self.frame_head = b'{"id":' + orjson.dumps(sub_id) + b',"type":"data","payload":'
        self.conn = conn
        self.fields = planned.follows          # mutation fields this subscription listens to
        self.key = planned.key                 # response key of the root field (its alias, if any)
        self.plan = planned.plan               # the subscriber's selection; each event is rendered with it
        self.variables = planned.variables     # coerced, for arguments inside the selection
        self.identity = identity               # each event is rendered with the subscriber's rights
        self.viewer = viewer_key(identity)
        self.predicates = planned.predicates   # the filter, the owner argument, custom-subscription arguments
        self.reader = planned.reader           # per-record authorization
        self.credential = credential           # re-checked per event when revocable (an API key)
        self.expiry_timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A start's GraphQL request, the body its own auth signs, and its auth headers (None: the
    connection's)."""

    request: dict[str, Any]
    body: bytes
    auth_headers: dict[str, str] | None


def read_start(payload: Any) -> StartRequest:
    """Check a start message's ``payload`` (raise StartError)."""
    if not isinstance(payload, dict):
        raise StartError([appsync_error("BadRequestException", "A start message needs a 'payload' object")])
    data = payload.get("data")
    if isinstance(data, str):
        body = data.encode()
        try:
            request = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StartError([appsync_error("BadRequestException", "payload.data is not valid JSON")]) from None
    elif isinstance(data, dict):
        request, body = data, orjson.dumps(data)
    else:
        raise StartError([appsync_error("BadRequestException",
                                        "payload.data must be a JSON string of {query, variables}")])
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        raise StartError([appsync_error("BadRequestException", "payload.data has no 'query' string")])
    variables = request.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise StartError([appsync_error("BadRequestException", "'variables' must be a JSON object")])
    extensions = payload.get("extensions")
    auth = extensions.get("authorization") if isinstance(extensions, dict) else None
    headers = None
    if isinstance(auth, dict) and auth:
        headers = {str(k).lower(): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in auth.items()}
    return StartRequest(request, body, headers)


class Target(NamedTuple):
    model: Model | None           # the model its events carry, if any
    follows: tuple[str, ...]      # the mutation fields it listens to
    custom: Any                   # the custom subscription, or None for onCreate/onUpdate/onDelete


class SubscriptionTargets:
    """Subscription field -> :class:`Target`, for the engine's current schema (rebuilt when it changes)."""

    def __init__(self) -> None:
        self._for: tuple[Engine, dict[str, Target]] | None = None

    def get(self, engine: Engine, field: str) -> Target | None:
        if self._for is None or self._for[0] is not engine:
            self._for = (engine, self._build(engine))
        return self._for[1].get(field)

    @staticmethod
    def _build(engine: Engine) -> dict[str, Target]:
        table: dict[str, Target] = {}
        schema = engine.schema
        for model in schema.models.values():
            for op in ("create", "update", "delete"):
                table[subscription_field(op, model)] = Target(model, (mutation_field(op, model),), None)
        for custom in schema.subscriptions.values():
            returns = custom.returns
            target = None
            if returns is not None and returns.type.kind == "model":
                target = schema.models.get(returns.type.name)
            table[custom.name] = Target(target, tuple(custom.subscribes_to), custom)
        return table


@dataclass(frozen=True, slots=True)
class PlannedSubscription:
    key: str
    plan: Plan | None
    variables: Any
    follows: tuple[str, ...]
    predicates: list[Predicate]
    reader: Predicate | None


async def plan_subscription(engine: Engine, targets: SubscriptionTargets, request: dict[str, Any],
                            identity: Identity) -> PlannedSubscription:
    """Plan a start's request for `identity` (raise StartError): its selection, and which events and
    records it may receive."""
    query = request["query"]
    prepared = await engine.prepare_async(query)  # a new document is validated off the loop
    try:
        planned = engine.plan_request(query, request.get("variables"), request.get("operationName"), prepared)
    except PlanError as exc:
        raise StartError([{**e, "errorType": e.get("errorType") or "ValidationError"} for e in exc.errors]) from None
    plan = planned.plan
    if plan.kind != OperationType.SUBSCRIPTION:
        raise StartError([appsync_error("UnsupportedOperation", "Only subscriptions are served over the real-time "
                                        "endpoint; send queries and mutations with POST to the GraphQL URL")])
    if len(plan.root_fields) != 1 or plan.introspection is not None:
        raise StartError([appsync_error("ValidationError", "A subscription selects exactly one root field")])
    rf = plan.root_fields[0]
    target = targets.get(engine, rf.name)
    if target is None:
        raise StartError([appsync_error("UnsupportedOperation", f"{rf.name} is not a subscription Cove serves")])
    try:
        args = engine.arguments(rf, planned.variables, identity)
    except FieldError as exc:
        raise StartError([appsync_error("BadRequestException", exc.message)]) from None

    # Authorization: the operation now, each record per event.
    unauthorized = StartError([appsync_error("Unauthorized", f"Not Authorized to access {rf.name} on type "
                                                             "Subscription")])
    if engine.authorizer.operation_denied("Subscription", rf.name, identity):
        raise unauthorized
    reader = _reader(engine, target, identity, unauthorized)
    if target.custom is None:
        assert target.model is not None
        predicates = _model_predicates(engine, target.model, args, identity)
    else:
        # AppSync's basic filtering: each argument given must equal the payload's field.
        predicates = [_equals_predicate(name, value) for name, value in args.items() if value is not None]
    return PlannedSubscription(rf.key, rf.plan, planned.variables, target.follows, predicates, reader)


def _model_predicates(engine: Engine, model: Model, args: dict[str, Any], identity: Identity) -> list[Predicate]:
    predicates: list[Predicate] = []
    list_fields = frozenset(f.name for f in model.fields.values() if f.is_array)
    try:
        flt = engine.authorizer.blind_filter(model, args.get("filter"), identity)
    except HiddenField as exc:  # a filter must not test what the subscriber may not read
        raise StartError([appsync_error("Unauthorized", str(exc))]) from None
    if flt:
        try:
            predicates.append(compile_filter(flt, list_fields))
        except FilterError as exc:
            raise StartError([appsync_error("InvalidFilterInput", str(exc))]) from None
    owner_fields = {r.owner_field for r in model.rules if r.strategy == "owner" and r.owner_field}
    for name in owner_fields:
        value = args.get(name)
        if value is not None:
            predicates.append(_owner_predicate(name, value))
    return predicates


def _reader(engine: Engine, target: Target, identity: Identity, unauthorized: StartError) -> Predicate | None:
    """Raise `unauthorized` when `identity` may not subscribe at all; else return the per-record check
    (None: every record is readable)."""
    authorizer = engine.authorizer
    model = target.model
    if target.custom is not None:
        if not authorizer.check_rules(target.custom.rules, "read", identity):
            raise unauthorized
        if model is None:
            return None
        return lambda record: bool(authorizer.can_read(model, record, identity))
    assert model is not None
    decision = authorizer.check_operation(model, "listen", identity)
    if not decision.allowed:
        raise unauthorized
    if decision.row_filter is None:
        return None  # a static rule allows every record: nothing to check per event
    return lambda record: bool(authorizer.can_read(model, record, identity))


def _owner_predicate(name: str, value: Any) -> Predicate:
    """AppSync's ``owner`` argument: the record's owner field holds ``value`` (a stored owner may be
    ``sub::username``; either part matches; list owner fields match on any element)."""
    wanted = str(value)

    def one(v: Any) -> bool:
        return isinstance(v, str) and (v == wanted or wanted in v.split("::"))

    def test(record: Any) -> bool:
        v = record.get(name) if isinstance(record, dict) else None
        if isinstance(v, list):
            return any(one(x) for x in v)
        return one(v)

    return test


def _equals_predicate(name: str, value: Any) -> Predicate:
    return lambda tree: isinstance(tree, dict) and tree.get(name) == value
