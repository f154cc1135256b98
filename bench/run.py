"""HTTP benchmark for Cove: seed 10,000 Todos through the API, then measure with wrk.

Run from the repository root:

    .venv/bin/python bench/run.py                      # all workloads, 10 s each, 32 connections
    .venv/bin/python bench/run.py --duration 3 --only get,list
    .venv/bin/python bench/run.py --record             # also (re)write bench/results.md
    .venv/bin/python bench/run.py --json out.json      # also write the figures as JSON (bench/compare.py)

The server is started as a subprocess (`python -m cove serve ...`) on a free port with a fresh data
directory; wrk runs on the same machine. Every response is checked by the Lua script (HTTP status,
a GraphQL `"errors"` key, and the expected `data` field); any failure makes the run INVALID.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from graphql import parse, print_ast

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"  # gitignored: Lua scripts, raw wrk output, server log
RESULTS = BENCH_DIR / "results.md"
DEFAULT_SCHEMA = REPO / "src" / "cove" / "example_schema.py"

SEED_COUNT = 10_000
SEED_CONCURRENCY = 32
LIST_LIMIT = 20
# The nested workload: a page of to-do lists, each with its first to-dos (a hasMany per list) and
# each to-do's list again (a belongsTo per to-do): two relationships, two levels.
TODO_LISTS = 200
NESTED_LISTS = 20
NESTED_TODOS = 10
LIST_FILTER = {"priority": {"eq": "high"}, "done": {"eq": False}}
PRIORITIES = ("low", "medium", "high")

# Targets for the 2-core reference machine.
TARGET_RPS = {"get": 8000, "list": 5000, "create": 5000, "update": 5000, "nested": 1000}
TARGET_P99_MS = 15.0

# The selection set aws-amplify (data-schema runtime) sends for a model by default: every
# non-relational field of the model introspection, in its order (`list` is a belongsTo, so omitted).
SELECTION = "id content done priority due tags listId createdAt updatedAt"

# The documents as aws-amplify's generateGraphQLDocument builds them; the client then sends
# `print(parse(doc))`. graphql-core's print_ast gives the same text except that graphql-js 15 (the
# version aws-amplify 6 ships) ends a printed document with a newline, so one is appended.
# (Checked against aws-amplify 6.22.1 in tests/compat/node_modules: byte-identical.)
RAW_DOCUMENTS = {
    "get": f"query($id: ID!) {{ getTodo(id: $id) {{ {SELECTION} }} }}",
    "list": (
        "query($filter: ModelTodoFilterInput,$limit: Int,$nextToken: String) "
        "{ listTodos(filter: $filter,limit: $limit,nextToken: $nextToken) "
        f"{{ items {{ {SELECTION} }} nextToken __typename }} }}"
    ),
    "create": f"mutation($input: CreateTodoInput!) {{ createTodo(input: $input) {{ {SELECTION} }} }}",
    "update": f"mutation($input: UpdateTodoInput!) {{ updateTodo(input: $input) {{ {SELECTION} }} }}",
    "nested": (
        "query($limit: Int,$todos: Int) { listTodoLists(limit: $limit) "
        f"{{ items {{ id name todos(limit: $todos) {{ items {{ {SELECTION} list {{ id name }} }} nextToken }} }} "
        "nextToken } }"
    ),
}
DOCUMENTS = {name: print_ast(parse(doc)) + "\n" for name, doc in RAW_DOCUMENTS.items()}
ROOT_FIELD = {"get": "getTodo", "list": "listTodos", "create": "createTodo", "update": "updateTodo",
              "nested": "listTodoLists"}
WORKLOADS = ("get", "list", "create", "update", "nested")

# Headers as the Amplify JS client sends them for API-key auth (plus x-api-key added at run time).
BASE_HEADERS = {
    "content-type": "application/json; charset=UTF-8",
    "x-amz-user-agent": "aws-amplify/6.22.1 api/1 framework/0",
}


# --------------------------------------------------------------------------------------------------
# Request bodies. Each workload's body is a JSON template with slots that the Lua script fills per
# request with ready-made JSON literals (an id string, a content string, a boolean).


def _slot(name: str) -> str:
    return f"@@{name}@@"


def body_template(workload: str) -> tuple[list[str], list[str]]:
    """Return (literal parts, slot names) so that body = p0 .. v0 .. p1 .. v1 .. ... .. pN."""
    if workload == "get":
        variables: dict[str, Any] = {"id": _slot("id")}
    elif workload == "list":
        variables = {"filter": LIST_FILTER, "limit": LIST_LIMIT}
    elif workload == "create":
        variables = {"input": {"content": _slot("content"), "done": False, "priority": "medium",
                               "due": "2025-06-30", "tags": ["bench", "create"]}}
    elif workload == "update":
        variables = {"input": {"id": _slot("id"), "content": _slot("content"), "done": _slot("done")}}
    elif workload == "nested":
        variables = {"limit": NESTED_LISTS, "todos": NESTED_TODOS}
    else:  # pragma: no cover
        raise ValueError(workload)
    text = json.dumps({"query": DOCUMENTS[workload], "variables": variables}, separators=(",", ":"))
    parts: list[str] = []
    slots: list[str] = []
    pattern = re.compile(r'"@@(\w+)@@"')
    pos = 0
    for m in pattern.finditer(text):
        parts.append(text[pos:m.start()])
        slots.append(m.group(1))
        pos = m.end()
    parts.append(text[pos:])
    return parts, slots


def lua_long_string(s: str) -> str:
    level = 1
    while f"]{'=' * level}]" in s:
        level += 1
    eq = "=" * level
    # A newline right after the opening bracket is skipped by Lua, so never start with one.
    return f"[{eq}[{s}]{eq}]"


LUA_TEMPLATE = r"""
-- Generated by bench/run.py for workload %(workload)s. Do not edit.
wrk.method = "POST"
%(headers)s

