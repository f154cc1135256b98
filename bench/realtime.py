"""Real-time benchmarks against a real `cove serve` process.

1. Latency: 1,000 WebSocket subscribers (one connection and one `onCreateTodo` subscription each) on
   one server process; mutations are sent one at a time over HTTP, and for each event the time from
   the mutation's HTTP response to the event's arrival is taken at every subscriber. p50/p99 over
   all (event, subscriber) pairs. Target: p99 <= 50 ms.
2. Memory: a fresh server, 10,000 idle connections (connection_init + one subscription each);
   the server's RSS before and after. Target: <= 1 GB.
3. Mutation latency against fan-out: mutations sent back to back over one HTTP connection (each as
   soon as the previous response is read, not waiting for events), with no subscriber and then with
   2,000 subscribers (`--fanout-subscribers`) listening; p50/p99 of the round trip, then a check that
   every subscriber got every event. Fan-out must not sit on a mutation's path.
4. observe_query: 10,000 records seeded through the API, then the time from calling Cove's
   `observe_query()` to its first snapshot with `is_synced` (default page size 1,000, and 100 as
   aws-amplify pages).

The subscribers and the mutator are a minimal asyncio WebSocket/HTTP client written for this file
(masking, framing, no JSON parsing on the hot path), so the figures measure the server, not a client
library. Everything runs on this machine: the load generator shares the CPUs with the server.

    .venv/bin/python bench/realtime.py [--subscribers 1000] [--events 200] [--idle 10000] [--records 10000]
        [--fanout-subscribers 2000] [--mutations 300] [--skip latency,memory,mutation,observe] [--record]
        [--json PATH]

`--json PATH` also writes the figures as JSON (what bench/compare.py reads). The server and the
client library are whichever `cove` the running Python imports (its venv's), so another checkout's
venv can run this file against its own build.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "src" / "cove" / "example_schema.py"
RESULTS = ROOT / "bench" / "results.md"
MARKER = "## Real-time"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


CPUS = sorted(os.sched_getaffinity(0))


def server_process_setup() -> None:
    """The server gets the first CPU, the load generator the others (when there are two or more), so
    they do not preempt each other's event loops."""
    raise_fd_limit()
    if len(CPUS) > 1:
        os.sched_setaffinity(0, {CPUS[0]})


class Server:
    def __init__(self, tmp: Path, *extra: str) -> None:
        self.port = free_port()
        self.outputs = tmp / "amplify_outputs.json"
        # Every subscriber connects from 127.0.0.1: lift the per-address (and total) socket limits.
        cmd = [sys.executable, "-m", "cove", "serve", str(SCHEMA), "--port", str(self.port), "--data-dir",
               str(tmp / "data"), "--outputs", str(self.outputs), "--realtime-limit",
               "max_connections_per_address=100000", "--realtime-limit", "max_connections=100000", *extra]
        self.command = " ".join(cmd[1:]).replace(str(tmp), "$TMP").replace(str(ROOT) + "/", "")
        self.log = open(tmp / "server.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=server_process_setup)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (tmp / "server.log").read_text().find("Ready") >= 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + (tmp / "server.log").read_text())
            time.sleep(0.02)
        outputs = json.loads(self.outputs.read_text())
        self.api_key: str = outputs["data"]["api_key"]
        self.tmp = tmp

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def problems(self) -> list[str]:
        return [line for line in (self.tmp / "server.log").read_text().splitlines()
                if "Traceback" in line or "ERROR" in line]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


# -- a minimal WebSocket client -------------------------------------------------------------------


def masked_text(text: str) -> bytes:
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
                            if n < 65536 else bytes([0x80 | 127]) + n.to_bytes(8, "big"))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return head + mask + masked


