"""Helpers for the real-time tests: a raw AppSync real-time client over a real WebSocket.

It speaks the protocol frame by frame (no Cove client code), with either handshake:
``handshake="header"`` puts the auth JSON in a ``header-<base64url>`` subprotocol (aws-amplify >= 6.6),
``handshake="query"`` in ``?header=<base64>&payload=e30=`` (gql, older clients).
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

TODO_FIELDS = "id content done priority rank tags createdAt updatedAt"


def ws_url(box: Any) -> str:
    url = box.outputs["data"]["url"]
    return ("wss://" + url[len("https://"):] if url.startswith("https://") else "ws://" + url[len("http://"):]) \
        + "/realtime"


def host_of(box: Any) -> str:
    return urlsplit(box.outputs["data"]["url"]).netloc


def api_key_auth(box: Any, key: str | None = None) -> dict[str, str]:
    return {"host": host_of(box), "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "x-api-key": key if key is not None else box.api_key}


def token_auth(box: Any, token: str) -> dict[str, str]:
    return {"Authorization": token, "host": host_of(box)}


def b64url(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


class Raw:
    """One WebSocket to ``<graphql url>/realtime``, driven frame by frame."""

    def __init__(self, box: Any, auth: dict[str, str] | None = None, *, handshake: str = "header",
                 subprotocols: list[str] | None = None, extra_query: dict[str, str] | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.box = box
        auth = api_key_auth(box) if auth is None else auth
        url = ws_url(box)
        query: dict[str, str] = dict(extra_query or {})
        if subprotocols is None:
            if handshake == "header":
                subprotocols = ["graphql-ws", "header-" + b64url(auth)]
            else:
                subprotocols = ["graphql-ws"]
                query = {"header": base64.b64encode(json.dumps(auth).encode()).decode(), "payload": "e30=", **query}
        if query:
            url += "?" + urlencode(query)
        if ssl_context is None and url.startswith("wss://"):
            ssl_context = ssl.create_default_context(cafile=box.outputs["custom"]["cove"]["ca_file"])
        self.ws: ClientConnection = connect(url, subprotocols=subprotocols or None,  # type: ignore[arg-type]
                                            ssl=ssl_context, open_timeout=10, compression=None, legacy=True)
        self.kas = 0

    def send(self, obj: Any) -> None:
        self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    def recv(self, timeout: float = 10.0, *, skip_ka: bool = True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame")
            frame = json.loads(self.ws.recv(timeout=remaining))
            if skip_ka and frame.get("type") == "ka":
                self.kas += 1
                continue
            return frame  # type: ignore[no-any-return]

    def expect(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        frame = self.recv(timeout)
        assert frame.get("type") == kind, f"expected {kind}, got {frame}"
        return frame

    def nothing(self, seconds: float = 0.5) -> None:
        """Assert that no frame other than ``ka`` arrives for ``seconds``."""
        try:
            frame = self.recv(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {frame}")

    def init(self) -> dict[str, Any]:
        self.send({"type": "connection_init"})
        return self.expect("connection_ack")

    def start(self, sub_id: str, query: str, variables: dict[str, Any] | None = None,
              auth: dict[str, str] | None | bool = True, **payload_extra: Any) -> None:
        """``auth=True``: the sandbox's API key; a dict: those headers; False/None: none."""
        payload: dict[str, Any] = {"data": json.dumps({"query": query, "variables": variables or {}}), **payload_extra}
        if auth is True:
            payload["extensions"] = {"authorization": api_key_auth(self.box)}
        elif auth:
            payload["extensions"] = {"authorization": auth}
        self.send({"id": sub_id, "type": "start", "payload": payload})

    def subscribe(self, sub_id: str, query: str, variables: dict[str, Any] | None = None,
                  auth: dict[str, str] | None | bool = True) -> None:
        self.start(sub_id, query, variables, auth)
        frame = self.recv()
        assert frame == {"id": sub_id, "type": "start_ack"}, frame
        # start_ack is always the frame answering start (errors come as "error" instead)

    def closed(self, timeout: float = 10.0) -> tuple[int | None, list[dict[str, Any]]]:
        """Read until the server closes; return (close code, frames seen before)."""
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                frames.append(json.loads(self.ws.recv(timeout=deadline - time.monotonic())))
        except ConnectionClosed as exc:
            return (exc.rcvd.code if exc.rcvd else None), frames
        except TimeoutError:
            pass
        raise AssertionError(f"the server did not close the connection within {timeout}s; frames: {frames}")

    def close(self) -> None:
        self.ws.close()


