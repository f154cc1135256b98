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


# -- the direct path (a plain POST /graphql) against uvicorn's own path -------------------------------

def _exchange(sandbox: Sandbox, request: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One request on a new connection: the status line, the headers (the request ids and the date
    left out: they differ every time) and the body."""
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as sock:
        sock.sendall(request)
        head, body = _read_response(sock, bytearray())
    status, *lines = head.split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in lines)
    assert headers.pop(b"x-request-id") == headers.pop(b"x-amzn-requestid")
    assert headers.pop(b"date")
    return status, headers, body


@pytest.mark.parametrize("body, key, status", [
    (b'{"query": "{ listTodos(limit: 1) { items { __typename } } }"}', True, b"200"),
    (b'{"query": "{ listTodos { nope } }"}', True, b"200"),            # a GraphQL error
    (b'{"query": ', True, b"400"),                                       # not JSON
    (b'{"query": "{ listTodos(limit: 1) { items { id } } }"}', False, b"401"),   # no credentials
])
def test_the_direct_path_answers_exactly_as_uvicorns_path(sandbox: Sandbox, body: bytes, key: bool,
                                                          status: bytes) -> None:
    auth = f"x-api-key: {sandbox.api_key}\r\n" if key else ""

    def request(path: str) -> bytes:
        return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n{auth}"
                f"content-length: {len(body)}\r\n\r\n").encode() + body

    direct = _exchange(sandbox, request("/graphql"))
    through_asgi = _exchange(sandbox, request("/graphql/"))   # (any other path takes uvicorn's)
    assert direct[0].split(b" ")[1] == status
    assert direct == through_asgi


def test_a_chunked_body_is_answered(sandbox: Sandbox, conn: socket.socket) -> None:
    body = b'{"query": "{ listTodos(limit: 1) { items { id } } }"}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    conn.sendall(f"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                 f"x-api-key: {sandbox.api_key}\r\ntransfer-encoding: chunked\r\n\r\n".encode() + chunked)
    head, answer = _read_response(conn, bytearray())
    assert head.startswith(b"HTTP/1.1 200 ") and "listTodos" in json.loads(answer)["data"]


@pytest.mark.parametrize("version, extra", [("HTTP/1.1", "connection: close\r\n"), ("HTTP/1.0", "")])
def test_a_request_that_closes_the_connection_gets_its_answer_and_the_close(sandbox: Sandbox, conn: socket.socket,
                                                                            version: str, extra: str) -> None:
    body = b'{"query": "{ listTodos(limit: 1) { items { id } } }"}'
    conn.sendall(_request(sandbox, body, extra=extra).replace(b"HTTP/1.1", version.encode(), 1))
    buffer = bytearray()
    head, answer = _read_response(conn, buffer)
    assert head.startswith(b"HTTP/1.1 200 ") and b"\r\nconnection: close" in head.lower()
    assert "listTodos" in json.loads(answer)["data"]
    assert conn.recv(1) == b""   # closed after the answer


def test_a_pipelined_request_after_a_direct_one_waits_for_it(sandbox: Sandbox, conn: socket.socket) -> None:
    """The first request takes the direct path; the second, parsed while the first is answered, takes
    uvicorn's and must wait; the third, sent after both answers, is direct again."""
    first = json.dumps({"query": 'mutation { createTodo(input: {content: "first"}) { content } }'}).encode()
    second = b'{"query": "{ listTodos(limit: 1000) { items { content } } }"}'
    conn.sendall(_request(sandbox, first) + _request(sandbox, second).replace(b"/graphql", b"/graphql/", 1))
    buffer = bytearray()
    head, answer = _read_response(conn, buffer)
    assert json.loads(answer) == {"data": {"createTodo": {"content": "first"}}}
    head, answer = _read_response(conn, buffer)
    assert "first" in [t["content"] for t in json.loads(answer)["data"]["listTodos"]["items"]]
    conn.sendall(_request(sandbox, second))
    head, answer = _read_response(conn, buffer)
    assert head.startswith(b"HTTP/1.1 200 ") and "first" in answer.decode()


def test_a_content_length_padded_with_zeros_is_read_as_its_value(sandbox: Sandbox, conn: socket.socket) -> None:
    body = b'{"query": "{ listTodos(limit: 1) { items { id } } }"}'
    padded = "0" * 5000 + str(len(body))
    conn.sendall(_request(sandbox, body).replace(f"content-length: {len(body)}".encode(),
                                                 f"content-length: {padded}".encode()))
    head, answer = _read_response(conn, bytearray())
    assert head.startswith(b"HTTP/1.1 200 ") and "listTodos" in json.loads(answer)["data"]
