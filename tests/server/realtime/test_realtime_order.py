"""Fan-out runs in its own task and yields to the event loop part-way through an event; every
subscription must still get every event, in the order the mutations were answered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from realtime_support import Raw, create_todo, on_create
from paths import TESTS

pytestmark = pytest.mark.both_backends

SCHEMA = TESTS / "schemas" / "realtime_schema.py"


def test_each_subscription_gets_every_event_in_order_while_fan_out_yields(sandbox_factory: Any) -> None:
    box = sandbox_factory(SCHEMA, "--no-watch")
    sockets = []
    for c in range(4):
        conn = Raw(box)
        conn.init()
        for s in range(60):
            conn.subscribe(f"{c}-{s}", on_create("id content"))
        sockets.append(conn)
    contents = [f"ordered-{i}" for i in range(40)]
    for content in contents:  # back to back: the next mutation is answered while fan-out is still running
        create_todo(box, "id content", content=content)
    for conn in sockets:
        seen: dict[str, list[str]] = {}
        for _ in range(60 * len(contents)):
            frame = conn.expect("data")
            seen.setdefault(frame["id"], []).append(frame["payload"]["data"]["onCreateTodo"]["content"])
        assert len(seen) == 60 and all(got == contents for got in seen.values()), seen
        conn.nothing(0.3)
        conn.close()