local PARTS = { %(parts)s }
local SLOTS = { %(slots)s }
local EXPECT = { %(expect)s }  -- Lua patterns the body must match (the data field is an object, ...)
local IDS_FILE = %(ids_file)s

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(%(seed)d + 7919 * tid)
  ids = {}
  if #SLOTS > 0 then
    for line in io.lines(IDS_FILE) do ids[#ids + 1] = line end
  end
  sent = 0
  responses = 0
  non200 = 0
  gql_errors = 0
  unexpected = 0
  first_error = ""
  static_request = nil
  if #SLOTS == 0 then static_request = wrk.format(nil, nil, nil, PARTS[1]) end
end

local function value(slot)
  if slot == "id" then
    return ids[math.random(#ids)]
  elseif slot == "content" then
    return string.format('"bench %(workload)s t%%d n%%d"', tid, sent)
  elseif slot == "done" then
    if sent %% 2 == 0 then return "true" else return "false" end
  end
  error("unknown slot " .. slot)
end

function request()
  sent = sent + 1
  if static_request then return static_request end
  local buf = { PARTS[1] }
  for i = 1, #SLOTS do
    buf[#buf + 1] = value(SLOTS[i])
    buf[#buf + 1] = PARTS[i + 1]
  end
  return wrk.format(nil, nil, nil, table.concat(buf))
end

local function note(kind, status, body)
  if first_error == "" then
    first_error = kind .. " status=" .. status .. " body=" .. string.sub(body or "", 1, 400)
  end
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    non200 = non200 + 1
    note("http", status, body)
  elseif string.find(body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
    note("graphql", status, body)
  else
    for _, pattern in ipairs(EXPECT) do
      if not string.find(body, pattern) then
        unexpected = unexpected + 1
        note("unexpected", status, body)
        break
      end
    end
  end
end

local function jstr(s)
  s = string.gsub(s, '[%%c"\\]', function(c) return string.format("\\u%%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local t = { responses = 0, non200 = 0, gql_errors = 0, unexpected = 0 }
  local first = ""
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
    local fe = thread:get("first_error")
    if first == "" and fe and fe ~= "" then first = fe end
  end
  io.write(string.format(
    'COVE_BENCH {"responses":%%d,"non200":%%d,"gql_errors":%%d,"unexpected":%%d,' ..
    '"completed":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"p999_us":%%d,' ..
    '"max_us":%%d,"mean_us":%%.1f,"connect_errors":%%d,"read_errors":%%d,"write_errors":%%d,' ..
    '"timeouts":%%d,"status_errors":%%d,"first_error":%%s}\n',
    t.responses, t.non200, t.gql_errors, t.unexpected,
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status, jstr(first)))
end
"""


def write_lua(workload: str, api_key: str, ids_file: Path, out: Path, seed: int) -> Path:
    parts, slots = body_template(workload)
    headers = {**BASE_HEADERS, "x-api-key": api_key}
    path = out / f"{workload}.lua"
    path.write_text(lua_script(workload, headers, parts, slots, [f'"{ROOT_FIELD[workload]}"%s*:%s*{{'],
                               ids_file, seed))
    return path


def lua_script(workload: str, headers: dict[str, str], parts: list[str], slots: list[str], expect: list[str],
               ids_file: Path, seed: int) -> str:
    """The wrk script for one workload: the body's literal parts and slots (see body_template), and
    the Lua patterns every response body must match (bench/postgres.py gives each server its own)."""
    header_lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    return LUA_TEMPLATE % {
        "workload": workload,
        "headers": header_lines,
        "parts": ", ".join(lua_long_string(p) for p in parts),
        "slots": ", ".join(json.dumps(s) for s in slots),
        "expect": ", ".join(json.dumps(e) for e in expect),
        "ids_file": json.dumps(str(ids_file)),
        "seed": seed,
    }


# --------------------------------------------------------------------------------------------------
# Server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The Cove server under test, with its combined stdout/stderr teed to a log file."""

    def __init__(self, cmd: list[str], log_path: Path, ready_timeout: float) -> None:
        self.cmd = cmd
        self.log_path = log_path
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     cwd=REPO, start_new_session=True)
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + ready_timeout
        while not self._ready.wait(0.1):
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise SystemExit(f"server exited with code {self.proc.returncode} before 'Ready':\n"
                                 + "".join(self.lines[-40:]))
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"server not ready after {ready_timeout:.0f}s:\n" + "".join(self.lines[-40:]))

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self._log.write(line)
            self._log.flush()
            if line.lstrip().startswith("Ready"):
                self._ready.set()
        self._log.close()

    def problems(self) -> list[str]:
        """Log lines that look like server-side failures (tracebacks, errors)."""
        bad = re.compile(r"Traceback|Exception|\bERROR\b|\bCRITICAL\b|Error:")
        return [line.rstrip("\n") for line in self.lines if bad.search(line)]

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


# --------------------------------------------------------------------------------------------------
# Seeding through the API


def seed_input(i: int) -> dict[str, Any]:
    # priority cycles low/medium/high; done flips every 3 records -> 1/6 match the list filter.
    return {
        "content": f"seed todo {i:05d}",
        "done": (i // 3) % 2 == 1,
        "priority": PRIORITIES[i % 3],
        "due": (dt.date(2025, 1, 1) + dt.timedelta(days=i % 365)).isoformat(),
        "tags": ["seed", f"group{i % 10}"],
        "listId": f"list-{i % TODO_LISTS:03d}",
    }


async def seed(url: str, api_key: str, count: int, concurrency: int) -> list[str]:
    """Create `count` Todos with `concurrency` requests in flight; any failure aborts the run."""
    headers = {**BASE_HEADERS, "x-api-key": api_key}
    ids: list[str | None] = [None] * count
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    # One httpx pool shared by 32 tasks spends its time on pool bookkeeping (~200 req/s here);
    # several small clients keep the seeding client-bound at roughly 1,000 req/s.
    clients = [httpx.AsyncClient(headers=headers, timeout=30) for _ in range(max(1, concurrency // 4))]

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            payload = {"query": DOCUMENTS["create"], "variables": {"input": seed_input(i)}}
            r = await client.post(url, content=json.dumps(payload, separators=(",", ":")))
            try:
                body = r.json()
            except ValueError:
                body = None
            if r.status_code != 200 or not isinstance(body, dict) or body.get("errors") \
                    or not isinstance((body.get("data") or {}).get("createTodo"), dict) \
                    or not body["data"]["createTodo"].get("id"):
                raise SystemExit(f"seeding failed at record {i}: HTTP {r.status_code} {r.text[:500]}")
            ids[i] = body["data"]["createTodo"]["id"]

    create_list = "mutation($input: CreateTodoListInput!) { createTodoList(input: $input) { id } }"
    for n in range(TODO_LISTS):   # the lists the to-dos belong to (the nested workload reads them)
        payload = {"query": create_list, "variables": {"input": {"id": f"list-{n:03d}", "name": f"list {n}"}}}
        r = await clients[0].post(url, content=json.dumps(payload, separators=(",", ":")))
        if r.status_code != 200 or "errors" in r.json():
            raise SystemExit(f"seeding failed at to-do list {n}: HTTP {r.status_code} {r.text[:500]}")
    try:
        await asyncio.gather(*(worker(clients[k % len(clients)]) for k in range(concurrency)))
    finally:
        for c in clients:
            await c.aclose()
    return [i for i in ids if i is not None]


def preflight(url: str, api_key: str, ids: list[str], workloads: list[str]) -> dict[str, int]:
    """Send each workload's exact request once and fail fast on errors; returns list page size."""
    headers = {**BASE_HEADERS, "x-api-key": api_key}
    info: dict[str, int] = {}
    with httpx.Client(headers=headers, timeout=30) as client:
        for w in workloads:
            parts, slots = body_template(w)
            values = {"id": json.dumps(ids[0]), "content": json.dumps(f"bench {w} preflight"), "done": "true"}
            body = parts[0] + "".join(values[s] + p for s, p in zip(slots, parts[1:], strict=True))
            r = client.post(url, content=body)
            data = r.json() if r.status_code == 200 else None
            if r.status_code != 200 or not isinstance(data, dict) or data.get("errors") \
                    or not isinstance((data.get("data") or {}).get(ROOT_FIELD[w]), dict):
                raise SystemExit(f"preflight {w} failed: HTTP {r.status_code} {r.text[:800]}")
            if w == "list":
                info["list_items"] = len(data["data"]["listTodos"]["items"])
    return info


# --------------------------------------------------------------------------------------------------
# wrk


@dataclass
class Result:
    workload: str
    rps: float = 0.0
    p50_ms: float = 0.0
    p75_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    errors: int = 0
    error_detail: list[str] = field(default_factory=list)
    wrk_cpu_pct: float = 0.0
    server_cpu_us: float = 0.0  # the server's CPU time per request
    raw: str = ""

    @property
    def valid(self) -> bool:
        return self.errors == 0 and self.requests > 0

    def meets(self) -> tuple[bool, bool]:
        return self.rps >= TARGET_RPS[self.workload], self.p99_ms <= TARGET_P99_MS

    def as_json(self) -> dict[str, Any]:
        return {"rps": self.rps, "p50_ms": self.p50_ms, "p75_ms": self.p75_ms, "p90_ms": self.p90_ms,
                "p99_ms": self.p99_ms, "requests": self.requests, "errors": self.errors,
                "server_cpu_us": self.server_cpu_us, "wrk_cpu_pct": self.wrk_cpu_pct, "valid": self.valid}


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(workload: str, text: str) -> Result:
    res = Result(workload, raw=text)
    if m := re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE):
        res.rps = float(m.group(1))
    for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE):
        setattr(res, f"p{m.group(1)}_ms", _to_ms(m.group(2), m.group(3)))
    if m := re.search(r"^\s+(\d+) requests in", text, re.MULTILINE):
        res.requests = int(m.group(1))

    problems: list[str] = []
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        c, r, w, t = map(int, m.groups())
        if c + r + w + t:
            problems.append(f"socket errors: connect {c}, read {r}, write {w}, timeout {t}")
            res.errors += c + r + w + t
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        problems.append(f"wrk non-2xx/3xx: {m.group(1)}")

    if m := re.search(r"^COVE_BENCH (\{.*\})\s*$", text, re.MULTILINE):
        stats = json.loads(m.group(1))
        for key in ("non200", "gql_errors", "unexpected"):
            if stats[key]:
                problems.append(f"{key}: {stats[key]}")
                res.errors += stats[key]
        if stats["first_error"]:
            problems.append(f"first: {stats['first_error']}")
    else:
        problems.append("Lua summary missing: error counts unknown")
        res.errors += 1
    if not res.rps or not res.p99_ms:
        problems.append("could not parse Requests/sec or latency distribution from wrk output")
        res.errors += 1
    res.error_detail = problems
    return res


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server process and its worker processes, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for p in [str(pid), *children]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def run_wrk(workload: str, url: str, script: Path, args: argparse.Namespace) -> tuple[list[str], Result]:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
           "--timeout", f"{args.timeout}s", "-s", str(script), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = proc.stdout + (("\n[stderr]\n" + proc.stderr) if proc.stderr.strip() else "")
    res = parse_wrk(workload, text)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    res.wrk_cpu_pct = 100.0 * cpu / wall if wall else 0.0
    if proc.returncode != 0:
        res.errors += 1
        res.error_detail.insert(0, f"wrk exited with code {proc.returncode}: {proc.stderr.strip()[:300]}")
    return cmd, res


# --------------------------------------------------------------------------------------------------
# Reporting


def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.splitlines()
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version[0].split(" Copyright")[0].strip() if wrk_version else "unknown",
    }


def git_revision() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO, check=False).stdout.strip()
    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    return rev + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def fmt_table(results: list[Result], markdown: bool) -> str:
    head = ["workload", "req/s", "target req/s", "p50 ms", "p99 ms", "target p99", "errors", "wrk CPU", "verdict"]
    rows = []
    for r in results:
        rps_ok, p99_ok = r.meets()
        verdict = "INVALID (errors)" if not r.valid else ("pass" if rps_ok and p99_ok else "below target")
        rows.append([r.workload, f"{r.rps:,.0f}", f"≥ {TARGET_RPS[r.workload]:,}", f"{r.p50_ms:.2f}",
                     f"{r.p99_ms:.2f}", f"≤ {TARGET_P99_MS:g}", str(r.errors), f"{r.wrk_cpu_pct:.0f}%", verdict])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def write_results(results: list[Result], ctx: dict[str, Any]) -> None:
    m = ctx["machine"]
    invalid = [r for r in results if not r.valid]
    heading = f"## HTTP, {ctx.get('workers', 1)} worker{'s' if ctx.get('workers', 1) != 1 else ''}"
    lines = [heading, ""]
    if invalid or ctx["server_problems"]:
        lines += ["> **INVALID RUN**: "
                  + ("; ".join(f"`{r.workload}` had {r.errors} errors" for r in invalid) or "")
                  + ("; " if invalid and ctx["server_problems"] else "")
                  + (f"the server logged {len(ctx['server_problems'])} error/warning lines"
                     if ctx["server_problems"] else "")
                  + ". These figures must not be quoted.", ""]
    lines += [
        f"- Date: {ctx['date']}",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Linux {m['kernel']}",
        f"- Python {m['python']}, {m['wrk']}",
        f"- Cove revision: {ctx['revision']}",
        "- Load generator: wrk on the same machine, sharing the CPUs with the server",
        "",
        "Command:",
        "",
        "```",
        ctx["command"],
        "```",
        "",
        "Server (temporary paths abbreviated):",
        "",
        "```",
        ctx["server_cmd"],
        "```",
        "",
        f"Seeded {ctx['seeded']:,} Todos through `createTodo` in {ctx['seed_seconds']:.1f} s "
        f"({ctx['seeded'] / ctx['seed_seconds']:,.0f}/s with {SEED_CONCURRENCY} concurrent httpx requests); "
        f"{ctx['matching']:,} of them match the list filter"
        + (f" (the first page of 20 returned {ctx['list_items']} items)." if "list_items" in ctx else "."),
        "",
        (f"The to-dos belong to {TODO_LISTS} to-do lists; `nested` reads {NESTED_LISTS} lists with the first "
         f"{NESTED_TODOS} to-dos of each (a hasMany per list) and each to-do's list (a belongsTo per to-do)."),
        "",
        (f"Each workload: `wrk -t{ctx['threads']} -c{ctx['connections']} -d{ctx['duration']}s --latency`, "
         "one after the other against the same server."),
        "",
        fmt_table(results, markdown=True),
        "",
        ("`errors` counts every non-200 response, every body with a GraphQL `errors` key, every body without "
         "the expected data object, and wrk socket errors/timeouts. `wrk CPU` is the load generator's own CPU "
         "use (100% = one core) taken away from the server."),
        "",
    ]
    detailed = [r for r in results if r.error_detail]
    if detailed:
        lines += ["Error details:", ""]
        for r in detailed:
            lines += [f"- `{r.workload}`: " + "; ".join(d.replace("\n", " ") for d in r.error_detail)]
        lines.append("")
    if ctx["server_problems"]:
        lines += ["Server log error/warning lines (first 20):", "", "```"]
        lines += ctx["server_problems"][:20]
        lines += ["```", ""]
    lines += [
        "How to run:",
        "",
        "```",
        ".venv/bin/python bench/run.py --record            # full run, rewrites this section",
        ".venv/bin/python bench/run.py --duration 3 --only get,list   # quick look, prints only",
        "```",
        "",
        "See `bench/README.md` for what each workload sends and how to read the figures.",
        "",
    ]
    RESULTS.write_text(replace_section(RESULTS.read_text() if RESULTS.exists() else "", heading,
                                       "\n".join(lines)))


def replace_section(text: str, heading: str, section: str) -> str:
    """Swap one `## ...` section of results.md, keeping the others (auth, real-time, start-up)."""
    title = "# Cove benchmark results\n\n"
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    parts = [p for p in ("\n" + body).split("\n## ") if p.strip()]
    sections = {"## " + p.split("\n", 1)[0].strip(): "## " + p.strip() + "\n" for p in parts}
    sections[heading] = section.rstrip() + "\n"
    order = sorted(sections, key=lambda h: (not h.startswith("## HTTP"), h))
    return title + "\n".join(sections[h] for h in order)


# --------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per workload (default 10)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    ap.add_argument("--timeout", type=int, default=5, help="wrk per-request timeout in seconds (default 5)")
    ap.add_argument("--workers", type=int, default=None, help="pass --workers N to the server")
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--schema", default=str(DEFAULT_SCHEMA), help="schema file (default: the bundled example)")
    ap.add_argument("--seed-count", type=int, default=SEED_COUNT, help=argparse.SUPPRESS)
    ap.add_argument("--server-cmd", default=f"{shlex.quote(sys.executable)} -m cove serve",
                    help="command that starts the server; schema and flags are appended "
                         "(default: '<python> -m cove serve'; use '... -m cove sandbox' if serve is missing)")
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for the server (repeatable)")
    ap.add_argument("--record", action="store_true", help="write bench/results.md")
    ap.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON (bench/compare.py reads it)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = ap.parse_args()

    workloads = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if not shutil.which("wrk"):
        ap.error("wrk is not installed (apt-get install wrk)")

    OUT_DIR.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cove-bench-"))
    port = free_port()
    outputs = tmp / "amplify_outputs.json"
    server_cmd = shlex.split(args.server_cmd) + [args.schema, "--port", str(port), "--data-dir",
                                                 str(tmp / "data"), "--outputs", str(outputs)]
    if args.workers:
        server_cmd += ["--workers", str(args.workers)]
    server_cmd += args.server_arg
    shown_server_cmd = " ".join(shlex.quote(c) for c in server_cmd).replace(str(tmp), "$TMP").replace(
        str(REPO) + "/", "").replace(sys.executable, "python")

    print(f"starting: {shown_server_cmd}", flush=True)
    server = Server(server_cmd, OUT_DIR / "server.log", ready_timeout=60)
    results: list[Result] = []
    try:
        cfg = json.loads(outputs.read_text())
        url, api_key = cfg["data"]["url"], cfg["data"]["api_key"]
        print(f"server ready at {url}", flush=True)

        t0 = time.monotonic()
        ids = asyncio.run(seed(url, api_key, args.seed_count, SEED_CONCURRENCY))
        seed_seconds = time.monotonic() - t0
        matching = sum(1 for i in range(args.seed_count)
                       if seed_input(i)["priority"] == "high" and not seed_input(i)["done"])
        print(f"seeded {len(ids):,} todos in {seed_seconds:.1f}s ({len(ids) / seed_seconds:,.0f}/s); "
              f"{matching:,} match the list filter", flush=True)

        ids_file = OUT_DIR / "ids.txt"
        ids_file.write_text("".join(json.dumps(i) + "\n" for i in ids))
        info = preflight(url, api_key, ids, workloads)

        run_seed = random.randrange(1, 1 << 30)
        for w in workloads:
            script = write_lua(w, api_key, ids_file, OUT_DIR, run_seed)
            print(f"\n== {w}: wrk -t{args.threads} -c{args.connections} -d{args.duration}s", flush=True)
            cpu_before = server_cpu_seconds(server.proc.pid)
            _, res = run_wrk(w, url, script, args)
            cpu_per_request = (server_cpu_seconds(server.proc.pid) - cpu_before) / max(res.requests, 1) * 1e6
            (OUT_DIR / f"{w}.wrk.txt").write_text(res.raw)
            res.server_cpu_us = cpu_per_request
            results.append(res)
            # Server CPU per request moves far less than req/s when other work shares the machine.
            print(f"   {res.rps:,.0f} req/s  p50 {res.p50_ms:.2f} ms  p99 {res.p99_ms:.2f} ms  "
                  f"errors {res.errors}  (wrk CPU {res.wrk_cpu_pct:.0f}%; server CPU "
                  f"{cpu_per_request:.0f} µs/request)", flush=True)
            for d in res.error_detail:
                print(f"   !! {d}", flush=True)
    finally:
        code = server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    problems = server.problems()
    print("\n" + fmt_table(results, markdown=False))
    invalid = [r for r in results if not r.valid]
    if invalid:
        print("\n" + "!" * 78)
        print("!! INVALID RUN: errors in " + ", ".join(f"{r.workload} ({r.errors})" for r in invalid))
        print("!! figures from a run with errors must not be quoted; details above and in bench/out/")
        print("!" * 78)
    if problems:
        print(f"\n!! server logged {len(problems)} error/warning lines (bench/out/server.log), first 10:")
        for line in problems[:10]:
            print("   " + line)
    if code not in (0, None, -15):
        print(f"\n!! server exited with code {code}")

    if args.json:
        Path(args.json).write_text(json.dumps({
            "revision": git_revision(), "workers": args.workers or 1, "duration": args.duration,
            "connections": args.connections, "seeded": len(ids),
            "results": {r.workload: r.as_json() for r in results},
            "valid": not invalid and not problems, "server_problems": problems[:20], **info,
        }, indent=1) + "\n")
    if args.record:
        command = " ".join([".venv/bin/python", "bench/run.py", *map(shlex.quote, sys.argv[1:])])
        write_results(results, {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info(),
            "revision": git_revision(),
            "command": command, "workers": args.workers or 1,
            "server_cmd": shown_server_cmd,
            "seeded": len(ids),
            "seed_seconds": seed_seconds,
            "matching": matching,
            "threads": args.threads,
            "connections": args.connections,
            "duration": args.duration,
            "server_problems": problems,
            **info,
        })
        print(f"\nwrote {RESULTS.relative_to(REPO)}")
    return 1 if invalid or problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
