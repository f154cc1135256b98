"""Cove on PostgreSQL, side by side with the limit (bench/limit_postgres.py) and PostGraphile 5.

Run from the repository root (PostgreSQL at 127.0.0.1:5432, database `test`, and wrk installed):

    .venv/bin/python bench/postgres.py                        # everything, 3 rounds: ~30 minutes
    .venv/bin/python bench/postgres.py --duration 3 --warmup 4 --servers limit,cove --workers 1 --growth-rows 0 --rounds 1
    .venv/bin/python bench/postgres.py --record               # also write the PostgreSQL section of results.md

For each worker count and each server: a schema of its own (dropped after), Cove's `Todo` table in
it, 10,000 rows seeded by one INSERT ... SELECT generate_series, the server started with that many
processes, each workload's exact request checked once, a warm-up of `--warmup` seconds spread over the
workloads, then get, list, create and update measured with wrk (`-c32`), every response checked by the
Lua script. Then, for `--growth-workers`, the table grows to `--growth-rows` rows and get and list are
measured again. All that `--rounds` times, the servers in a rotated order each round (a machine shared
with others moves one server's figure by a third from one minute to the next); the tables give each
figure's median round, and every round's req/s beside it. Any failed response, any error in a server's log or a table that is not Cove's makes
the run INVALID (exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from hashlib import md5
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx
from graphql import parse, print_ast

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402  (bench/run.py: documents, Lua checks, wrk, server process, results.md)
from postgres_report import Measurement, print_report, write_section  # noqa: E402

BENCH_DIR = harness.BENCH_DIR
REPO = harness.REPO
OUT_DIR = BENCH_DIR / "out" / "postgres"
SCHEMA_FILE = BENCH_DIR / "postgres_schema.py"
POSTGRAPHILE_DIR = BENCH_DIR / "peers" / "postgraphile"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SERVERS = ("limit", "postgraphile", "cove")
WORKLOADS = ("get", "list", "create", "update")
GROWTH_WORKLOADS = ("get", "list")

# PostGraphile's own documents for the four workloads: the same columns as Cove's selection set
# (`rowId` is the table's `id`; its `id` is the Relay node id, which the benchmark does not ask for).
PG_FIELDS = "rowId content done priority due tags listId createdAt updatedAt"
PG_RAW_DOCUMENTS = {
    "get": f"query($rowId: String!) {{ todoByRowId(rowId: $rowId) {{ {PG_FIELDS} }} }}",
    "list": ("query($condition: TodoCondition, $first: Int, $after: Cursor) { allTodos(condition: $condition, "
             f"first: $first, after: $after) {{ nodes {{ {PG_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"),
    "create": f"mutation($input: CreateTodoInput!) {{ createTodo(input: $input) {{ todo {{ {PG_FIELDS} }} }} }}",
    "update": ("mutation($input: UpdateTodoByRowIdInput!) { updateTodoByRowId(input: $input) "
               f"{{ todo {{ {PG_FIELDS} }} }} }}"),
}
PG_DOCUMENTS = {name: print_ast(parse(doc)) + "\n" for name, doc in PG_RAW_DOCUMENTS.items()}
SLOT = "@@{}@@"
PG_VARIABLES: dict[str, dict[str, Any]] = {
    "get": {"rowId": SLOT.format("id")},
    "list": {"condition": {"priority": "high", "done": False}, "first": harness.LIST_LIMIT},
    "create": {"input": {"todo": {"content": SLOT.format("content"), "done": False, "priority": "medium",
                                  "due": "2025-06-30", "tags": ["bench", "create"]}}},
    "update": {"input": {"rowId": SLOT.format("id"),
                         "todoPatch": {"content": SLOT.format("content"), "done": SLOT.format("done")}}},
}
# Where each answer keeps the record(s), for the preflight's checks: (root field, path to the record).
ANSWER_PATHS = {
    "graphql": {"get": ("getTodo", ()), "list": ("listTodos", ("items",)),
                "create": ("createTodo", ()), "update": ("updateTodo", ())},
    "postgraphile": {"get": ("todoByRowId", ()), "list": ("allTodos", ("nodes",)),
                     "create": ("createTodo", ("todo",)), "update": ("updateTodoByRowId", ("todo",))},
}


def expectations(dialect: str, workload: str) -> list[str]:
    """Lua patterns every answer must match: the record is there (a list page is not empty), and a
    write answers with what it wrote."""
    root, path = ANSWER_PATHS[dialect][workload]
    key = "rowId" if dialect == "postgraphile" else "id"
    inner = "".join(f'{{%s*"{p}"%s*:%s*' for p in path)
    first = f'"{root}"%s*:%s*' + inner + (r"%[%s*{" if workload == "list" else "{")
    patterns = [first, f'"{key}"%s*:%s*"']
    if workload in ("create", "update"):
        patterns.append(f'"content"%s*:%s*"bench {workload} ')
    return patterns


def body_template(dialect: str, workload: str) -> tuple[list[str], list[str]]:
    """The request body as literal parts and slots; Cove and the limit get the SQLite benchmark's."""
    if dialect == "graphql":
        return harness.body_template(workload)
    text = json.dumps({"query": PG_DOCUMENTS[workload], "variables": PG_VARIABLES[workload]}, separators=(",", ":"))
    parts, slots, pos = [], [], 0
    for m in re.finditer(r'"@@(\w+)@@"', text):
        parts.append(text[pos:m.start()])
        slots.append(m.group(1))
        pos = m.end()
    parts.append(text[pos:])
    return parts, slots