class Subscriber(asyncio.Protocol):
    """One WebSocket to /graphql/realtime holding one subscription; records when each event arrives."""

    def __init__(self, port: int, api_key: str, start: str, arrivals: dict[int, list[float]] | None) -> None:
        header = base64.urlsafe_b64encode(json.dumps({"host": f"127.0.0.1:{port}", "x-api-key": api_key})
                                          .encode()).decode().rstrip("=")
        self.request = (f"GET /graphql/realtime HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-ws, header-{header}\r\n\r\n"
                        ).encode()
        self.start = start
        self.arrivals = arrivals
        self.buffer = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.events = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self.buffer + data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(buf[:200].decode("latin-1")))
                return
            self.upgraded = True
            buf = buf[end + 4:]
            assert self.transport is not None
            self.transport.write(masked_text('{"type":"connection_init"}') + masked_text(self.start))
        while len(buf) >= 2:
            opcode = buf[0] & 0x0F
            n = buf[1] & 0x7F
            offset = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n = int.from_bytes(buf[2:4], "big")
                offset = 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n = int.from_bytes(buf[2:10], "big")
                offset = 10
            if len(buf) < offset + n:
                break
            payload = buf[offset:offset + n]
            buf = buf[offset + n:]
            if opcode == 9:  # ping -> pong
                assert self.transport is not None
                mask = os.urandom(4)
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask
                                     + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
            elif opcode == 1:
                self.on_text(payload, now)
        self.buffer = buf

    def on_text(self, payload: bytes, now: float) -> None:
        if b'"type":"data"' in payload:
            self.events += 1
            if self.arrivals is not None:
                i = payload.find(b"ev-")
                seq = int(payload[i + 3:payload.index(b'"', i)])
                self.arrivals.setdefault(seq, []).append(now)
        elif b'"start_ack"' in payload:
            if not self.ready.done():
                self.ready.set_result(None)
        elif b'"error"' in payload and not self.ready.done():
            self.ready.set_exception(RuntimeError(payload.decode()))


def start_message(port: int, api_key: str) -> str:
    query = "subscription { onCreateTodo { id content done createdAt } }"
    return json.dumps({"id": "s", "type": "start", "payload": {
        "data": json.dumps({"query": query, "variables": {}}),
        "extensions": {"authorization": {"host": f"127.0.0.1:{port}", "x-api-key": api_key}}}})


async def open_subscribers(port: int, api_key: str, count: int, arrivals: dict[int, list[float]] | None,
                           batch: int = 250) -> list[Subscriber]:
    loop = asyncio.get_running_loop()
    start = start_message(port, api_key)
    subs: list[Subscriber] = []
    for first in range(0, count, batch):
        group = []
        for _ in range(min(batch, count - first)):
            sub = Subscriber(port, api_key, start, arrivals)
            await loop.create_connection(lambda s=sub: s, "127.0.0.1", port)  # type: ignore[misc]
            group.append(sub)
        await asyncio.wait_for(asyncio.gather(*(s.ready for s in group)), 60)
        subs += group
    return subs


