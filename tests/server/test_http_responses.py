"""HTTP/1.1 framing over a raw socket: the server sends a response's headers and a small body in one
write (server/http_protocol.py), and that must never hold back a response or reorder two of them."""

from __future__ import annotations

import json
import socket

import pytest

from conftest import Sandbox


def _request(sandbox: Sandbox, body: bytes, method: str = "POST", extra: str = "") -> bytes:
    return (f"{method} /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"x-api-key: {sandbox.api_key}\r\ncontent-length: {len(body)}\r\n{extra}\r\n").encode() + body


def _read_response(sock: socket.socket, buffer: bytearray, *, head_request: bool = False) -> tuple[bytes, bytes]:
    """One response (status line and headers; the body by content-length, none for HEAD) from
    ``buffer`` and then the socket; what follows it stays in ``buffer``."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection mid-response: {bytes(buffer)!r}"
        buffer += chunk
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    del buffer[:len(head) + 4]
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    want = 0 if head_request else length
    while len(buffer) < want:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        buffer += chunk
    body = bytes(buffer[:want])
    del buffer[:want]
    return head, body


@pytest.fixture
def conn(sandbox: Sandbox):
    sock = socket.create_connection(("127.0.0.1", sandbox.port), timeout=10)
    yield sock
    sock.close()


def test_pipelined_requests_are_answered_whole_and_in_order(sandbox: Sandbox, conn: socket.socket) -> None:
    queries = [json.dumps({"query": f'mutation {{ createTodo(input: {{content: "p{i}"}}) {{ content }} }}'}).encode()
               for i in range(5)]
    conn.sendall(b"".join(_request(sandbox, q) for q in queries))   # five requests in one packet
    buffer = bytearray()
    for i in range(5):
        head, body = _read_response(conn, buffer)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(body) == {"data": {"createTodo": {"content": f"p{i}"}}}


def test_a_large_body_and_then_a_small_one_on_one_connection(sandbox: Sandbox, conn: socket.socket) -> None:
    big = "x" * 200_000
    conn.sendall(_request(sandbox, json.dumps({"query": f'mutation {{ createTodo(input: {{content: "{big}"}}) {{ content }} }}'}).encode()))
    buffer = bytearray()
    head, body = _read_response(conn, buffer)
    assert head.startswith(b"HTTP/1.1 200 ") and json.loads(body)["data"]["createTodo"]["content"] == big
    conn.sendall(_request(sandbox, b'{"query": "{ listTodos(limit: 1) { items { id } } }"}'))
    head, body = _read_response(conn, buffer)
    assert head.startswith(b"HTTP/1.1 200 ") and "listTodos" in json.loads(body)["data"]


def test_a_head_request_gets_its_headers_and_the_connection_goes_on(sandbox: Sandbox, conn: socket.socket) -> None:
    conn.sendall(b"HEAD /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    buffer = bytearray()
    head, body = _read_response(conn, buffer, head_request=True)   # no body is written: the headers must still come
    assert head.startswith(b"HTTP/1.1 ") and body == b""
    conn.sendall(_request(sandbox, b'{"query": "{ listTodos(limit: 1) { items { id } } }"}'))
    head, body = _read_response(conn, buffer)
    assert head.startswith(b"HTTP/1.1 200 ") and "listTodos" in json.loads(body)["data"]


def test_expect_100_continue_is_answered_before_the_body_is_sent(sandbox: Sandbox, conn: socket.socket) -> None:
    body = b'{"query": "{ listTodos(limit: 1) { items { id } } }"}'
    request = _request(sandbox, body, extra="expect: 100-continue\r\n")
    conn.sendall(request[:-len(body)])            # headers only: a client waits for 100 Continue
    interim = conn.recv(65536)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
    conn.sendall(body)
    buffer = bytearray(interim.partition(b"\r\n\r\n")[2])
    head, answer = _read_response(conn, buffer)
    assert head.startswith(b"HTTP/1.1 200 ") and "listTodos" in json.loads(answer)["data"]