# --------------------------------------------------------------------------------------------------
# The database: a schema per server, Cove's table layout, rows made by the database itself


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))


def plain_url(url: str) -> str:
    """The URL without Cove's own parameters (schema, pool_size), for asyncpg and node-postgres."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("schema", "pool_size")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def seed_id(i: int) -> str:
    """The id of seeded row i: the database computes the same, md5('todo-' || i)::uuid."""
    return str(uuid.UUID(md5(f"todo-{i}".encode()).hexdigest()))


# Row i as bench/run.py's seed_input(i) makes it, computed by the database; one INSERT ... SELECT.
SEED_EXPRESSIONS = {
    "id": "md5('todo-' || i)::uuid::text",
    "content": "'seed todo ' || lpad(i::text, greatest(5, length(i::text)), '0')",
    "done": "(i / 3) % 2 = 1",
    "priority": "(ARRAY['low', 'medium', 'high'])[i % 3 + 1]",
    "due": "to_char(date '2025-01-01' + (i % 365), 'YYYY-MM-DD')",
    "tags": """'["seed","group' || (i % 10) || '"]'""",
    "listId": "'list-' || lpad((i % 200)::text, 3, '0')",
    "createdAt": """to_char(timestamp '2026-01-01' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS".000Z"')""",
}
SEED_EXPRESSIONS["updatedAt"] = SEED_EXPRESSIONS["createdAt"]