def on_create(fields: str = TODO_FIELDS, model: str = "Todo") -> str:
    return (f"subscription ($filter: ModelSubscription{model}FilterInput) {{ onCreate{model}(filter: $filter) "
            f"{{ {fields} }} }}")


def on_update(fields: str = TODO_FIELDS, model: str = "Todo") -> str:
    return (f"subscription ($filter: ModelSubscription{model}FilterInput) {{ onUpdate{model}(filter: $filter) "
            f"{{ {fields} }} }}")


def on_delete(fields: str = TODO_FIELDS, model: str = "Todo") -> str:
    return (f"subscription ($filter: ModelSubscription{model}FilterInput) {{ onDelete{model}(filter: $filter) "
            f"{{ {fields} }} }}")


def create_todo(box: Any, fields: str = TODO_FIELDS, **values: Any) -> dict[str, Any]:
    body = box.gql(f"mutation ($input: CreateTodoInput!) {{ createTodo(input: $input) {{ {fields} }} }}",
                   {"input": values})
    assert "errors" not in body, body
    return body["data"]["createTodo"]  # type: ignore[no-any-return]


def update_todo(box: Any, fields: str = TODO_FIELDS, **values: Any) -> dict[str, Any]:
    body = box.gql(f"mutation ($input: UpdateTodoInput!) {{ updateTodo(input: $input) {{ {fields} }} }}",
                   {"input": values})
    assert "errors" not in body, body
    return body["data"]["updateTodo"]  # type: ignore[no-any-return]


def delete_todo(box: Any, id: str, fields: str = TODO_FIELDS) -> dict[str, Any]:
    body = box.gql(f"mutation ($input: DeleteTodoInput!) {{ deleteTodo(input: $input) {{ {fields} }} }}",
                   {"input": {"id": id}})
    assert "errors" not in body, body
    return body["data"]["deleteTodo"]  # type: ignore[no-any-return]


def stalled_socket(box: Any, t: str) -> socket.socket:
    """A real WebSocket client that subscribes and then never reads again (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", box.port))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    sock.sendall((f"GET /graphql/realtime HTTP/1.1\r\nHost: 127.0.0.1:{box.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Protocol: graphql-ws, header-{b64url(api_key_auth(box))}\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response

    def frame(text: str) -> bytes:  # a masked client text frame
        data = text.encode()
        mask = b"\x01\x02\x03\x04"
        head = bytes([0x81])
        n = len(data)
        head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    sock.sendall(frame(json.dumps({"type": "connection_init"})))
    sock.sendall(frame(json.dumps({"id": "slow", "type": "start", "payload": {
        "data": json.dumps({"query": on_create("id content"), "variables": {"filter": {"content": {"beginsWith": t}}}}),
        "extensions": {"authorization": api_key_auth(box)}}})))
    return sock


def post_big_todos(box: Any, content: str, n: int) -> None:
    """Create ``n`` to-dos with ``content`` over one HTTP connection (events for the subscribers)."""
    import httpx

    with httpx.Client(timeout=30) as http:
        for _ in range(n):
            r = http.post(box.url, headers={"x-api-key": box.api_key},
                          json={"query": "mutation ($i: CreateTodoInput!) { createTodo(input: $i) { id content } }",
                                "variables": {"i": {"content": content}}})
            assert r.status_code == 200 and "errors" not in r.json()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything a raw socket receives until the server closes (or resets) it."""
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
