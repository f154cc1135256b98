"""cove.server.realtime.fastpath writes WebSocket frames into uvicorn's transport, past its API: this
pins the uvicorn version it was checked against and checks, over a real socket, that what it writes is
what a client reads, and that it stands aside whenever the frames would differ."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn
import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from cove.server.realtime.fastpath import frame_writer

# Checked against this release's websockets_sansio_impl.WebSocketsSansIOProtocol. When uvicorn
# moves, read that class again (writable, disconnected, close_sent, transport, conn.extensions, and
# how its send() frames a text message), then move the pin. server/http_protocol.py's direct path
# leans on this release too: read httptools_impl.HttpToolsProtocol again (what it reads and sets on
# self.cycle, on_response_complete, shutdown, server_state.default_headers) and RequestResponseCycle.send
# (the response it writes, which the direct path must match).
CHECKED_UVICORN = "0.54.0"


def test_uvicorn_is_the_version_the_fast_path_was_checked_against() -> None:
    assert uvicorn.__version__ == CHECKED_UVICORN, (
        f"uvicorn {uvicorn.__version__} is installed; fastpath.py was checked against {CHECKED_UVICORN}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(texts: list[str], deflate: bool, found: list[Any]) -> list[str]:
    """One uvicorn server whose app writes `texts` through the fast path (when it can) and then closes;
    returns what a websockets client read."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        writer = frame_writer(send)
        found.append(writer)
        for text in texts:
            if writer is not None and writer.write(text.encode()):
                found.append("written")
            else:
                await send({"type": "websocket.send", "text": text})
        await send({"type": "websocket.close", "code": 1000})

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws="websockets-sansio", lifespan="off",
                            log_level="warning", ws_per_message_deflate=deflate)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        extensions = [ClientPerMessageDeflateFactory()] if deflate else None
        received: list[str] = []
        async with websockets.connect(f"ws://127.0.0.1:{port}/", extensions=extensions) as ws:
            async for message in ws:
                assert isinstance(message, str)
                received.append(message)
        return received
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_frames_written_straight_into_the_transport_are_read_intact(size: int) -> None:
    texts = ['{"type":"ka"}', "\u20ac" * (size // 3) + "x" * (size % 3), "end"]
    found: list[Any] = []
    assert asyncio.run(_serve(texts, False, found)) == texts
    assert found[0] is not None and found[1:] == ["written"] * 3   # every frame took the fast path


def test_per_message_deflate_turns_the_fast_path_off() -> None:
    found: list[Any] = []
    texts = ['{"type":"data"}' * 50, "end"]
    assert asyncio.run(_serve(texts, True, found)) == texts
    assert found == [None]


def test_other_servers_get_no_fast_path() -> None:
    async def send(message: Any) -> None: ...

    assert frame_writer(send) is None
    assert frame_writer(None) is None
