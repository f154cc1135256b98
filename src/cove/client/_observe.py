"""``observe_query``: a live, synced view of a model's records (aws-amplify's observeQuery, improved).

aws-amplify's algorithm (reference section 1.8), which this follows: subscribe to onCreate,
onUpdate and onDelete first (queueing their events), page through ``list`` emitting a snapshot per
page (``is_synced`` false until the last page), apply the queued events, then apply each live
event and emit a snapshot. Records are matched by their identifier (primary key + sort keys).

Where aws-amplify is weak, this does better:

- after a reconnect (every subscription re-started on a new socket) it re-lists, so a change made
  while the socket was down is not missed; the re-list replaces the items in one snapshot;
- the filter is also evaluated on the client: an update that makes a record stop matching removes
  it, one that makes a record start matching adds it (``onUpdate`` is subscribed without the filter
  for that), and filters that subscriptions cannot express (``not``, ``attributeExists``, ``size``)
  work too;
- an event older than the item it would replace (by ``updatedAt``) is ignored, so a queued event
  cannot undo what a later page returned;
- ``sort_by`` keeps the items in order; each snapshot's ``items`` is a new list;
- pages default to 1,000 records (the server's maximum) instead of 100.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

from cove.wire.filters import compile_filter

from ._realtime import (
    EventError,
    SubscriptionError,
    SubscriptionRequest,
    model_shape,
    model_subscription_document,
    subscription_variables,
)
from ._records import Result
from .errors import GraphQLResponseError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Awaitable

    from ._operations import ModelOps
    from ._options import RequestOptions
    from ._schema import ModelInfo

RecordT = TypeVar("RecordT")

DEFAULT_PAGE_SIZE = 1000
_SUBSCRIPTION_UNSUPPORTED = frozenset({"not", "attributeExists", "attributeType", "size"})
_EVENTS = ("create", "update", "delete")


@dataclass(frozen=True)
class Snapshot(Generic[RecordT]):
    """One state of an observed query: the matching records, and whether the initial (or
    post-reconnect) listing is complete."""

    items: list[RecordT]
    is_synced: bool


SortBy = str | Callable[[Any], Any]


class Lister(Protocol):
    """Lists one page of the observed model: the model client's ``list`` (sync)."""

    def __call__(self, *, filter: Mapping[str, Any] | None, limit: int | None, next_token: str | None,
                 selection_set: Sequence[str] | None, **options: Any) -> Result[list[Any]]: ...


class AsyncLister(Protocol):
    """Lists one page of the observed model: the async model client's ``list``."""

    def __call__(self, *, filter: Mapping[str, Any] | None, limit: int | None, next_token: str | None,
                 selection_set: Sequence[str] | None, **options: Any) -> Awaitable[Result[list[Any]]]: ...


class Subscriber(Protocol):
    """Starts a subscription whose events go to ``sink`` tagged ``tag`` (``client.realtime.subscribe``)."""

    def __call__(self, request: SubscriptionRequest[Any], *, sink: queue.Queue[Any], tag: str) -> Any: ...


class AsyncSubscriber(Protocol):
    """Makes a (not yet started) subscription whose events go to ``sink`` (``aclient.realtime.subscription``)."""

    def __call__(self, request: SubscriptionRequest[Any], *, sink: asyncio.Queue[Any], tag: str) -> Any: ...


def _options_keywords(options: RequestOptions) -> dict[str, Any]:
    """The request options as the model client's keywords (each may be USE_CLIENT_DEFAULT)."""
    return {"auth_mode": options.auth_mode, "auth_token": options.auth_token, "api_key": options.api_key,
            "headers": options.headers, "endpoint": options.endpoint}


