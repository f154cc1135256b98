"""The STOCK aws-amplify v6 client's subscriptions against `cove sandbox --tls`, over real WSS.

aws-amplify only dials `wss://`: the sandbox serves HTTPS and WSS on one port with the local CA it
generated, and Node trusts that CA through NODE_EXTRA_CA_CERTS (no wss->ws shim is involved: the
driver only installs `ws` as Node 20's missing WebSocket global and connects to the URL as given).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Sandbox, start_sandbox
from test_amplify_js import AmplifyDriver, data_of, require_node_env, show

import cove

pytestmark = [pytest.mark.compat, pytest.mark.both_backends]


@pytest.fixture(scope="module")
def tls_box(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Sandbox]:
    box = start_sandbox(tmp_path_factory.mktemp("amplify-rt"), None, "--no-watch", "--tls", backend=backend)
    yield box
    box.stop()


@pytest.fixture(scope="module")
def amplify(tls_box: Sandbox) -> Iterator[AmplifyDriver]:
    node = require_node_env()
    ca = tls_box.outputs["custom"]["cove"]["ca_file"]
    previous = os.environ.get("NODE_EXTRA_CA_CERTS")
    os.environ["NODE_EXTRA_CA_CERTS"] = ca  # inherited by the node process only
    try:
        driver = AmplifyDriver(node, tls_box.outputs_path, lambda: "".join(tls_box.lines[-40:]))
    finally:
        if previous is None:
            del os.environ["NODE_EXTRA_CA_CERTS"]
        else:
            os.environ["NODE_EXTRA_CA_CERTS"] = previous
    yield driver
    driver.close()


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


def events(amplify: AmplifyDriver, name: str, count: int = 1, timeout_ms: int = 10000) -> list[Any]:
    line = amplify.run("events", **{"as": name, "count": count, "timeoutMs": timeout_ms})
    assert not line["result"].get("errors"), show(line)
    data: list[Any] = line["result"]["data"]
    return data


def test_outputs_url_is_https(tls_box: Sandbox, amplify: AmplifyDriver) -> None:
    api = data_of(amplify.run("config"))
    assert api["GraphQL"]["endpoint"].startswith("https://127.0.0.1:")


def test_on_create_over_wss(tls_box: Sandbox, amplify: AmplifyDriver) -> None:
    t = tag()
    line = amplify.run("subscribe", **{"as": "c1", "model": "Todo", "event": "onCreate",
                                       "filter": {"content": {"beginsWith": t}}})
    assert not line["result"].get("errors"), show(line)
    frames = line["result"]["wsWire"]
    opened = [f for f in frames if "open" in f]
    assert opened and opened[0]["open"].startswith(f"wss://127.0.0.1:{tls_box.port}/graphql/realtime"), show(line)
    protocols = opened[0]["protocols"]
    assert protocols[0] == "graphql-ws" and protocols[1].startswith("header-"), protocols
    assert {"type": "connection_ack", "payload": {"connectionTimeoutMs": 300000}} in [f.get("in") for f in frames]

    data_of(amplify.run("create", model="Todo", input={"content": f"{t} no"[::-1]}))  # does not match
    made = data_of(amplify.run("create", model="Todo", input={"content": f"{t} yes", "priority": "high"}))
    got = events(amplify, "c1")
    assert len(got) == 1 and got[0]["id"] == made["id"] and got[0]["content"] == f"{t} yes"
    assert got[0]["priority"] == "high"
    assert events(amplify, "c1", count=0, timeout_ms=500) == []

    # a mutation made by Cove's Python client reaches the JS subscriber too
    client = cove.generate_client(config=tls_box.outputs_path)
    client.models.Todo.create({"content": f"{t} from python"})
    client.close()
    assert [e["content"] for e in events(amplify, "c1")] == [f"{t} from python"]
    amplify.run("unsubscribe", **{"as": "c1"})


def test_on_update_and_on_delete_over_wss(amplify: AmplifyDriver) -> None:
    t = tag()
    for name, event in (("u1", "onUpdate"), ("d1", "onDelete")):
        line = amplify.run("subscribe", **{"as": name, "model": "Todo", "event": event,
                                           "filter": {"content": {"beginsWith": t}}})
        assert not line["result"].get("errors"), show(line)
    made = data_of(amplify.run("create", model="Todo", input={"content": t}))
    data_of(amplify.run("update", model="Todo", input={"id": made["id"], "done": True}))
    data_of(amplify.run("delete", model="Todo", id=made["id"]))
    assert events(amplify, "u1")[0]["done"] is True
    assert events(amplify, "d1")[0]["id"] == made["id"]
    amplify.run("unsubscribe", **{"as": "u1"})
    amplify.run("unsubscribe", **{"as": "d1"})


def test_observe_query_over_wss(tls_box: Sandbox, amplify: AmplifyDriver) -> None:
    t = tag()
    first = data_of(amplify.run("create", model="Todo", input={"content": f"{t} 1"}))
    line = amplify.run("subscribe", **{"as": "oq", "model": "Todo", "event": "observeQuery",
                                       "filter": {"content": {"beginsWith": t}}})
    assert not line["result"].get("errors"), show(line)
    snapshots = events(amplify, "oq")
    assert snapshots[-1]["isSynced"] is True
    assert [i["id"] for i in snapshots[-1]["items"]] == [first["id"]]
    second = data_of(amplify.run("create", model="Todo", input={"content": f"{t} 2"}))
    latest = events(amplify, "oq")[-1]
    assert latest["isSynced"] is True
    assert sorted(i["id"] for i in latest["items"]) == sorted([first["id"], second["id"]])
    data_of(amplify.run("delete", model="Todo", id=first["id"]))
    latest = events(amplify, "oq")[-1]
    assert [i["id"] for i in latest["items"]] == [second["id"]]
    amplify.run("unsubscribe", **{"as": "oq"})


def test_ca_file_is_in_the_data_dir(tls_box: Sandbox) -> None:
    ca = Path(tls_box.outputs["custom"]["cove"]["ca_file"])
    assert ca.parent == (tls_box.data_dir / "tls").resolve() and ca.read_text().startswith("-----BEGIN CERTIFICATE")
    assert any("NODE_EXTRA_CA_CERTS" in line for line in tls_box.lines)
