"""The I/O-free parts of real time: URL rules, handshake encoding, backoff, observe_query's merge
rules, payload projection, limits parsing, and the PostgreSQL broker's chunking."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cove.broker import BrokerError, LocalBroker, open_broker, redact
from cove.broker.postgres import PostgresBroker
from cove.client._observe import ObserveState, subscription_filter
from cove.client._realtime import (
    RealtimeOptions,
    backoff,
    encode_header,
    is_auth_error,
    is_fatal,
    realtime_url,
)
from cove.client._schema import SchemaInfo
from cove.server.realtime.settings import RealtimeLimits


def test_realtime_url_rules() -> None:
    appsync = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com/graphql"
    assert realtime_url(appsync) == "wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.eu-west-1.amazonaws.com/graphql"
    assert realtime_url("https://api.example.com/graphql") == "wss://api.example.com/graphql/realtime"
    assert realtime_url("http://127.0.0.1:20002/graphql") == "ws://127.0.0.1:20002/graphql/realtime"
    assert realtime_url("https://api.example.com/graphql/") == "wss://api.example.com/graphql/realtime"


def test_header_subprotocol_is_unpadded_base64url() -> None:
    value = encode_header({"host": "h:1", "x-api-key": "da2-???>>>"})
    assert "=" not in value and "+" not in value and "/" not in value
    assert json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) == {"host": "h:1",
                                                                                      "x-api-key": "da2-???>>>"}


def test_backoff_is_jittered_exponential_and_capped() -> None:
    options = RealtimeOptions(initial_backoff=1.0, max_backoff=8.0)
    assert backoff(0, options, lambda: 0.0) == 0.5 and backoff(0, options, lambda: 1.0) == 1.0
    assert backoff(2, options, lambda: 1.0) == 4.0
    assert backoff(10, options, lambda: 1.0) == 8.0 and backoff(10, options, lambda: 0.0) == 4.0


def test_error_classification() -> None:
    assert is_fatal([{"errorType": "UnauthorizedException", "message": "x"}])
    assert is_fatal([{"errorCode": 403, "message": "x"}])
    assert not is_fatal([{"errorType": "LimitExceededException", "errorCode": 429, "message": "x"}])
    assert is_auth_error([{"errorType": "Unauthorized", "message": "x"}])
    assert is_auth_error([{"message": "Token has expired."}])
    assert not is_auth_error([{"errorType": "ValidationError", "message": "x"}])


MIS = {"models": {"Todo": {
    "name": "Todo", "pluralName": "Todos",
    "fields": {
        "id": {"name": "id", "type": "ID", "isRequired": True, "isArray": False},
        "content": {"name": "content", "type": "String", "isRequired": False, "isArray": False},
        "rank": {"name": "rank", "type": "Int", "isRequired": False, "isArray": False},
        "updatedAt": {"name": "updatedAt", "type": "AWSDateTime", "isRequired": False, "isArray": False},
    },
    "attributes": [{"type": "model", "properties": {}},
                   {"type": "auth", "properties": {"rules": [{"allow": "owner", "ownerField": "owner"}]}}],
    "primaryKeyInfo": {"isCustomPrimaryKey": False, "primaryKeyFieldName": "id", "sortKeyFieldNames": []}}}}
TODO = SchemaInfo.from_mis(MIS).models["Todo"]


def rec(id: str, content: str, rank: int = 0, updated: str = "2026-01-01T00:00:00.000Z") -> dict[str, Any]:
    return {"id": id, "content": content, "rank": rank, "updatedAt": updated}


def test_observe_merge_rules() -> None:
    state: ObserveState[Any] = ObserveState(TODO, {"content": {"beginsWith": "a"}}, "rank", False)
    state.add_page([(r, r) for r in (rec("1", "a1", 2), rec("2", "a2", 1))])
    assert [r["id"] for r in state.snapshot(True).items] == ["2", "1"]   # sorted by rank
    assert state.apply("create", rec("3", "b"), rec("3", "b")) is False    # does not match
    assert state.apply("create", rec("3", "a3", 0), rec("3", "a3", 0)) is True
    # an update that stops matching removes; one that starts matching adds
    assert state.apply("update", rec("1", "zzz", 2, "2026-01-02T00:00:00.000Z"),
                       rec("1", "zzz", 2, "2026-01-02T00:00:00.000Z")) is True
    assert "1" not in [r["id"] for r in state.snapshot(True).items]
    assert state.apply("update", rec("1", "a again", 2, "2026-01-03T00:00:00.000Z"),
                       rec("1", "a again", 2, "2026-01-03T00:00:00.000Z")) is True
    # an event older than the item it would replace is ignored
    assert state.apply("update", rec("1", "a stale", 2, "2026-01-01T00:00:00.000Z"),
                       rec("1", "a stale", 2, "2026-01-01T00:00:00.000Z")) is False
    assert state.apply("delete", rec("2", "a2"), rec("2", "a2")) is True
    assert state.apply("delete", rec("2", "a2"), rec("2", "a2")) is False
    snapshot = state.snapshot(True)
    assert [r["id"] for r in snapshot.items] == ["3", "1"] and snapshot.is_synced
    snapshot.items.clear()
    assert len(state.snapshot(True).items) == 2  # each snapshot is a new list


def test_subscription_filter_falls_back_to_the_client() -> None:
    assert subscription_filter(TODO, {"content": {"eq": "x"}}) == {"content": {"eq": "x"}}
    assert subscription_filter(TODO, {"not": {"content": {"eq": "x"}}}) is None
    assert subscription_filter(TODO, {"or": [{"content": {"attributeExists": True}}]}) is None
    assert subscription_filter(TODO, {"owner": {"eq": "me"}}) is None   # owner fields are the server's
    assert subscription_filter(TODO, None) is None


def test_realtime_limits_parse() -> None:
    limits = RealtimeLimits.parse(["connection_timeout_ms=1000", "keepalive-interval=0.5"])
    assert limits.connection_timeout_ms == 1000 and limits.keepalive_interval == 0.5
    with pytest.raises(ValueError, match="NAME=VALUE"):
        RealtimeLimits.parse(["nope=1"])
    with pytest.raises(ValueError, match="not a number"):
        RealtimeLimits.parse(["max_queue=lots"])


def test_postgres_chunks_reassemble() -> None:
    broker = PostgresBroker("postgresql://u@h/db", "c")
    received: list[bytes] = []
    broker._deliver = received.append
    for text in ('{"small": 1}', '{"a": "' + "x" * 20_000 + '"}', '{"u": "' + "é€😀" * 3000 + '"}'):
        chunks = PostgresBroker.chunks(text.encode())
        assert all(len(c.encode()) <= 8000 for c in chunks)
        for chunk in reversed(chunks):   # any order
            broker._on_notify(None, 0, "c", chunk)
        assert received.pop() == text.encode()


def test_broker_urls() -> None:
    assert isinstance(open_broker(None, "c"), LocalBroker)
    assert open_broker("redis://h:6379/0", "c").description.startswith("Redis pub/sub")
    assert open_broker("postgresql://u:secret@h/db", "c").description.startswith("PostgreSQL")
    assert "secret" not in open_broker("postgresql://u:secret@h/db", "c").description
    assert redact("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    with pytest.raises(BrokerError, match="unsupported"):
        open_broker("amqp://h", "c")


def test_postgres_topic_channels_fit_postgres_names() -> None:
    broker = PostgresBroker("postgresql://u@h/db", "cove_events_" + "a" * 24)
    long_topic = "create" + "X" * 200
    channels = {broker.channel_of(t) for t in ("createTodo", "updateTodo", long_topic)}
    assert len(channels) == 3 and all(len(c.encode()) <= 63 for c in channels)
    assert broker.channel_of("createTodo") == broker.channel_of("createTodo")
    assert PostgresBroker("postgresql://u@h/db", "other").channel_of("createTodo") != broker.channel_of("createTodo")
    # one statement may not hold the same (channel, payload) twice: PostgreSQL would deliver it once
    runs = PostgresBroker.batches([("a", "1"), ("b", "1"), ("a", "1"), ("a", "2")])
    assert runs == [[("a", "1"), ("b", "1")], [("a", "1"), ("a", "2")]]


@pytest.mark.anyio
async def test_postgres_broker_carries_a_topic_only_to_the_processes_listening_to_it() -> None:
    import asyncio

    from pg_support import SERVER_URL

    publisher, listener = PostgresBroker(SERVER_URL, "cove_test_topics"), PostgresBroker(SERVER_URL, "cove_test_topics")
    seen_by_publisher: list[bytes] = []
    seen_by_listener: list[bytes] = []
    await publisher.start(seen_by_publisher.append)
    await listener.start(seen_by_listener.append)
    try:
        await listener.listen("createTodo")           # before its start_ack, a subscription awaits this
        publisher.publish(b'{"f":"createTodo","n":1}', "createTodo")
        publisher.publish(b'{"f":"updateTodo","n":2}', "updateTodo")
        publisher.publish(b'{"f":"createTodo","n":3}', "createTodo")
        for _ in range(200):
            if len(seen_by_listener) >= 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)                        # anything else would have arrived by now
        assert seen_by_listener == [b'{"f":"createTodo","n":1}', b'{"f":"createTodo","n":3}']
        assert seen_by_publisher == []                  # it listens to nothing: woken by none of them
        # Events are not data: a NOTIFY's commit does not wait for the WAL's flush.
        assert await publisher._notify_conn.fetchval("SHOW synchronous_commit") == "off"
    finally:
        await publisher.close()
        await listener.close()
