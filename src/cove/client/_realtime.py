"""Real-time (AppSync's GraphQL-over-WebSocket protocol): everything the sync and async clients share.

This module is I/O-free: the URL, the handshake (auth in a ``header-`` subprotocol, as aws-amplify
>= 6.6 sends it), the frames, the backoff, the connection states, the subscription documents and
how a ``data`` payload becomes what a subscription yields. ``_realtime_sync.py`` runs a socket in
a background thread; ``_realtime_async.py`` runs it in a task. Both follow aws-amplify's client:

- one socket per real-time endpoint, shared by every subscription, closed ``linger`` seconds after
  the last one stops;
- a keep-alive watchdog: no ``ka`` or ``data`` for ``connectionTimeoutMs`` (from the server's
  ``connection_ack``) means the connection is dead;
- reconnection with jittered exponential backoff, re-starting every live subscription with fresh
  credentials; a ``connection_error`` that is an authorization or request problem is final;
- a subscription whose credentials expire (an ``error`` with an Unauthorized type after it was
  acknowledged) makes the client reconnect with fresh credentials, once.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit

import orjson

from cove.wire.realtime import SUBPROTOCOL, encode_header

from ._auth import AuthRequest
from ._documents import _selection_string, print_document
from ._http import USER_AGENT, json_default
from ._records import GraphQLError, Result
from .errors import CoveError

if TYPE_CHECKING:  # pragma: no cover
    from ._base import BaseClient
    from ._operations import ModelOps
    from ._options import RequestInfo, RequestOptions, Resolved

T = TypeVar("T")
log = logging.getLogger("cove.client.realtime")

#: The headers aws-amplify signs for IAM real-time requests (connection and start).
_IAM_HEADERS = {"accept": "application/json, text/javascript", "content-encoding": "amz-1.0",
                "content-type": "application/json; charset=UTF-8"}
_APPSYNC_HOST = ("appsync-api", "appsync-realtime-api")
_NON_RETRYABLE_TYPES = frozenset({"BadRequestException", "UnauthorizedException"})
_AUTH_ERROR_TYPES = frozenset({"UnauthorizedException", "Unauthorized", "NotAuthorizedException"})


class ConnectionState(StrEnum):
    """A real-time connection's state, named as aws-amplify names them (its Hub ``api`` channel)."""

    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    #: Connected, but no keep-alive for longer than expected: the connection may be dead.
    CONNECTED_PENDING_KEEP_ALIVE = "ConnectedPendingKeepAlive"
    #: The last subscription stopped; the socket closes after ``linger`` seconds.
    CONNECTED_PENDING_DISCONNECT = "ConnectedPendingDisconnect"
    #: The connection broke; the client is reconnecting (with backoff).
    CONNECTION_DISRUPTED = "ConnectionDisrupted"
    DISCONNECTED = "Disconnected"


StateListener = Callable[[ConnectionState, str], None]


@dataclass
class RealtimeOptions:
    """Timers of the real-time client (``client.realtime.options``); aws-amplify's defaults."""

    #: Seconds to open the socket and get ``connection_ack``, and to get a ``start_ack``.
    ack_timeout: float = 15.0
    #: Seconds without a ``ka`` before the state becomes ``ConnectedPendingKeepAlive``.
    keepalive_warning: float = 65.0
    #: First reconnect delay (seconds); it doubles per failed attempt, with jitter, up to ``max_backoff``.
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    #: Seconds the socket stays open after its last subscription stops.
    linger: float = 1.0


class _ProtocolState(Protocol):
    @property
    def state(self) -> ConnectionState: ...

    @property
    def last_error(self) -> str | None: ...


class _Socket(Protocol):
    @property
    def protocol(self) -> _ProtocolState: ...


SocketT = TypeVar("SocketT", bound=_Socket)