# PostGraphile's table gets, as a PostGraphile app would, its ids and timestamps from the database
# (Cove and the limit make them in the server): defaults, and a trigger for updatedAt.
ISO_NOW = """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
POSTGRAPHILE_DDL = [
    f"""ALTER TABLE "Todo" ALTER "id" SET DEFAULT gen_random_uuid()::text,
        ALTER "createdAt" SET DEFAULT {ISO_NOW}, ALTER "updatedAt" SET DEFAULT {ISO_NOW}""",
    f"""CREATE FUNCTION todo_touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW."updatedAt" := {ISO_NOW}; RETURN NEW; END $$""",
    """CREATE TRIGGER todo_touch BEFORE UPDATE ON "Todo" FOR EACH ROW EXECUTE FUNCTION todo_touch()""",
]


async def connect(url: str, schema: str | None = None) -> asyncpg.Connection:
    settings = {"application_name": "cove_bench_driver"}
    if schema:
        settings["search_path"] = schema
    return await asyncpg.connect(plain_url(url), server_settings=settings)


async def make_layout(url: str, schema: str) -> str:
    """A schema holding Cove's own tables for the bench schema, made by Cove's migrator; the limit's
    and PostGraphile's `Todo` are copied from it (LIKE ... INCLUDING ALL: columns, types, collations,
    keys and indexes). Returns a note when Cove's PostgreSQL backend is missing and the copy falls
    back to the statements of Cove's generic SQL dialect."""
    from cove.schema.loader import SchemaSource
    from cove.store import open_backend

    cove_schema = SchemaSource(str(SCHEMA_FILE)).load().schema
    try:
        backend = open_backend(with_query(url, schema=schema, pool_size="1"))
    except ImportError:
        from cove.store.sql.dialect import Dialect
        from cove.store.sql.migrate import plan_migration, statements

        class NumberedDialect(Dialect):
            def param(self, params: list[Any], value: Any) -> str:
                params.append(value)
                return f"${len(params)}"

        con = await connect(url)
        try:
            await con.execute(f'CREATE SCHEMA "{schema}"')
            await con.execute(f'SET search_path = "{schema}"')
            for sql, _ in statements(plan_migration(cove_schema, {}, set()), NumberedDialect()):
                if '"_cove_meta"' not in sql:
                    await con.execute(sql)
        finally:
            await con.close()
        return ("Cove's PostgreSQL backend is not installed: tables made from cove.store.sql.dialect.Dialect's "
                "statements (not Cove's own layout)")
    try:
        await backend.open()
        await backend.migrator.apply_schema(cove_schema)
    finally:
        await backend.close()
    return ""