class ObserveState(Generic[RecordT]):
    """The I/O-free merge logic shared by the sync and async observers."""

    def __init__(self, model: ModelInfo, filter: Mapping[str, Any] | None, sort_by: SortBy | None,
                 descending: bool) -> None:
        self.identifier = model.identifier
        list_fields = frozenset(f.name for f in model.fields.values() if f.is_array)
        self.predicate = compile_filter(dict(filter), list_fields) if filter else None
        if isinstance(sort_by, str):
            name = sort_by
            self.sort_key: Callable[[Any], Any] | None = lambda r: _sortable(Mapping.get(r, name))
        else:
            self.sort_key = sort_by
        self.descending = descending
        self.items: dict[tuple[Any, ...], tuple[Mapping[str, Any], RecordT]] = {}

    def key(self, raw: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(raw.get(k) for k in self.identifier)

    def matches(self, raw: Mapping[str, Any]) -> bool:
        return self.predicate is None or self.predicate(raw)

    def add_page(self, records: Sequence[tuple[Mapping[str, Any], RecordT]]) -> None:
        for raw, record in records:
            self.items[self.key(raw)] = (raw, record)

    def apply(self, event: str, raw: Mapping[str, Any], record: RecordT) -> bool:
        """Merge one event; True when the items changed."""
        key = self.key(raw)
        current = self.items.get(key)
        if event == "delete":
            if current is None:
                return False
            del self.items[key]
            return True
        if current is not None and _older(raw, current[0]):
            return False
        if not self.matches(raw):
            if current is None:
                return False
            del self.items[key]  # it no longer matches the filter
            return True
        self.items[key] = (raw, record)
        return True

    def emptied(self) -> ObserveState[RecordT]:
        """A state with this one's settings and no items (a re-list fills it)."""
        fresh: ObserveState[RecordT] = object.__new__(ObserveState)
        fresh.__dict__.update(self.__dict__)
        fresh.items = {}
        return fresh

    def snapshot(self, is_synced: bool) -> Snapshot[RecordT]:
        records = [record for _, record in self.items.values()]
        if self.sort_key is not None:
            records.sort(key=self.sort_key, reverse=self.descending)
        return Snapshot(records, is_synced)


def _older(new: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    a, b = Mapping.get(new, "updatedAt"), Mapping.get(current, "updatedAt")
    return isinstance(a, str) and isinstance(b, str) and a < b


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def subscription_filter(model: ModelInfo, filter: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The filter to send with onCreate/onDelete: the list filter when subscriptions can express
    it, else none (the client filters)."""
    if not filter:
        return None

    def ok(node: Any) -> bool:
        if isinstance(node, list):
            return all(ok(n) for n in node)
        if not isinstance(node, Mapping):
            return True
        for k, v in node.items():
            if k in _SUBSCRIPTION_UNSUPPORTED or k in model.owner_fields:
                return False
            if not ok(v):
                return False
        return True

    return filter if ok(filter) else None


def _requests(ops: ModelOps[Any], filter: Mapping[str, Any] | None, selection_set: Sequence[str] | None,
              options: RequestOptions) -> list[tuple[str, SubscriptionRequest[Any]]]:
    model = ops.model
    shape = model_shape(ops, selection_set, options)

    def pair(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], Any]:
        data = payload.get("data")
        raw = next(iter(data.values()), None) if isinstance(data, Mapping) and data else None
        return raw if isinstance(raw, Mapping) else {}, shape(payload)

    server_filter = subscription_filter(model, filter)
    out = []
    for event in _EVENTS:
        if not model.enabled("on" + event.capitalize()):
            continue
        # onUpdate unfiltered: an update that makes a record stop (or start) matching must be seen.
        variables = subscription_variables(None if event == "update" else server_filter)
        document = model_subscription_document(ops, event, selection_set)
        out.append((event, SubscriptionRequest(document, variables, options, pair)))
    return out


class _Merger(Generic[RecordT]):
    """Turns the subscriptions' queue items into state changes (shared by both observers)."""

    def __init__(self, state: ObserveState[RecordT], requests: list[tuple[str, SubscriptionRequest[Any]]]) -> None:
        self.state = state
        self.shapes = {tag: request.shape for tag, request in requests}
        self.tags = frozenset(self.shapes)
        self.resubscribed: dict[Any, set[str]] = {}

    def handle(self, tag: str, kind: str, value: Any) -> str | None:
        """None (nothing changed), "changed", "resync" (every subscription is back on a new socket:
        re-list), or "end" (unsubscribed)."""
        if kind == "data":
            try:
                raw, record = self.shapes[tag](value)
            except EventError:
                return None  # an event without a record (its errors are the server's to log)
            return "changed" if raw and self.state.apply(tag, raw, record) else None
        if kind == "resubscribed":
            back = self.resubscribed.setdefault(value, set())
            back.add(tag)
            if back >= self.tags:
                del self.resubscribed[value]
                return "resync"
            return None
        if kind == "error":
            raise SubscriptionError(f"observe_query: the on{tag.capitalize()} subscription ended", value)
        if kind == "end":
            return "end"
        return None


# -- sync -----------------------------------------------------------------------------------------


class ObserveQuery(Generic[RecordT]):
    """``client.models.Todo.observe_query(...)``: an iterator of :class:`Snapshot`, and a context
    manager that stops its subscriptions. Nothing is sent until the first snapshot is asked for;
    then the three subscriptions are acknowledged before the first page is listed."""

    def __init__(self, ops: ModelOps[Any], list_page: Lister, subscribe: Subscriber,
                 filter: Mapping[str, Any] | None, selection_set: Sequence[str] | None,
                 sort_by: SortBy | None, descending: bool, page_size: int | None, options: RequestOptions) -> None:
        self._ops = ops
        self._list_page = list_page
        self._subscribe = subscribe
        self._filter = filter
        self._selection_set = selection_set
        self._options = options
        self._page_size = page_size or DEFAULT_PAGE_SIZE
        self._state: ObserveState[RecordT] = ObserveState(ops.model, filter, sort_by, descending)
        self._events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
        self._subs: list[Any] = []
        self._gen: Iterator[Snapshot[RecordT]] | None = None
        self._closed = False

    def __iter__(self) -> Iterator[Snapshot[RecordT]]:
        return self

    def __next__(self) -> Snapshot[RecordT]:
        if self._closed:
            raise StopIteration
        if self._gen is None:
            self._gen = self._run()
        return next(self._gen)

    def _list_all(self, state: ObserveState[RecordT], emit: bool) -> Iterator[Snapshot[RecordT]]:
        token: str | None = None
        while True:
            page = self._list_page(filter=self._filter, limit=self._page_size, next_token=token,
                                   selection_set=self._selection_set, **_options_keywords(self._options))
            if page.errors:
                raise GraphQLResponseError(page.errors, page)
            state.add_page([(r, r) for r in page.data])  # a Record is a Mapping: filters read it
            token = page.next_token
            if token is None:
                return
            if emit:
                yield state.snapshot(False)

    def _run(self) -> Iterator[Snapshot[RecordT]]:
        requests = _requests(self._ops, self._filter, self._selection_set, self._options)
        try:
            for event, request in requests:
                self._subs.append(self._subscribe(request, sink=self._events, tag=event))
        except BaseException:
            self.close()
            raise
        state = self._state
        merger: _Merger[RecordT] = _Merger(state, requests)
        yield from self._list_all(state, emit=True)
        if self._drain(merger):
            self._relist(state, merger)
        yield state.snapshot(True)
        while not self._closed:
            outcome = merger.handle(*self._events.get())
            if outcome == "end":
                return
            if outcome == "resync":
                self._relist(state, merger)
                yield state.snapshot(True)
            elif outcome == "changed":
                yield state.snapshot(True)

    def _relist(self, state: ObserveState[RecordT], merger: _Merger[RecordT]) -> None:
        """List everything again into a fresh state, then swap it in (again, if the socket
        reconnected meanwhile)."""
        while True:
            fresh = state.emptied()
            for _ in self._list_all(fresh, emit=False):
                pass
            state.items = fresh.items
            if not self._drain(merger):
                return

    def _drain(self, merger: _Merger[RecordT]) -> bool:
        """Apply what was queued while listing; True if a re-sync was requested meanwhile."""
        resync = False
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return resync
            resync = merger.handle(*item) == "resync" or resync

    def close(self) -> None:
        """Stop the subscriptions; iteration ends."""
        self._closed = True
        subs, self._subs = self._subs, []
        for sub in subs:
            sub.unsubscribe()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# -- async ----------------------------------------------------------------------------------------


class AsyncObserveQuery(Generic[RecordT]):
    """The async twin: ``async for snapshot in aclient.models.Todo.observe_query(...)``, and
    ``async with`` to stop its subscriptions."""

    def __init__(self, ops: ModelOps[Any], list_page: AsyncLister, subscribe: AsyncSubscriber,
                 filter: Mapping[str, Any] | None, selection_set: Sequence[str] | None,
                 sort_by: SortBy | None, descending: bool, page_size: int | None, options: RequestOptions) -> None:
        self._ops = ops
        self._list_page = list_page
        self._subscribe = subscribe
        self._filter = filter
        self._selection_set = selection_set
        self._options = options
        self._page_size = page_size or DEFAULT_PAGE_SIZE
        self._state: ObserveState[RecordT] = ObserveState(ops.model, filter, sort_by, descending)
        self._events: asyncio.Queue[tuple[str, str, Any]] | None = None
        self._subs: list[Any] = []
        self._gen: AsyncIterator[Snapshot[RecordT]] | None = None
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Snapshot[RecordT]:
        if self._closed:
            raise StopAsyncIteration
        if self._gen is None:
            self._gen = self._run()
        return await self._gen.__anext__()

    async def _list_all(self, state: ObserveState[RecordT], emit: bool) -> AsyncIterator[Snapshot[RecordT]]:
        token: str | None = None
        while True:
            page = await self._list_page(filter=self._filter, limit=self._page_size, next_token=token,
                                         selection_set=self._selection_set, **_options_keywords(self._options))
            if page.errors:
                raise GraphQLResponseError(page.errors, page)
            state.add_page([(r, r) for r in page.data])  # a Record is a Mapping: filters read it
            token = page.next_token
            if token is None:
                return
            if emit:
                yield state.snapshot(False)

    async def _run(self) -> AsyncIterator[Snapshot[RecordT]]:
        events: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()
        self._events = events
        requests = _requests(self._ops, self._filter, self._selection_set, self._options)
        self._subs = [self._subscribe(request, sink=events, tag=event) for event, request in requests]
        try:
            for sub in self._subs:
                await sub.start()
        except BaseException:
            await self.aclose()
            raise
        state = self._state
        merger: _Merger[RecordT] = _Merger(state, requests)
        async for snapshot in self._list_all(state, emit=True):
            yield snapshot
        if self._drain(merger):
            await self._relist(state, merger)
        yield state.snapshot(True)
        while not self._closed:
            outcome = merger.handle(*(await events.get()))
            if outcome == "end":
                return
            if outcome == "resync":
                await self._relist(state, merger)
                yield state.snapshot(True)
            elif outcome == "changed":
                yield state.snapshot(True)

    async def _relist(self, state: ObserveState[RecordT], merger: _Merger[RecordT]) -> None:
        while True:
            fresh = state.emptied()
            async for _ in self._list_all(fresh, emit=False):
                pass
            state.items = fresh.items
            if not self._drain(merger):
                return

    def _drain(self, merger: _Merger[RecordT]) -> bool:
        assert self._events is not None
        resync = False
        while not self._events.empty():
            resync = merger.handle(*self._events.get_nowait()) == "resync" or resync
        return resync

    async def aclose(self) -> None:
        """Stop the subscriptions; iteration ends."""
        self._closed = True
        subs, self._subs = self._subs, []
        for sub in subs:
            await sub.unsubscribe()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
