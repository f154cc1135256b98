"""Writing a text frame straight into uvicorn's WebSocket transport: the fenced-off fast path.

Fan-out sends one frame per subscriber per event. Going through ASGI ``send`` costs a task switch
or a coroutine per frame; uvicorn's ``websockets-sansio`` protocol would write exactly the bytes
built here (a whole, unmasked, uncompressed text frame; servers never mask and Cove never fragments),
so while its transport is writable the frame is written directly. Anything else (another server,
another WebSocket implementation, per-message deflate negotiated, a paused transport) falls back to
ASGI ``send``; closing always goes through uvicorn's protocol.

This reads attributes of ``uvicorn.protocols.websockets.websockets_sansio_impl.WebSocketsSansIOProtocol``
that are not uvicorn's public API; tests/server/realtime/test_realtime_fastpath.py pins the version it was checked
against and fails when uvicorn changes, so a new uvicorn is checked before it is trusted.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FrameWriter", "frame_writer", "transport_of"]

_PROTOCOL_CLASS = "WebSocketsSansIOProtocol"
_ATTRIBUTES = ("writable", "disconnected", "close_sent", "transport")


class FrameWriter:
    """Writes text frames into one uvicorn WebSocket's transport while it can take them."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def write(self, data: bytes) -> bool:
        """Write one text frame (UTF-8 JSON); False when it must go through ASGI ``send`` instead."""
        protocol = self._protocol
        if protocol.disconnected or protocol.close_sent or not protocol.writable.is_set():
            return False
        n = len(data)
        if n < 126:
            head = bytes((0x81, n))
        elif n < 65536:
            head = b"\x81\x7e" + n.to_bytes(2, "big")
        else:
            head = b"\x81\x7f" + n.to_bytes(8, "big")
        protocol.transport.write(head + data)
        return True


def frame_writer(send: Any) -> FrameWriter | None:
    """A writer for the WebSocket behind ASGI `send`, when uvicorn's sans-I/O protocol serves it
    without extensions; else None."""
    protocol = getattr(send, "__self__", None)
    if type(protocol).__name__ != _PROTOCOL_CLASS or not all(hasattr(protocol, a) for a in _ATTRIBUTES):
        return None
    if getattr(getattr(protocol, "conn", None), "extensions", None) != []:
        return None   # per-message deflate (or another extension) would change the frame's bytes
    return FrameWriter(protocol)


def transport_of(send: Any) -> Any:
    """The transport behind ASGI `send`, if the server exposes it (to abort a stalled peer)."""
    return getattr(getattr(send, "__self__", None), "transport", None)