class Mutator:
    """HTTP/1.1 keep-alive connection sending createTodo; returns when the response is read."""

    def __init__(self, port: int, api_key: str) -> None:
        self.port, self.api_key = port, api_key

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def create(self, content: str) -> float:
        body = json.dumps({"query": "mutation ($input: CreateTodoInput!) { createTodo(input: $input) "
                                    "{ id content done createdAt } }",
                           "variables": {"input": {"content": content}}}).encode()
        self.writer.write(f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                          f"content-type: application/json\r\nx-api-key: {self.api_key}\r\n"
                          f"content-length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        response = await self.reader.readexactly(length)
        now = time.perf_counter()
        assert head.startswith(b"HTTP/1.1 200") and b'"errors"' not in response, response[:300]
        return now


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


# -- the three benchmarks --------------------------------------------------------------------------


async def bench_latency(server: Server, subscribers: int, events: int) -> dict[str, Any]:
    arrivals: dict[int, list[float]] = {}
    subs = await open_subscribers(server.port, server.api_key, subscribers, arrivals)
    mutator = Mutator(server.port, server.api_key)
    await mutator.connect()
    for i in range(5):  # warm-up (plans, caches)
        await mutator.create(f"warm ev-{-1 - i}")
    await asyncio.sleep(0.5)
    sent: dict[int, float] = {}
    responded: dict[int, float] = {}
    missing = 0
    for seq in range(events):
        sent[seq] = time.perf_counter()
        responded[seq] = await mutator.create(f"ev-{seq}")
        deadline = time.perf_counter() + 10
        while len(arrivals.get(seq, ())) < subscribers and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        missing += subscribers - len(arrivals.get(seq, ()))
        await asyncio.sleep(0.01)
    mutator.writer.close()
    for s in subs:
        assert s.transport is not None
        s.transport.close()
    from_response = [(t - responded[seq]) * 1000 for seq in range(events) for t in arrivals.get(seq, ())]
    from_request = [(t - sent[seq]) * 1000 for seq in range(events) for t in arrivals.get(seq, ())]
    mutation_ms = [(responded[s] - sent[s]) * 1000 for s in range(events)]
    return {
        "subscribers": subscribers, "events": events, "samples": len(from_response), "missing": missing,
        "p50": statistics.median(from_response), "p99": percentile(from_response, 99),
        "max": max(from_response),
        "p50_request": statistics.median(from_request), "p99_request": percentile(from_request, 99),
        "mutation_p50": statistics.median(mutation_ms), "mutation_p99": percentile(mutation_ms, 99),
    }


async def mutation_round_trips(mutator: Mutator, count: int, label: str) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        responded = await mutator.create(f"{label} {i}")
        times.append((responded - started) * 1000)
    return times


async def hold_subscribers(port: int, api_key: str, count: int) -> None:
    """The subscriber side of bench_mutations, in its own process so that reading thousands of events
    does not delay the mutator's reading of its responses: opens `count` subscribers, prints "ready",
    then prints the number of events received on each line read from stdin."""
    subs = await open_subscribers(port, api_key, count, None)
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        print(sum(s.events for s in subs), flush=True)


async def bench_mutations(server: Server, subscribers: int, mutations: int) -> dict[str, Any]:
    mutator = Mutator(server.port, server.api_key)
    await mutator.connect()
    await mutation_round_trips(mutator, 20, "warm")
    alone = await mutation_round_trips(mutator, mutations, "alone")
    holder = subprocess.Popen([sys.executable, __file__, "--hold-subscribers", str(server.port), server.api_key,
                               str(subscribers)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None

    def events() -> int:
        holder.stdin.write("count\n")  # type: ignore[union-attr]
        holder.stdin.flush()  # type: ignore[union-attr]
        return int(holder.stdout.readline())  # type: ignore[union-attr]

    try:
        if holder.stdout.readline().strip() != "ready":
            raise RuntimeError("the subscriber process failed")
        await mutation_round_trips(mutator, 5, "warm")
        await asyncio.sleep(2.0)
        before = events()
        listened = await mutation_round_trips(mutator, mutations, "listened")
        deadline = time.perf_counter() + 120
        while events() - before < subscribers * mutations and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
        delivered = events() - before
    finally:
        holder.stdin.close()
        holder.wait(30)
    mutator.writer.close()
    return {"subscribers": subscribers, "mutations": mutations,
            "alone_p50": statistics.median(alone), "alone_p99": percentile(alone, 99),
            "listened_p50": statistics.median(listened), "listened_p99": percentile(listened, 99),
            "missing": subscribers * mutations - delivered}


async def bench_memory(server: Server, connections: int) -> dict[str, Any]:
    before = server.rss_mib()
    started = time.perf_counter()
    subs = await open_subscribers(server.port, server.api_key, connections, None)
    opened = time.perf_counter() - started
    await asyncio.sleep(2.0)
    after = server.rss_mib()
    # the server still works with all of them open
    mutator = Mutator(server.port, server.api_key)
    await mutator.connect()
    await mutator.create("memory check")
    mutator.writer.close()
    for s in subs:
        assert s.transport is not None
        s.transport.close()
    return {"connections": connections, "rss_before": before, "rss_after": after,
            "per_connection_kib": (after - before) * 1024 / connections, "open_seconds": opened}


async def seed(port: int, api_key: str, count: int) -> float:
    import httpx

    started = time.perf_counter()
    body_for = lambda i: {"query": "mutation ($input: CreateTodoInput!) { createTodo(input: $input) { id } }",  # noqa: E731
                          "variables": {"input": {"content": f"seed {i}", "priority": ["low", "medium", "high"][i % 3]}}}
    sem = asyncio.Semaphore(32)
    async with httpx.AsyncClient(timeout=60) as http:
        async def one(i: int) -> None:
            async with sem:
                r = await http.post(f"http://127.0.0.1:{port}/graphql", json=body_for(i), headers={"x-api-key": api_key})
                assert r.status_code == 200 and "errors" not in r.json(), r.text
        await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - started


def bench_observe(server: Server, records: int) -> dict[str, Any]:
    try:
        import cove
    except ImportError:  # run by a Python without cove installed: use this checkout's
        sys.path.insert(0, str(ROOT / "src"))
        import cove

    seeded = asyncio.run(seed(server.port, server.api_key, records))
    out: dict[str, Any] = {"records": records, "seed_seconds": seeded}
    client = cove.generate_client(config=server.outputs)
    for label, limit in (("default", None), ("page100", 100)):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with client.models.Todo.observe_query(limit=limit) as obs:
                snapshots = 0
                for snap in obs:
                    snapshots += 1
                    if snap.is_synced:
                        break
                times.append(time.perf_counter() - started)
                assert len(snap.items) >= records, len(snap.items)
        out[label] = min(times)
        out[label + "_median"] = statistics.median(times)
        out[label + "_snapshots"] = snapshots
    client.close()
    return out


# -- report ---------------------------------------------------------------------------------------


def report(args: argparse.Namespace, latency: dict[str, Any] | None, memory: dict[str, Any] | None,
           mutations: dict[str, Any] | None, observe: dict[str, Any] | None, commands: list[str],
           problems: list[str]) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [MARKER, "",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs ({cpu}); "
             f"Python {platform.python_version()}; load generator on the same machine"
             + (f" (server pinned to CPU {CPUS[0]}, load generator to the others)." if len(CPUS) > 1 else "."),
             f"- Command: `.venv/bin/python bench/realtime.py --subscribers {args.subscribers} --events {args.events} "
             f"--idle {args.idle} --records {args.records} --fanout-subscribers {args.fanout_subscribers} "
             f"--mutations {args.mutations}" + (f" --skip {args.skip}" if args.skip else "") + " --record`",
             "- Servers: " + "; ".join(f"`{c}`" for c in commands), ""]
    lines += ["| measurement | result | target | verdict |", "|---|---|---|---|"]
    if latency:
        ok = latency["p99"] <= 50 and latency["missing"] == 0
        lines.append(f"| event latency, mutation response -> event, {latency['subscribers']:,} subscribers x "
                     f"{latency['events']} events ({latency['samples']:,} samples) | p50 {latency['p50']:.1f} ms, "
                     f"p99 {latency['p99']:.1f} ms, max {latency['max']:.1f} ms | p99 <= 50 ms | "
                     f"{'pass' if ok else 'FAIL'} |")
        lines.append(f"| same, from the mutation request | p50 {latency['p50_request']:.1f} ms, "
                     f"p99 {latency['p99_request']:.1f} ms | | |")
        lines.append(f"| mutation round trip while 1,000 subscribers listen | p50 {latency['mutation_p50']:.1f} ms, "
                     f"p99 {latency['mutation_p99']:.1f} ms | | |")
    if memory:
        ok = memory["rss_after"] <= 1024
        lines.append(f"| server memory, {memory['connections']:,} idle connections (one subscription each) | "
                     f"RSS {memory['rss_after']:.0f} MiB (idle server {memory['rss_before']:.0f} MiB; "
                     f"{memory['per_connection_kib']:.1f} KiB per connection) | <= 1 GB | {'pass' if ok else 'FAIL'} |")
    if mutations:
        m = mutations
        lines.append(f"| mutation round trip, {m['mutations']} back to back, no subscriber | p50 "
                     f"{m['alone_p50']:.1f} ms, p99 {m['alone_p99']:.1f} ms | | |")
        lines.append(f"| same, {m['subscribers']:,} subscribers listening (each gets every event) | p50 "
                     f"{m['listened_p50']:.1f} ms, p99 {m['listened_p99']:.1f} ms | not growing with subscribers | "
                     f"{'pass' if m['missing'] == 0 else 'FAIL'} |")
    if observe:
        lines.append(f"| observe_query to is_synced over {observe['records']:,} records, pages of 1,000 (default) | "
                     f"{observe['default'] * 1000:.0f} ms (median of 3: {observe['default_median'] * 1000:.0f} ms; "
                     f"{observe['default_snapshots']} snapshots) | | |")
        lines.append(f"| same, pages of 100 (aws-amplify's) | {observe['page100'] * 1000:.0f} ms "
                     f"({observe['page100_snapshots']} snapshots) | | |")
    lines.append("")
    if mutations and mutations["missing"]:
        lines += [f"**{mutations['missing']} events of the back-to-back mutations never arrived.**", ""]
    if latency and latency["missing"]:
        lines += [f"**{latency['missing']} expected events never arrived.**", ""]
    if problems:
        lines += ["Server log problems:", "", "```", *problems[:20], "```", ""]
    lines += ["Latency is measured at each subscriber from the moment the mutator has read the mutation's HTTP "
              "response; events are fanned out after the response is written, so the figure is the fan-out "
              "time. Memory is the server process's VmRSS. Back-to-back mutations: the subscribers run in a "
              "separate process from the mutator, so reading their events does not delay its responses.", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--fanout-subscribers", type=int, default=2000)
    ap.add_argument("--mutations", type=int, default=300)
    ap.add_argument("--skip", default="", help="comma-separated: latency,memory,mutation,observe")
    ap.add_argument("--record", action="store_true", help=f"write the figures into bench/results.md ({MARKER})")
    ap.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON")
    ap.add_argument("--hold-subscribers", nargs=3, metavar=("PORT", "API_KEY", "COUNT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    raise_fd_limit()
    if args.hold_subscribers:
        port, key, count = args.hold_subscribers
        asyncio.run(hold_subscribers(int(port), key, int(count)))
        return 0
    if len(CPUS) > 1:
        os.sched_setaffinity(0, set(CPUS[1:]))
    skip = set(filter(None, args.skip.split(",")))
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    latency = memory = mutations = observe = None
    commands: list[str] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def on_fresh_server(name: str, run: Any) -> Any:
            """One benchmark against its own server; its command and log problems are reported."""
            (tmp / name).mkdir()
            server = Server(tmp / name)
            commands.append(server.command)
            try:
                result = run(server)
                print(f"{name}: {result}")
                return result
            finally:
                problems.extend(server.problems())
                server.stop()

        if "latency" not in skip:
            latency = on_fresh_server("latency", lambda server: asyncio.run(
                bench_latency(server, args.subscribers, args.events)))
        if "memory" not in skip:
            memory = on_fresh_server("memory", lambda server: asyncio.run(bench_memory(server, args.idle)))
        if "mutation" not in skip:
            mutations = on_fresh_server("mutation", lambda server: asyncio.run(
                bench_mutations(server, args.fanout_subscribers, args.mutations)))
        if "observe" not in skip:
            observe = on_fresh_server("observe", lambda server: bench_observe(server, args.records))
    text = report(args, latency, memory, mutations, observe, commands, problems)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "latency": latency, "memory": memory, "mutation": mutations, "observe": observe,
            "server_problems": problems[:20],
            "valid": not problems and not (latency or {}).get("missing") and not (mutations or {}).get("missing"),
        }, indent=1) + "\n")
    print()
    print(text)
    if args.record:
        current = RESULTS.read_text() if RESULTS.exists() else ""
        if MARKER in current:
            before, _, rest = current.partition(MARKER)
            after = rest.split("\n## ", 1)
            current = before.rstrip() + "\n\n" + text + ("\n## " + after[1] if len(after) > 1 else "")
        else:
            current = current.rstrip() + "\n\n" + text
        RESULTS.write_text(current.rstrip() + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