class RealtimeBase(Generic[SocketT]):
    """What ``client.realtime`` is on both clients: the timers, one socket per real-time URL, and the
    connection-state listeners. ``SyncRealtime`` and ``AsyncRealtime`` add subscribing and closing."""

    def __init__(self, client: BaseClient, verify: ssl.SSLContext | str | bool) -> None:
        self._client = client
        self.verify = verify
        self.options = RealtimeOptions()
        self._sockets: dict[str, SocketT] = {}
        self._listeners: list[StateListener] = []

    def state(self, url: str | None = None) -> ConnectionState:
        """The connection state of the configured endpoint's socket (or of ``url``'s)."""
        endpoint = self._client._endpoint
        key = url or realtime_url(self._client._config.url if endpoint is None else endpoint)
        socket = self._sockets.get(key)
        return socket.protocol.state if socket is not None else ConnectionState.DISCONNECTED

    def add_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener(state, url)`` on every connection state change (from the socket's
        thread or task); returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, state: ConnectionState, url: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(state, url)
            except Exception:
                log.exception("a connection state listener raised")

    def _unacknowledged(self, socket: SocketT) -> SubscriptionError:
        last_error = socket.protocol.last_error
        detail = f" (last error: {last_error})" if last_error else ""
        return SubscriptionError(f"the subscription was not acknowledged within {self.options.ack_timeout} s"
                                 + detail)


