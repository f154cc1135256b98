"""The limit for Cove on PostgreSQL: the benchmark's four requests answered with no GraphQL at all.

A raw ASGI app on uvicorn (httptools, uvloop), asyncpg (one pool per process, statements prepared
once per connection by asyncpg's statement cache) and orjson. It reads the same request bodies as
`cove serve` gets from bench/postgres.py, picks the operation by the root field's name in the query
text, and answers with the same JSON shapes, on the table Cove creates for the bundled example's
`Todo`. Whatever Cove spends beyond this is GraphQL, authorization and its own bookkeeping.

    python bench/limit_postgres.py --database-url 'postgresql://postgres@127.0.0.1:5432/test?schema=s' \
        --port 8000 --workers 2 --api-key KEY

`--workers N` binds N listening sockets with SO_REUSEPORT and forks one process per socket, as
`cove serve --workers N` does, so the kernel spreads connections the same way for both. It prints
`Ready` once every process listens.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import os
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import orjson
import uvicorn

# The columns the benchmark's selection set asks for, in its order (the table's layout is Cove's).
COLUMNS = ("id", "content", "done", "priority", "due", "tags", "listId", "createdAt", "updatedAt")
SELECT = "SELECT " + ", ".join(f'"{c}"' for c in COLUMNS) + ' FROM "Todo"'
RETURNING = " RETURNING " + ", ".join(f'"{c}"' for c in COLUMNS)
GET_SQL = SELECT + ' WHERE "id" = $1'
INSERT_SQL = ('INSERT INTO "Todo" ("id", "content", "done", "priority", "due", "tags", "createdAt", "updatedAt") '
              "VALUES ($1, $2, $3, $4, $5, $6, $7, $7)" + RETURNING)
FILTERABLE = frozenset({"content", "done", "priority", "due", "listId"})
UPDATABLE = ("content", "done", "priority", "due", "listId")
MAX_BODY = 1 << 20

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

JSON_HEADERS = [(b"content-type", b"application/json")]


class BadRequest(Exception):
    """The request is not one of the benchmark's four (answered as a GraphQL error)."""