async def layout_signature(con: asyncpg.Connection, schema: str) -> list[str]:
    """Columns (name, type, collation) and indexes (definition, names and schema left out) of "Todo"."""
    columns = await con.fetch(
        """SELECT a.attname, format_type(a.atttypid, a.atttypmod), coalesce(co.collname, '')
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
           WHERE n.nspname = $1 AND c.relname = 'Todo' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
        schema)
    indexes = await con.fetch("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'Todo'", schema)
    out = [" ".join(r) for r in columns]
    out += sorted(re.sub(r"INDEX \S+ ON \S+\.", "INDEX ON ", r["indexdef"]).replace('"', "") for r in indexes)
    return out


async def prepare_schema(url: str, schema: str, layout: str, server: str) -> None:
    con = await connect(url)
    try:
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if server == "cove":
            return   # `cove serve` makes its own tables in its (new) schema
        await con.execute(f'CREATE SCHEMA "{schema}"')
        await con.execute(f'CREATE TABLE "{schema}"."Todo" (LIKE "{layout}"."Todo" INCLUDING ALL)')
        if server == "postgraphile":
            await con.execute(f'SET search_path = "{schema}"')
            for sql in POSTGRAPHILE_DDL:
                await con.execute(sql)
    finally:
        await con.close()


async def seed_rows(url: str, schema: str, start: int, stop: int) -> float:
    """Insert rows start..stop-1 (one statement), then VACUUM ANALYZE; returns the seconds it took."""
    con = await connect(url, schema)
    try:
        types = dict(await con.fetch(
            """SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
               JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = $1 AND c.relname = 'Todo' AND a.attnum > 0 AND NOT a.attisdropped""", schema))
        columns = [c for c in SEED_EXPRESSIONS if c in types]
        exprs = ", ".join(f"CAST({SEED_EXPRESSIONS[c]} AS {types[c]})" for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        t0 = time.monotonic()
        await con.execute(f'INSERT INTO "Todo" ({names}) SELECT {exprs} FROM generate_series($1::int, $2::int) AS i',
                          start, stop - 1, timeout=1800)
        await con.execute('VACUUM ANALYZE "Todo"', timeout=1800)
        return time.monotonic() - t0
    finally:
        await con.close()


async def row_count(url: str, schema: str) -> int:
    con = await connect(url, schema)
    try:
        return int(await con.fetchval('SELECT count(*) FROM "Todo"'))
    finally:
        await con.close()


async def drop_schema(url: str, schema: str) -> None:
    con = await connect(url)
    try:
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await con.close()


async def backend_pids(url: str, application_name: str) -> list[int]:
    con = await connect(url)
    try:
        rows = await con.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = $1", application_name)
        return [r["pid"] for r in rows]
    finally:
        await con.close()


# --------------------------------------------------------------------------------------------------
# CPU accounting from /proc: the server's processes, its database backends, and the whole machine


TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each process that still runs."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (everything but idle and iowait) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS


# --------------------------------------------------------------------------------------------------
# One server


@dataclass
class Target:
    name: str
    dialect: str                      # "graphql" (Cove's bodies) or "postgraphile"
    application_name: str
    command: list[str]
    shown: str = ""
    url: str = ""
    api_key: str = "bench-key"
    notes: list[str] = field(default_factory=list)


def make_target(name: str, args: argparse.Namespace, schema: str, port: int, workers: int, tmp: Path) -> Target:
    py = sys.executable
    db = with_query(args.database_url, schema=schema, pool_size=str(args.pool_size))
    if name == "cove":
        url = with_query(db, application_name="cove_bench_cove")
        cmd = [py, "-m", "cove", "serve", str(SCHEMA_FILE), "--database-url", url, "--port", str(port),
               "--data-dir", str(tmp / "data"), "--outputs", str(tmp / "amplify_outputs.json"),
               "--workers", str(workers)]
        target = Target(name, "graphql", "cove_bench_cove", cmd)
    elif name == "limit":
        cmd = [py, str(BENCH_DIR / "limit_postgres.py"), "--database-url", db, "--port", str(port),
               "--workers", str(workers), "--api-key", "bench-key"]
        target = Target(name, "graphql", "cove_bench_limit", cmd)
    else:
        node = POSTGRAPHILE_DIR / "node_modules" / ".bin" / "node"
        cmd = ["env", "NODE_ENV=production", str(node), str(POSTGRAPHILE_DIR / "server.mjs"),
               "--database-url", plain_url(args.database_url), "--schema", schema, "--port", str(port),
               "--workers", str(workers), "--pool-size", str(args.pool_size)]
        target = Target(name, "postgraphile", "cove_bench_postgraphile", cmd)
    target.url = f"http://127.0.0.1:{port}/graphql"
    target.shown = " ".join(shlex.quote(c) for c in cmd).replace(str(tmp), "$TMP").replace(
        str(REPO) + "/", "").replace(py, "python")
    return target


def ensure_postgraphile() -> None:
    """`npm ci` into bench/peers/postgraphile when its node_modules (or its Node 22) is missing."""
    if (POSTGRAPHILE_DIR / "node_modules" / ".bin" / "node").exists() and \
            (POSTGRAPHILE_DIR / "node_modules" / "postgraphile").is_dir():
        return
    if not shutil.which("npm"):
        raise SystemExit("error: PostGraphile needs npm to install it (bench/peers/postgraphile: npm ci)")
    print("installing PostGraphile 5 and Node 22 into bench/peers/postgraphile (npm ci) ...", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=POSTGRAPHILE_DIR, check=True)


def preflight(target: Target, ids: list[str], workloads: tuple[str, ...]) -> None:
    """Each workload's exact request once; the answer must hold the right data (a list page of 20
    records that all match the filter), or the run stops here with the answer shown."""
    headers = {**harness.BASE_HEADERS, "x-api-key": target.api_key}
    with httpx.Client(headers=headers, timeout=30) as client:
        for w in workloads:
            parts, slots = body_template(target.dialect, w)
            values = {"id": json.dumps(ids[0]), "content": json.dumps(f"bench {w} preflight"), "done": "true"}
            body = parts[0] + "".join(values[s] + p for s, p in zip(slots, parts[1:], strict=True))
            r = client.post(target.url, content=body)
            problem = _check_answer(target.dialect, w, r, ids[0])
            if problem:
                raise SystemExit(f"preflight {target.name} {w} failed ({problem}): HTTP {r.status_code} {r.text[:800]}")


def _check_answer(dialect: str, workload: str, r: httpx.Response, first_id: str) -> str:
    try:
        answer = r.json()
    except ValueError:
        return "not JSON"
    if r.status_code != 200 or not isinstance(answer, dict) or answer.get("errors"):
        return "an error"
    root, path = ANSWER_PATHS[dialect][workload]
    value = (answer.get("data") or {}).get(root)
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    key = "rowId" if dialect == "postgraphile" else "id"
    records = value if workload == "list" else [value]
    if not isinstance(records, list) or not all(isinstance(x, dict) for x in records):
        return "no record"
    if workload == "list":
        if len(records) != harness.LIST_LIMIT:
            return f"{len(records)} records, not {harness.LIST_LIMIT}"
        if any(x.get("priority") != "high" or x.get("done") is not False for x in records):
            return "a record that does not match the filter"
        if [x[key] for x in records] != sorted(x[key] for x in records):
            return "records not in id order"
    elif workload in ("get", "update") and records[0].get(key) != first_id:
        return f"the wrong record (wanted {first_id})"
    if workload in ("create", "update") and records[0].get("content") != f"bench {workload} preflight":
        return "the write is not in the answer"
    expected = {key, "content", "done", "priority", "due", "tags", "listId", "createdAt", "updatedAt"}
    if set(records[0]) != expected:
        return f"fields {sorted(records[0])}"
    return ""


def run_workload(target: Target, server: harness.Server, w: str, seconds: int, ids_file: Path,
                 args: argparse.Namespace, seed: int, label: str) -> Measurement:
    parts, slots = body_template(target.dialect, w)
    headers = {**harness.BASE_HEADERS, "x-api-key": target.api_key}
    script = OUT_DIR / f"{target.name}-{w}.lua"
    script.write_text(harness.lua_script(w, headers, parts, slots, expectations(target.dialect, w), ids_file, seed))
    wrk_args = argparse.Namespace(threads=args.threads, connections=args.connections, duration=seconds,
                                  timeout=args.timeout)
    server_before = harness.server_cpu_seconds(server.proc.pid)
    db_before = process_cpu(backend_pids_sync(args.database_url, target.application_name))
    busy_before, t0 = machine_busy(), time.monotonic()
    _, res = harness.run_wrk(w, target.url, script, wrk_args)
    wall = time.monotonic() - t0
    server_cpu = harness.server_cpu_seconds(server.proc.pid) - server_before
    # A pool grows on demand: a backend that appeared during the workload counts from zero.
    db_after = process_cpu(backend_pids_sync(args.database_url, target.application_name))
    pids = list(db_after)
    db_cpu = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in db_after.items())
    busy = machine_busy() - busy_before
    (OUT_DIR / f"{target.name}-{label}-{w}.wrk.txt").write_text(res.raw)
    n = max(res.requests, 1)
    wrk_cores = res.wrk_cpu_pct / 100
    m = Measurement(server=target.name, workload=w, phase=label, rps=res.rps, p50_ms=res.p50_ms,
                    p99_ms=res.p99_ms, requests=res.requests, errors=res.errors, error_detail=res.error_detail,
                    server_cpu_us=server_cpu / n * 1e6, db_cpu_us=db_cpu / n * 1e6 if pids else None,
                    db_backends=len(pids), wrk_cores=wrk_cores,
                    others_cores=max(0.0, busy / wall - server_cpu / wall - db_cpu / wall - wrk_cores))
    print(f"   {label:>7} {target.name:>12} {w:<6} {m.rps:>8,.0f} req/s  p50 {m.p50_ms:6.2f} ms  "
          f"p99 {m.p99_ms:6.2f} ms  errors {m.errors}  server {m.server_cpu_us:4.0f} µs/req  "
          f"db {'n/a' if m.db_cpu_us is None else f'{m.db_cpu_us:.0f}'} µs/req  "
          f"others {m.others_cores:.2f} cores", flush=True)
    for d in m.error_detail:
        print(f"   !! {d}", flush=True)
    return m


def backend_pids_sync(url: str, application_name: str) -> list[int]:
    return asyncio.run(backend_pids(url, application_name))


def write_ids(path: Path, ids: list[str]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in ids))
    return path


@dataclass
class Pass:
    server: str
    workers: int
    round: int = 1
    shown: str = ""
    seed_seconds: float = 0.0
    growth_seed_seconds: float = 0.0
    growth_rows: int = 0
    problems: list[str] = field(default_factory=list)
    layout: list[str] = field(default_factory=list)
    results: list[Measurement] = field(default_factory=list)


def measure_server(name: str, workers: int, layout: str, args: argparse.Namespace, run_id: str,
                   grow: bool, round_no: int = 1) -> Pass:
    schema = f"cove_bench_{run_id}_{name}_{workers}_r{round_no}"
    tmp = Path(tempfile.mkdtemp(prefix="cove-pgbench-"))
    port = harness.free_port()
    target = make_target(name, args, schema, port, workers, tmp)
    result = Pass(name, workers, round_no, target.shown)
    print(f"\n== round {round_no}/{args.rounds}: {name}, {workers} worker{'s' if workers > 1 else ''}: "
          f"{target.shown}", flush=True)
    asyncio.run(prepare_schema(args.database_url, schema, layout, name))
    server: harness.Server | None = None
    try:
        server = harness.Server(target.command, OUT_DIR / f"{name}-{workers}.log", ready_timeout=120)
        if name == "cove":
            target.api_key = json.loads((tmp / "amplify_outputs.json").read_text())["data"]["api_key"]
        result.layout = asyncio.run(_layout(args.database_url, schema))
        result.seed_seconds = asyncio.run(seed_rows(args.database_url, schema, 0, args.rows))
        print(f"   seeded {args.rows:,} rows in {result.seed_seconds:.1f} s", flush=True)
        ids = [seed_id(i) for i in range(args.rows)]
        ids_file = write_ids(OUT_DIR / "ids.txt", ids)
        preflight(target, ids, WORKLOADS)
        seed = random.randrange(1, 1 << 30)
        per_workload = math.ceil(args.warmup / len(WORKLOADS)) if args.warmup else 0
        for w in WORKLOADS if per_workload else ():
            result.results.append(run_workload(target, server, w, per_workload, ids_file, args, seed, "warm-up"))
        for w in WORKLOADS:
            result.results.append(run_workload(target, server, w, args.duration, ids_file, args, seed, "10k"))
        if grow:
            have = asyncio.run(row_count(args.database_url, schema))
            extra = max(0, args.growth_rows - have)
            result.growth_seed_seconds = asyncio.run(seed_rows(args.database_url, schema, args.rows, args.rows + extra))
            result.growth_rows = have + extra
            print(f"   grew to {result.growth_rows:,} rows in {result.growth_seed_seconds:.1f} s "
                  "(INSERT ... SELECT generate_series, VACUUM ANALYZE)", flush=True)
            sample = random.Random(seed).sample(range(args.rows + extra), min(50_000, args.rows + extra))
            grown_ids = write_ids(OUT_DIR / "ids-grown.txt", [seed_id(i) for i in sample])
            preflight(target, [seed_id(sample[0])], GROWTH_WORKLOADS)
            per = math.ceil(args.warmup / len(WORKLOADS)) if args.warmup else 0
            for w in GROWTH_WORKLOADS if per else ():
                result.results.append(run_workload(target, server, w, per, grown_ids, args, seed, "warm-up"))
            for w in GROWTH_WORKLOADS:
                result.results.append(run_workload(target, server, w, args.duration, grown_ids, args, seed, "grown"))
    finally:
        if server is not None:
            code = server.stop()
            result.problems = server.problems()
            if code not in (0, None, -15):
                result.problems.append(f"server exited with code {code}")
        asyncio.run(drop_schema(args.database_url, schema))
        shutil.rmtree(tmp, ignore_errors=True)
    return result


async def _layout(url: str, schema: str) -> list[str]:
    con = await connect(url)
    try:
        return await layout_signature(con, schema)
    finally:
        await con.close()


# --------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=DEFAULT_URL, help=f"PostgreSQL to use (default {DEFAULT_URL})")
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of " + ",".join(SERVERS))
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured workload (default 10)")
    ap.add_argument("--warmup", type=int, default=15, help="warm-up seconds per server, spread over the workloads")
    ap.add_argument("--rows", type=int, default=harness.SEED_COUNT, help="rows seeded (default 10,000)")
    ap.add_argument("--growth-rows", type=int, default=1_000_000, help="rows for the growth runs (0: none)")
    ap.add_argument("--growth-workers", default="2", help="worker counts that also run the growth (default 2)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="times each server is measured, in a rotated order each round; the tables give "
                         "the median round (default 3; the growth runs in the last round only)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    ap.add_argument("--timeout", type=int, default=5, help="wrk request timeout in seconds")
    ap.add_argument("--pool-size", type=int, default=10, help="database connections per server process (default 10)")
    ap.add_argument("--record", action="store_true", help="write the PostgreSQL section of bench/results.md")
    ap.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON")
    ap.add_argument("--note", default="", help="a sentence to record with the figures (e.g. which build of Cove)")
    args = ap.parse_args()

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not servers or set(servers) - set(SERVERS):
        ap.error(f"--servers takes some of {', '.join(SERVERS)}")
    try:
        worker_counts = [int(w) for w in args.workers.split(",")]
        growth_workers = {int(w) for w in args.growth_workers.split(",") if w.strip()}
    except ValueError:
        ap.error("--workers and --growth-workers take whole numbers, e.g. 1,2")
    if any(w < 1 for w in worker_counts) or args.rows < harness.LIST_LIMIT * 6 or args.duration < 1 or args.rounds < 1:
        ap.error("workers must be >= 1, --rows >= 120, --duration >= 1 and --rounds >= 1")
    if not shutil.which("wrk"):
        ap.error("wrk is not installed (apt-get install wrk)")
    if "postgraphile" in servers:
        ensure_postgraphile()
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    run_id = f"{os.getpid()}_{int(time.time()) % 100000}"
    layout_schema = f"cove_bench_{run_id}_layout"
    try:
        layout_note = asyncio.run(make_layout(args.database_url, layout_schema))
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"error: cannot prepare the database at {urlsplit(args.database_url).hostname}: {exc}") from exc
    if layout_note:
        print(f"!! {layout_note}", flush=True)
    started = dt.datetime.now(dt.UTC)
    passes: list[Pass] = []
    try:
        reference = asyncio.run(_layout(args.database_url, layout_schema))
        for round_no in range(1, args.rounds + 1):
            # Rotated each round: no server is always the one measured after another's writes.
            order = servers[(round_no - 1) % len(servers):] + servers[:(round_no - 1) % len(servers)]
            for workers in worker_counts:
                for name in order:
                    grow = args.growth_rows > args.rows and workers in growth_workers and round_no == args.rounds
                    p = measure_server(name, workers, layout_schema, args, run_id, grow, round_no)
                    if p.layout != reference:
                        p.problems.append("its Todo table differs from Cove's: " + "; ".join(
                            sorted(set(p.layout) ^ set(reference))))
                    passes.append(p)
    finally:
        asyncio.run(drop_schema(args.database_url, layout_schema))

    context = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": harness.machine_info(),
        "revision": harness.git_revision(),
        "command": " ".join([".venv/bin/python", "bench/postgres.py", *map(shlex.quote, sys.argv[1:])]),
        "args": vars(args),
        "layout_note": layout_note,
        "postgres": postgres_info(args.database_url),
    }
    invalid = print_report(passes, context)
    if args.json:
        Path(args.json).write_text(json.dumps({
            **{k: v for k, v in context.items() if k != "args"}, "valid": not invalid,
            "runs": [{"server": p.server, "workers": p.workers, "round": p.round, "command": p.shown, "problems": p.problems[:20],
                      "growth_rows": p.growth_rows, "results": [m.as_json() for m in p.results]} for p in passes],
        }, indent=1, default=str) + "\n")
    if args.record:
        write_section(passes, context, invalid)
        print(f"\nwrote {harness.RESULTS.relative_to(REPO)}")
    return 1 if invalid else 0


def postgres_info(url: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        con = await connect(url)
        try:
            names = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections")
            return {n: str(await con.fetchval(f"SHOW {n}")) for n in names}
        finally:
            await con.close()
    return asyncio.run(read())


if __name__ == "__main__":
    raise SystemExit(main())