class SubscriptionError(CoveError):
    """A subscription failed: the server refused it (``error``), the connection was refused
    (``connection_error``), or it could not be established. ``errors`` holds the server's errors."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, Any]] = ()) -> None:
        self.errors = [GraphQLError(e) for e in errors]
        detail = "; ".join(f"{e.error_type + ': ' if e.error_type else ''}{e.message}" for e in self.errors)
        super().__init__(f"{message}: {detail}" if detail else message)


class SubscriptionClosed(SubscriptionError):
    """Raised by ``receive()`` on a subscription that was stopped."""


# -- URLs, handshake, frames --------------------------------------------------------------------


def realtime_url(graphql_url: str) -> str:
    """aws-amplify's rule: an AppSync domain gets ``appsync-realtime-api``; any other host gets
    ``<graphql url>/realtime``. ``https`` becomes ``wss``; ``http`` becomes ``ws`` (aws-amplify
    always uses ``wss``; Cove's client also talks to a plain-HTTP sandbox)."""
    parts = urlsplit(graphql_url)
    host = parts.netloc
    if host.endswith(".amazonaws.com") and ".appsync-api." in host and parts.path.rstrip("/") == "/graphql":
        return f"wss://{host.replace(*_APPSYNC_HOST)}/graphql"
    scheme = "ws" if parts.scheme == "http" else "wss"
    return f"{scheme}://{host}{parts.path.rstrip('/')}/realtime"


def amz_date() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def new_id() -> str:
    return str(uuid.uuid4())


CONNECTION_INIT = '{"type":"connection_init"}'


def start_frame(sub_id: str, payload: Mapping[str, Any]) -> str:
    return orjson.dumps({"id": sub_id, "type": "start", "payload": payload}).decode()


def stop_frame(sub_id: str) -> str:
    return orjson.dumps({"id": sub_id, "type": "stop"}).decode()


def parse_frame(text: str | bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def frame_errors(frame: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    payload = frame.get("payload")
    errors = payload.get("errors") if isinstance(payload, Mapping) else None
    if isinstance(errors, list):
        return [e if isinstance(e, Mapping) else {"message": str(e)} for e in errors]
    if isinstance(payload, Mapping) and payload.get("message"):
        return [payload]
    return [{"message": f"the server sent {frame.get('type')!r} without details"}]


def is_fatal(errors: Sequence[Mapping[str, Any]]) -> bool:
    """aws-amplify's rule: a ``connection_error`` with code 400/401/403, or a BadRequest/Unauthorized
    type, is not retried."""
    for e in errors:
        if e.get("errorCode") in (400, 401, 403) or e.get("errorType") in _NON_RETRYABLE_TYPES:
            return True
    return False


def is_auth_error(errors: Sequence[Mapping[str, Any]]) -> bool:
    for e in errors:
        message = str(e.get("message") or "")
        if e.get("errorType") in _AUTH_ERROR_TYPES or "Token expired" in message or "Token has expired" in message:
            return True
    return False


def backoff(attempt: int, options: RealtimeOptions, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: between half and all of ``initial * 2**attempt``, capped."""
    ceiling = min(options.max_backoff, options.initial_backoff * (2.0 ** min(attempt, 20)))
    return float(ceiling * (0.5 + 0.5 * rand()))


def ssl_context(verify: ssl.SSLContext | str | bool, config: Any) -> ssl.SSLContext | str | bool:
    """The TLS settings for httpx and the WebSocket. By default the system's CAs are trusted, plus
    the local CA that ``cove sandbox --tls`` names in the outputs file (``custom.cove.ca_file``)."""
    if verify is not True:
        return verify
    outputs = getattr(config, "outputs", None) or {}
    custom = outputs.get("custom") if isinstance(outputs, Mapping) else None
    cove = custom.get("cove") if isinstance(custom, Mapping) else None
    ca_file = cove.get("ca_file") if isinstance(cove, Mapping) else None
    url = getattr(config, "url", "") or ""
    if isinstance(ca_file, str) and url.startswith("https://") and Path(ca_file).is_file():
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cafile=ca_file)
        return ctx
    return True


def websocket_ssl(url: str, verify: ssl.SSLContext | str | bool) -> ssl.SSLContext | None:
    if not url.startswith("wss://"):
        return None
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()


# -- subscription requests ------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionRequest(Generic[T]):
    """What to subscribe to: the document, its variables, the request options, and how a ``data``
    payload becomes the value the subscription yields."""

    document: str
    variables: Mapping[str, Any]
    options: RequestOptions
    shape: Callable[[Mapping[str, Any]], T]


@dataclass(frozen=True)
class RealtimeCall:
    """A subscription request with its options resolved (duck-types ``_operations.Call`` for headers)."""

    resolved: Resolved
    data: str                 # the start payload's ``data``: JSON of {query, variables}
    url: str                  # the real-time URL (no query string)
    host: str                 # the GraphQL host (``host`` in the auth JSON)
    info: RequestInfo


@dataclass(frozen=True)
class Prepared:
    """One subscription's handshake material: how to open the socket if it is the first, and its start."""

    url: str                          # with the custom headers as query parameters
    subprotocols: tuple[str, ...]
    start_payload: Mapping[str, Any]


def begin(client: BaseClient, request: SubscriptionRequest[Any]) -> RealtimeCall:
    resolved = client._resolve(request.options)
    data = orjson.dumps({"query": request.document, "variables": dict(request.variables)},
                        default=json_default).decode()
    info: RequestInfo = {"method": "POST", "url": resolved.url, "headers": {}, "query_string": request.document,
                         "queryString": request.document}
    return RealtimeCall(resolved=resolved, data=data, url=realtime_url(resolved.url),
                        host=urlsplit(resolved.url).netloc, info=info)


def auth_requests(client: BaseClient, call: RealtimeCall, custom: Mapping[str, str]) -> tuple[AuthRequest, AuthRequest]:
    """(connection, start) requests for the auth provider: the connection is signed as ``POST
    <graphql url>/connect`` with body ``{}``, the start as ``POST <graphql url>`` with the data."""
    r = call.resolved
    headers = dict(_IAM_HEADERS)
    for k, v in custom.items():
        if k.lower() != "authorization":
            headers[k] = v
    connect = AuthRequest(mode=r.mode, method="POST", url=r.url.rstrip("/") + "/connect", headers=dict(_IAM_HEADERS),
                          body=b"{}", auth_token=r.auth_token, api_key=r.api_key, config=client._config)
    start = AuthRequest(mode=r.mode, method="POST", url=r.url, headers=headers, body=call.data.encode(),
                        auth_token=r.auth_token, api_key=r.api_key, config=client._config)
    return connect, start


def prepared(call: RealtimeCall, connect_auth: Mapping[str, str], start_auth: Mapping[str, str],
             custom: Mapping[str, str]) -> Prepared:
    mode = call.resolved.mode

    def auth_json(auth: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        if mode == "iam":
            out.update(_IAM_HEADERS)
        out["host"] = call.host
        if mode == "api_key":
            out["x-amz-date"] = amz_date()
        for k, v in auth.items():
            out["Authorization" if k.lower() == "authorization" and mode != "iam" else k] = v
        if call.resolved.auth_token:
            for k in [k for k in out if k.lower() == "authorization"]:
                del out[k]
            out["Authorization"] = call.resolved.auth_token
        return out

    connection = auth_json(connect_auth)
    start = auth_json(start_auth)
    for k, v in custom.items():
        start[k] = v
    start["x-amz-user-agent"] = USER_AGENT
    extra = {k: v for k, v in custom.items() if k.lower() != "authorization"}
    url = call.url + ("?" + urlencode(extra) if extra else "")
    return Prepared(url=url, subprotocols=(SUBPROTOCOL, "header-" + encode_header(connection)),
                    start_payload={"data": call.data, "extensions": {"authorization": start}})


# -- documents and shapes -------------------------------------------------------------------------

#: Model subscription events, as the client methods name them.
EVENTS = {"create": "onCreate", "update": "onUpdate", "delete": "onDelete"}


def model_subscription_document(ops: ModelOps[Any], event: str, selection_set: Sequence[str] | None) -> str:
    """``subscription ($filter: ModelSubscriptionTodoFilterInput) { onCreateTodo(filter: $filter)
    { <selection> } }``, exactly as aws-amplify prints it (the ``owner`` argument is never sent)."""
    if isinstance(selection_set, str):
        raise TypeError("selection_set must be a list of field paths, e.g. ['id', 'content']")
    model = ops.model
    sel = _selection_string(ops.operations.documents.selection(model, selection_set))
    name = model.name[:1].upper() + model.name[1:]
    return print_document(f"subscription($filter: ModelSubscription{name}FilterInput) "
                          f"{{ {EVENTS[event]}{name}(filter: $filter) {{ {sel} }} }}")


def subscription_variables(filter: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"filter": dict(filter)} if filter else {}


def raw_shape(payload: Mapping[str, Any]) -> Result[Any]:
    """``client.graphql(subscription)`` yields each payload as a Result."""
    errors = payload.get("errors")
    return Result(data=payload.get("data"),
                  errors=[GraphQLError(e if isinstance(e, Mapping) else str(e)) for e in errors]
                  if isinstance(errors, list) else [],
                  extensions=payload.get("extensions"))


class EventError(SubscriptionError):
    """A ``data`` message without a record, only errors (e.g. the subscription selects a required
    field the mutation did not): raised by the iterator, which stays usable."""


def model_shape(ops: ModelOps[Any], selection_set: Sequence[str] | None,
                options: RequestOptions) -> Callable[[Mapping[str, Any]], Any]:
    """Model subscriptions yield the record (aws-amplify unwraps ``payload.data[<root field>]``);
    records read with the default selection set get lazy loaders, as from ``get``."""
    def shape(payload: Mapping[str, Any]) -> Any:
        data = payload.get("data")
        errors = payload.get("errors")
        raw = next(iter(data.values()), None) if isinstance(data, Mapping) and data else None
        if not isinstance(raw, Mapping):
            raise EventError("the event carries no record", errors if isinstance(errors, list) else ())
        return ops.record(raw, selection_set is None, options, partial=bool(errors))
    return shape


def model_subscription(ops: ModelOps[Any], event: str, filter: Mapping[str, Any] | None,
                       selection_set: Sequence[str] | None, options: RequestOptions) -> SubscriptionRequest[Any]:
    """``client.models.<Model>.on_<event>(...)``: the request its subscription starts with."""
    return SubscriptionRequest(model_subscription_document(ops, event, selection_set),
                               subscription_variables(filter), options, model_shape(ops, selection_set, options))


def raw_subscription(query: str, variables: Mapping[str, Any] | None,
                     options: RequestOptions) -> SubscriptionRequest[Result[Any]] | None:
    """The subscription ``client.graphql(query)`` starts, or None when ``query`` is not one."""
    from ._documents import prepare_raw_document

    if not isinstance(query, str):
        return None
    document, is_subscription = prepare_raw_document(query)
    if not is_subscription:
        return None
    return SubscriptionRequest(document, dict(variables or {}), options, raw_shape)