async def _keep_session(con: asyncpg.Connection) -> None:
    """A pool's reset that sends nothing (asyncpg still rolls back a transaction left open)."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Limit:
    """The ASGI app: one asyncpg pool per process, made at lifespan start-up."""

    def __init__(self, dsn: str, schema: str, pool_size: int, api_key: str, secret: bytes,
                 reset_sessions: bool = False) -> None:
        self.dsn = dsn
        self.reset_sessions = reset_sessions
        self.schema = schema
        self.pool_size = pool_size
        self.api_key = api_key.encode()
        self.secret = secret
        self.pool: asyncpg.Pool | None = None
        self.list_sql: dict[tuple[str, ...], str] = {}
        self.update_sql: dict[tuple[str, ...], str] = {}

    async def _init_connection(self, con: asyncpg.Connection) -> None:
        # json arrives as its text and is spliced into the answer as is (no decode and re-encode).
        await con.set_type_codec("json", encoder=lambda v: v, decoder=orjson.Fragment, schema="pg_catalog")

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status, body = await self._http(scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # asyncpg resets every connection it takes back (`RESET ALL; UNLISTEN *; ...`): one more
                # round trip per request, which the caller waits for. This app leaves no session state
                # behind, so it skips it (`--reset-sessions` keeps asyncpg's default, to compare).
                self.pool = await asyncpg.create_pool(
                    self.dsn, min_size=self.pool_size, max_size=self.pool_size, init=self._init_connection,
                    reset=None if self.reset_sessions else _keep_session,
                    server_settings={"search_path": self.schema, "application_name": "cove_bench_limit"})
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes]:
        if scope["method"] != "POST" or scope["path"] != "/graphql":
            return 404, b'{"errors":[{"message":"POST /graphql"}]}'
        key = next((v for k, v in scope["headers"] if k == b"x-api-key"), b"")
        if not hmac.compare_digest(key, self.api_key):
            return 401, b'{"errors":[{"errorType":"UnauthorizedException","message":"You are not authorized"}]}'
        chunks = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return 413, b'{"errors":[{"message":"request too large"}]}'
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        try:
            request = orjson.loads(b"".join(chunks))
            if not isinstance(request, dict) or not isinstance(request.get("query"), str):
                raise BadRequest("the body must be a JSON object with a query")
            variables = request.get("variables") or {}
            if not isinstance(variables, dict):
                raise BadRequest("variables must be an object")
            field, data = await self._operation(request["query"], variables)
        except KeyError as exc:
            return 200, orjson.dumps({"data": None, "errors": [{"errorType": "BadRequest",
                                                                  "message": f"missing variable {exc}"}]})
        except (orjson.JSONDecodeError, BadRequest, TypeError, ValueError) as exc:
            return 200, orjson.dumps({"data": None, "errors": [{"errorType": "BadRequest", "message": str(exc)}]})
        except asyncpg.PostgresError as exc:
            return 200, orjson.dumps({"data": None, "errors": [{"errorType": "DatabaseError", "message": str(exc)}]})
        return 200, orjson.dumps({"data": {field: data}})

    async def _operation(self, query: str, variables: dict[str, Any]) -> tuple[str, Any]:
        assert self.pool is not None
        if "getTodo(" in query:
            row = await self.pool.fetchrow(GET_SQL, str(variables["id"]))
            return "getTodo", None if row is None else dict(zip(COLUMNS, row, strict=True))
        if "listTodos(" in query:
            return "listTodos", await self._list(variables)
        if "createTodo(" in query:
            values = variables["input"]
            stamp = now_iso()
            tags = values.get("tags")
            row = await self.pool.fetchrow(
                INSERT_SQL, str(values.get("id") or uuid.uuid4()), values["content"], bool(values.get("done", False)),
                values.get("priority"), values.get("due"), None if tags is None else orjson.dumps(tags).decode(), stamp)
            return "createTodo", dict(zip(COLUMNS, row, strict=True))
        if "updateTodo(" in query:
            values = variables["input"]
            cols = tuple(c for c in UPDATABLE if c in values)
            sql = self.update_sql.get(cols)
            if sql is None:
                sets = ", ".join(f'"{c}" = ${i}' for i, c in enumerate(cols, 1))
                n = len(cols)
                sql = self.update_sql[cols] = (f'UPDATE "Todo" SET {sets}, "updatedAt" = ${n + 1} '
                                               f'WHERE "id" = ${n + 2}' + RETURNING)
            row = await self.pool.fetchrow(sql, *(values[c] for c in cols), now_iso(), str(values["id"]))
            if row is None:
                raise BadRequest("The conditional request failed")
            return "updateTodo", dict(zip(COLUMNS, row, strict=True))
        raise BadRequest("unknown operation: getTodo, listTodos, createTodo or updateTodo")

    async def _list(self, variables: dict[str, Any]) -> dict[str, Any]:
        assert self.pool is not None
        flt = variables.get("filter") or {}
        limit = int(variables.get("limit") or 100)
        if not 0 < limit <= 1000:
            raise BadRequest("limit must be between 1 and 1000")
        cols = tuple(sorted(flt))
        params: list[Any] = []
        for c in cols:
            condition = flt[c]
            if c not in FILTERABLE or not isinstance(condition, dict) or set(condition) != {"eq"}:
                raise BadRequest(f"this server filters only with {{field: {{eq: value}}}} on {sorted(FILTERABLE)}")
            params.append(condition["eq"])
        after = variables.get("nextToken")
        sql = self.list_sql.get((*cols, "+after" if after else ""))
        if sql is None:
            where = [f'"{c}" = ${i}' for i, c in enumerate(cols, 1)]
            if after:
                where.append(f'"id" > ${len(cols) + 1}')
            sql = SELECT + (" WHERE " + " AND ".join(where) if where else "")
            sql += f' ORDER BY "id" LIMIT ${len(where) + 1}'
            self.list_sql[(*cols, "+after" if after else "")] = sql
        if after:
            params.append(self._read_token(after))
        rows = await self.pool.fetch(sql, *params, limit + 1)
        items = [dict(zip(COLUMNS, row, strict=True)) for row in rows[:limit]]
        token = self._token(items[-1]["id"]) if len(rows) > limit else None
        return {"items": items, "nextToken": token, "__typename": "ModelTodoConnection"}

    # A signed next token, as Cove's are (a client cannot seek to an arbitrary key with a forged one).
    def _token(self, last_id: str) -> str:
        payload = base64.urlsafe_b64encode(last_id.encode()).decode()
        return payload + "." + hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def _read_token(self, token: str) -> str:
        payload, _, signature = str(token).partition(".")
        expected = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(signature, expected):
            raise BadRequest("Invalid nextToken")
        return base64.urlsafe_b64decode(payload.encode()).decode()


def split_url(url: str) -> tuple[str, str, int]:
    """(asyncpg DSN, schema, pool size): Cove's own `schema` and `pool_size` taken out of the URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise SystemExit(f"error: {url!r} is not a postgresql:// URL")
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = dict(query)
    schema = own.get("schema", "public")
    try:
        pool_size = int(own.get("pool_size", "10"))
    except ValueError:
        raise SystemExit("error: pool_size must be a whole number") from None
    rest = [(k, v) for k, v in query if k not in ("schema", "pool_size")]
    return urlunsplit(parts._replace(query=urlencode(rest))), schema, pool_size


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)   # one socket per process, as cove serve
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_one(app: Limit, sock: socket.socket, ready: int) -> int:
    config = uvicorn.Config(app, loop="uvloop", http="httptools", lifespan="on", access_log=False,
                            log_level="warning", log_config=None)
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            os.write(ready, b"x")
        await serving

    asyncio.run(main())
    return 0 if server.started else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True, help="postgresql://... with ?schema=NAME&pool_size=N")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--api-key", required=True, help="the x-api-key every request must carry")
    ap.add_argument("--reset-sessions", action="store_true",
                    help="keep asyncpg's reset query on every connection given back to the pool")
    args = ap.parse_args()
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    dsn, schema, pool_size = split_url(args.database_url)
    secret = hashlib.sha256(b"cove bench limit " + args.api_key.encode()).digest()
    sockets = [bind(args.host, args.port) for _ in range(args.workers)]
    ready_r, ready_w = os.pipe()
    children = []
    for i in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for j, other in enumerate(sockets):
                if j != i:
                    other.close()
            os.close(ready_r)
            code = 1
            try:
                code = serve_one(Limit(dsn, schema, pool_size, args.api_key, secret, args.reset_sessions), sockets[i],
                                 ready_w)
            finally:
                os._exit(code)
        children.append(pid)
    for sock in sockets:
        sock.close()
    os.close(ready_w)
    started = 0
    while started < args.workers:
        chunk = os.read(ready_r, 16)
        if not chunk:
            print("error: a worker exited before it listened", flush=True)
            break
        started += len(chunk)
    if started == args.workers:
        print(f"Ready: limit server on http://{args.host}:{args.port}/graphql, {args.workers} "
              f"worker{'s' if args.workers > 1 else ''}", flush=True)

    def forward(signum: int, _frame: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for pid in children:
        while True:
            try:
                _, code = os.waitpid(pid, 0)
                status = status or (code >> 8)
                break
            except InterruptedError:
                continue
    return status if started == args.workers else 1


if __name__ == "__main__":
    sys.exit(main())
