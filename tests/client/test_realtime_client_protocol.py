"""The client's real-time SocketProtocol, driven directly: frames in, decisions and state changes out."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from cove.client._realtime import ConnectionState, RealtimeOptions
from cove.client._realtime_protocol import ConnectionRefused, Phase, Reconnect, SocketProtocol


class FakeSub:
    def __init__(self, sub_id: str) -> None:
        self.id = sub_id
        self._acked = threading.Event()
        self.events: list[tuple[str, Any]] = []
        self.failed: list[Mapping[str, Any]] | None = None

    def _put(self, kind: str, value: Any) -> None:
        self.events.append((kind, value))

    def _fail(self, errors: list[Mapping[str, Any]]) -> None:
        self.failed = errors
        self._acked.set()


def latest(states: list[ConnectionState]) -> ConnectionState:
    return states[-1]


def frame(kind: str, sub_id: str | None = None, **payload: Any) -> str:
    out: dict[str, Any] = {"type": kind}
    if sub_id is not None:
        out["id"] = sub_id
    if payload:
        out["payload"] = payload
    return json.dumps(out)


def machine(**options: float) -> tuple[SocketProtocol[FakeSub], list[ConnectionState]]:
    states: list[ConnectionState] = []
    return SocketProtocol(RealtimeOptions(**options), states.append), states


def open_with(protocol: SocketProtocol[FakeSub], *subs: FakeSub, now: float = 0.0,
              timeout_ms: int = 300000) -> list[FakeSub]:
    for sub in subs:
        protocol.add(sub)
    protocol.connecting()
    assert protocol.handshake(frame("connection_ack", connectionTimeoutMs=timeout_ms))
    started = protocol.opened(now)
    protocol.connected()
    return started


def test_handshake_waits_for_the_ack_and_reads_the_timeout() -> None:
    protocol, states = machine()
    sub = FakeSub("a")
    assert protocol.add(sub) is False           # not open yet: its start waits for the connection
    assert protocol.next_connection() is sub
    protocol.connecting()
    assert protocol.phase is Phase.CONNECTING
    assert protocol.handshake("not json") is False
    assert protocol.handshake(frame("ka")) is False
    assert protocol.handshake(frame("connection_ack", connectionTimeoutMs=5000)) is True
    assert protocol.timeout == 5.0
    assert protocol.opened(10.0) == [sub]
    protocol.connected()
    assert protocol.is_open and protocol.generation == 1
    assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
    assert protocol.add(FakeSub("b")) is True   # open: a new subscription's start goes out at once


def test_connection_error_triage_during_the_handshake() -> None:
    protocol, _ = machine()
    protocol.add(FakeSub("a"))
    protocol.connecting()
    with pytest.raises(ConnectionRefused) as refused:
        protocol.handshake(frame("connection_error", errors=[{"errorType": "UnauthorizedException",
                                                             "message": "no"}]))
    assert refused.value.errors[0]["errorType"] == "UnauthorizedException"
    with pytest.raises(ConnectionError) as retried:
        protocol.handshake(frame("connection_error", errors=[{"errorCode": 500, "message": "busy"}]))
    assert not isinstance(retried.value, ConnectionRefused)


def test_a_final_connection_error_fails_every_subscription_and_stops() -> None:
    protocol, _ = machine()
    a, b = FakeSub("a"), FakeSub("b")
    open_with(protocol, a, b)
    with pytest.raises(ConnectionRefused) as refused:
        protocol.receive(frame("connection_error", errors=[{"errorCode": 401, "message": "bad key"}]), 1.0)
    protocol.disconnected()
    assert protocol.ended(refused.value) == 0.0
    assert a.failed == b.failed == [{"errorCode": 401, "message": "bad key"}]
    assert protocol.next_connection() is None


def test_data_and_acks_reach_their_subscription() -> None:
    protocol, _ = machine()
    a, b = FakeSub("a"), FakeSub("b")
    open_with(protocol, a, b)
    protocol.receive(frame("start_ack", "a"), 1.0)
    assert a._acked.is_set() and not b._acked.is_set()
    protocol.receive(frame("data", "a", data={"onCreateTodo": {"id": "1"}}), 1.0)
    protocol.receive(frame("data", "unknown", data={}), 1.0)        # a stopped subscription: ignored
    assert a.events == [("data", {"data": {"onCreateTodo": {"id": "1"}}})]
    assert b.events == []


def test_a_reconnect_restarts_subscriptions_and_reports_resubscribed() -> None:
    protocol, _ = machine()
    a = FakeSub("a")
    open_with(protocol, a)
    protocol.receive(frame("start_ack", "a"), 1.0)
    protocol.disconnected()
    assert not a._acked.is_set()                                  # waits for a new start_ack
    delay = protocol.ended(OSError("reset"))
    assert delay > 0 and protocol.last_error == "OSError: reset"
    assert protocol.state == ConnectionState.CONNECTION_DISRUPTED
    protocol.connecting()
    assert protocol.handshake(frame("connection_ack"))
    assert protocol.opened(5.0) == [a] and protocol.generation == 2
    protocol.receive(frame("start_ack", "a"), 5.0)
    assert a.events == [("resubscribed", 2)]
    assert protocol.ended(None) == 0.0 and protocol.attempt == 0


def test_backoff_grows_with_failed_attempts() -> None:
    protocol, _ = machine(initial_backoff=1.0, max_backoff=30.0)
    protocol.add(FakeSub("a"))
    for ceiling in (1.0, 2.0, 4.0, 8.0):
        assert ceiling / 2 <= protocol.ended(OSError("down")) <= ceiling
    assert protocol.attempt == 4


def test_expired_credentials_reconnect_once_then_fail() -> None:
    protocol, _ = machine()
    a = FakeSub("a")
    open_with(protocol, a)
    protocol.receive(frame("start_ack", "a"), 1.0)
    expired = frame("error", "a", errors=[{"errorType": "UnauthorizedException", "message": "Token has expired"}])
    with pytest.raises(Reconnect) as reconnect:
        protocol.receive(expired, 2.0)
    protocol.disconnected()
    assert protocol.ended(reconnect.value) == 0.0
    protocol.connecting()
    protocol.handshake(frame("connection_ack"))
    protocol.opened(3.0)
    protocol.receive(expired, 3.0)                 # not acknowledged on this connection yet: it fails
    assert a.failed is not None and a.failed[0]["message"] == "Token has expired"
    assert protocol.subs == {}


def test_a_refused_start_fails_only_that_subscription() -> None:
    protocol, _ = machine()
    a, b = FakeSub("a"), FakeSub("b")
    open_with(protocol, a, b)
    protocol.receive(frame("error", "b", errors=[{"errorType": "ValidationError", "message": "bad filter"}]), 1.0)
    assert b.failed == [{"errorType": "ValidationError", "message": "bad filter"}]
    assert list(protocol.subs) == ["a"] and a.failed is None


def test_keep_alive_watchdog() -> None:
    protocol, states = machine(keepalive_warning=10.0)
    open_with(protocol, FakeSub("a"), now=0.0, timeout_ms=30000)
    assert protocol.tick(5.0) is True
    assert protocol.tick(11.0) is True
    assert latest(states) == ConnectionState.CONNECTED_PENDING_KEEP_ALIVE
    protocol.receive(frame("ka"), 12.0)
    assert latest(states) == ConnectionState.CONNECTED
    with pytest.raises(TimeoutError):
        protocol.tick(43.0)


def test_idle_linger_closes_after_the_last_subscription_stops() -> None:
    protocol, states = machine(linger=1.0)
    a = FakeSub("a")
    open_with(protocol, a)
    assert protocol.remove(a, 10.0) is True         # live on an open socket: a stop goes out
    assert protocol.remove(a, 10.0) is False        # already gone
    assert protocol.tick(10.5) is True              # lingering
    assert protocol.tick(11.0) is False             # linger over: close
    assert latest(states) == ConnectionState.CONNECTED_PENDING_DISCONNECT
    protocol.disconnected()
    assert protocol.ended(None) == 0.0
    assert protocol.next_connection() is None       # nothing subscribed: the thread/task stops
    protocol.stopped()
    assert latest(states) == ConnectionState.DISCONNECTED


def test_a_subscription_added_while_lingering_keeps_the_socket() -> None:
    protocol, _ = machine(linger=1.0)
    a = FakeSub("a")
    open_with(protocol, a)
    protocol.remove(a, 10.0)
    assert protocol.add(FakeSub("b")) is True
    assert protocol.tick(20.0) is True


def test_shut_ends_everything_and_never_reconnects() -> None:
    protocol, _ = machine()
    a = FakeSub("a")
    open_with(protocol, a)
    assert protocol.shut() == [a]
    assert protocol.tick(1.0) is False
    protocol.disconnected()
    assert protocol.phase is Phase.SHUT
    assert protocol.ended(OSError("closed")) == 0.0
    assert protocol.next_connection() is None


def test_a_failing_handshake_drops_only_its_subscription() -> None:
    protocol, _ = machine()
    a, b = FakeSub("a"), FakeSub("b")
    protocol.add(a)
    protocol.add(b)
    protocol.drop(a, RuntimeError("no credentials"), 1.0)
    assert a.failed == [{"errorType": "RuntimeError", "message": "no credentials"}]
    assert protocol.next_connection() is b
