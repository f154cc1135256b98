"""The server's real-time protocol without I/O (cove.server.realtime.protocol): what each message,
timer and overflow turns into, including hostile input. The same protocol over real sockets is in
test_realtime_protocol.py."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from cove.server.realtime.protocol import (
    Close,
    ConnectionProtocol,
    Send,
    Start,
    State,
    Stop,
    handshake_headers,
)
from cove.server.realtime.settings import RealtimeLimits
from cove.wire.realtime import KA, HeaderError, encode_header


def frames(actions: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(a.data) for a in actions if isinstance(a, Send)]


def opened(**limits: Any) -> ConnectionProtocol:
    protocol = ConnectionProtocol(RealtimeLimits(**limits))
    protocol.receive('{"type":"connection_init"}')
    assert protocol.state is State.OPEN
    return protocol


def start(sub_id: Any, payload: Any = None) -> str:
    return orjson.dumps({"id": sub_id, "type": "start", "payload": payload or {"data": "{}"}}).decode()


def error_of(actions: list[Any]) -> tuple[str | None, str]:
    (frame,) = frames(actions)
    assert frame["type"] == "error", frame
    return frame.get("id"), frame["payload"]["errors"][0]["errorType"]


def test_init_is_acked_once_with_a_keepalive_then_only_acked() -> None:
    protocol = ConnectionProtocol(RealtimeLimits(connection_timeout_ms=1234))
    assert protocol.state is State.AWAITING_INIT
    actions = protocol.receive('{"type":"connection_init","payload":{}}')
    assert frames(actions) == [{"type": "connection_ack", "payload": {"connectionTimeoutMs": 1234}}, {"type": "ka"}]
    assert protocol.state is State.OPEN
    assert frames(protocol.receive('{"type":"connection_init"}')) == [
        {"type": "connection_ack", "payload": {"connectionTimeoutMs": 1234}}]
    assert protocol.keepalive() == KA


def test_refused_connection_answers_init_with_connection_error_and_closes() -> None:
    protocol = ConnectionProtocol(RealtimeLimits())
    protocol.refuse("UnauthorizedException", "no", 401)
    actions = protocol.receive('{"type":"connection_init"}')
    assert frames(actions) == [{"type": "connection_error", "payload": {"errors": [
        {"errorType": "UnauthorizedException", "message": "no", "errorCode": 401}]}}]
    assert actions[-1] == Close(1008, "UnauthorizedException")
    assert protocol.state is State.CLOSING
    bad = ConnectionProtocol(RealtimeLimits())
    bad.refuse("BadRequestException", "bad header", 400)
    assert bad.receive('{"type":"connection_init"}')[-1] == Close(1002, "BadRequestException")
    odd = ConnectionProtocol(RealtimeLimits())
    odd.refuse("InternalFailure", "x", 500)   # any other status is reported as 401
    assert frames(odd.receive('{"type":"connection_init"}'))[0]["payload"]["errors"][0]["errorCode"] == 401


def test_start_before_init_is_refused_and_nothing_is_planned() -> None:
    protocol = ConnectionProtocol(RealtimeLimits())
    actions = protocol.receive(start("a"))
    assert error_of(actions) == ("a", "BadRequestException")
    assert not any(isinstance(a, Start) for a in actions)
    assert protocol.keepalive() is None


def test_start_ack_stop_complete() -> None:
    protocol = opened()
    (action,) = protocol.receive(start("s1", {"data": "{\"query\":\"x\"}"}))
    assert action == Start("s1", {"data": "{\"query\":\"x\"}"})
    handle = object()
    assert orjson.loads(protocol.started("s1", handle) or b"") == {"id": "s1", "type": "start_ack"}
    assert protocol.subscriptions == {"s1": handle}
    actions = protocol.receive('{"type":"stop","id":"s1"}')
    assert actions[0] == Stop(handle)
    assert frames(actions) == [{"id": "s1", "type": "complete"}]
    assert protocol.subscriptions == {}
    # Stopping an unknown id completes it, and forgets nothing.
    actions = protocol.receive('{"type":"stop","id":"nope"}')
    assert frames(actions) == [{"id": "nope", "type": "complete"}] and len(actions) == 1
    assert error_of(protocol.receive('{"type":"stop","id":7}')) == (None, "BadRequestException")


def test_failed_start_is_an_error_with_its_id() -> None:
    protocol = opened()
    protocol.receive(start("s1"))
    frame = protocol.start_failed("s1", [{"errorType": "ValidationError", "message": "m"}])
    assert orjson.loads(frame or b"") == {"id": "s1", "type": "error", "payload": {"errors": [
        {"errorType": "ValidationError", "message": "m"}]}}
    assert protocol.pending == set() and protocol.subscriptions == {}
    assert isinstance(protocol.receive(start("s1"))[0], Start)  # the id is free again


def test_duplicate_ids_are_refused_while_pending_and_once_started() -> None:
    protocol = opened()
    protocol.receive(start("dup"))
    assert error_of(protocol.receive(start("dup"))) == ("dup", "DuplicatedOperationError")
    protocol.started("dup", object())
    assert error_of(protocol.receive(start("dup"))) == ("dup", "DuplicatedOperationError")
    assert protocol.started("dup", object()) is None  # a second plan for a taken id is discarded


def test_subscription_limit_counts_pending_starts() -> None:
    protocol = opened(max_subscriptions=2)
    protocol.receive(start("a"))
    protocol.started("a", object())
    protocol.receive(start("b"))
    assert error_of(protocol.receive(start("c"))) == ("c", "MaxSubscriptionsReachedError")


@pytest.mark.parametrize("sub_id", [None, "", 12, ["x"], {"a": 1}])
def test_start_needs_a_string_id(sub_id: Any) -> None:
    assert error_of(opened().receive(start(sub_id))) == (None, "BadRequestException")


@pytest.mark.parametrize("text", ["{", "not json", "\x00", '{"type":', "[1,2]", "3", "null", '"start"'])
def test_bad_json_and_non_objects_are_errors_without_an_id(text: str) -> None:
    protocol = opened()
    assert error_of(protocol.receive(text)) == (None, "BadRequestException")
    assert protocol.state is State.OPEN  # the connection survives


def test_unknown_types_are_unsupported() -> None:
    protocol = opened()
    assert error_of(protocol.receive('{"type":"subscribe","id":"q"}')) == ("q", "UnsupportedOperation")
    assert error_of(protocol.receive('{"type":42,"id":5}')) == (None, "UnsupportedOperation")
    assert error_of(protocol.receive('{}')) == (None, "UnsupportedOperation")


def test_oversized_messages_are_not_parsed_and_echo_only_a_short_id() -> None:
    protocol = opened(max_message_bytes=1000)
    short = start("short-id", {"data": "x" * 2000})
    assert error_of(protocol.receive(short)) == ("short-id", "LimitExceededException")
    huge = start("i" * 5000)
    assert error_of(protocol.receive(huge)) == (None, "LimitExceededException")
    # Bytes count, not characters: 400 three-byte characters are 1,200 bytes.
    wide = start("w", {"data": "\u20ac" * 400})
    assert len(wide) < 1000 < len(wide.encode())
    assert error_of(protocol.receive(wide)) == ("w", "LimitExceededException")
    assert protocol.pending == set()


def test_a_long_id_within_the_limit_is_kept_verbatim() -> None:
    protocol = opened()
    sub_id = "\u00e9" * 10_000
    (action,) = protocol.receive(start(sub_id))
    assert isinstance(action, Start) and action.id == sub_id
    assert orjson.loads(protocol.started(sub_id, object()) or b"")["id"] == sub_id


def test_terminate_closes_and_later_messages_are_ignored() -> None:
    protocol = opened()
    protocol.receive(start("a"))
    assert protocol.receive('{"type":"connection_terminate"}') == [Close(1000, "connection_terminate")]
    assert protocol.state is State.CLOSING and not protocol.live
    for text in ('{"type":"connection_init"}', start("b"), '{"type":"stop","id":"a"}', "garbage", "x" * 10**6):
        assert protocol.receive(text) == []
    assert protocol.started("a", object()) is None  # planned while closing: discarded
    assert protocol.keepalive() is None
    assert protocol.fell_behind() is None
    assert protocol.idle_timed_out() == [] and protocol.init_timed_out() == []


def test_messages_after_the_socket_closed_are_ignored() -> None:
    protocol = opened()
    protocol.receive(start("a"))
    handle = object()
    protocol.started("a", handle)
    assert protocol.closed() == [handle]
    assert protocol.state is State.CLOSED
    assert protocol.receive(start("b")) == [] and protocol.receive('{"type":"stop","id":"a"}') == []
    assert protocol.start_failed("b", [{"errorType": "x", "message": "y"}]) is None
    assert protocol.end("a", handle, {"errorType": "x", "message": "y"}) is None


def test_end_sends_one_error_and_only_for_the_current_subscription() -> None:
    protocol = opened()
    protocol.receive(start("a"))
    old, new = object(), object()
    protocol.started("a", old)
    error = {"errorType": "UnauthorizedException", "message": "Token has expired."}
    assert orjson.loads(protocol.end("a", old, error) or b"") == {"id": "a", "type": "error",
                                                                  "payload": {"errors": [error]}}
    assert protocol.end("a", old, error) is None
    protocol.receive(start("a"))
    protocol.started("a", new)
    assert protocol.end("a", old, error) is None and protocol.subscriptions == {"a": new}


def test_init_timeout_only_before_the_ack() -> None:
    protocol = ConnectionProtocol(RealtimeLimits(init_timeout=2.5))
    actions = protocol.init_timed_out()
    assert frames(actions)[0]["payload"]["errors"][0] == {
        "errorType": "BadRequestException", "message": "No connection_init within 2.5 s", "errorCode": 408}
    assert actions[-1] == Close(1008, "connection_init timeout")
    assert opened().init_timed_out() == []


def test_idle_timeout_spares_connections_with_subscriptions() -> None:
    protocol = opened(connection_timeout_ms=50)
    protocol.receive(start("a"))
    protocol.started("a", object())
    assert protocol.idle_timed_out() == []
    protocol.receive('{"type":"stop","id":"a"}')
    assert protocol.idle_timed_out() == [Close(1000, "no message for connectionTimeoutMs (50 ms)")]
    assert protocol.state is State.CLOSING


def test_falling_behind_drops_once() -> None:
    protocol = opened(max_queue=3, max_queue_bytes=99)
    frame = orjson.loads(protocol.fell_behind() or b"")
    assert frame["type"] == "connection_error"
    assert frame["payload"]["errors"][0]["errorType"] == "LimitExceededException"
    assert "3 messages or 99 bytes" in frame["payload"]["errors"][0]["message"]
    assert protocol.state is State.DROPPED
    assert protocol.fell_behind() is None and protocol.receive('{"type":"connection_init"}') == []


def test_handshake_headers_from_subprotocol_or_query() -> None:
    auth = {"host": "h", "x-api-key": "k"}
    assert handshake_headers(["graphql-ws", "header-" + encode_header(auth)], b"") == auth
    padded = base64.b64encode(orjson.dumps({"Authorization": "t", "host": "h"})).decode()
    query = f"header={padded}&payload=e30=&X-Extra=1".encode()
    assert handshake_headers(["graphql-ws"], query) == {"authorization": "t", "host": "h", "x-extra": "1"}
    # The subprotocol wins over the query's header; query parameters never override header values.
    both = handshake_headers(["header-" + encode_header({"host": "a"})], f"header={padded}&host=b".encode())
    assert both == {"host": "a"}
    assert handshake_headers(["graphql-ws"], b"") == {}
    with pytest.raises(HeaderError):
        handshake_headers(["graphql-ws", "header-%%%"], b"")
    with pytest.raises(HeaderError):
        handshake_headers([], b"header=" + base64.b64encode(b"[1]"))
