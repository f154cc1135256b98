"""Instructions per request of the WHOLE server process (all its threads), counted by callgrind.

    .venv/bin/python bench/server_callgrind.py                        # this checkout, create and list
    .venv/bin/python bench/server_callgrind.py --build /tmp/srv-before --clients 32
    .venv/bin/python bench/server_callgrind.py --cache-sim            # + simulated cache and branch misses

Starts `<build>/.venv/bin/python -m cove serve` (the bench schema, --workers 1, a fresh data dir) under
`valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes`, seeds it the way bench/run.py does
(200 TodoLists, 10,000 Todos, in the same process, as a wrk run finds it), then per workload: 200
warm-up requests, counters zeroed, instrumentation on, --requests requests over --clients keep-alive
connections (bench/run.py's documents and headers), 0.5 s more (background threads' work counts too),
instrumentation off, dump. Unlike wall-clock figures these counts do not depend on the machine's load:
create repeats to within about 1%; list moves by a few percent from run to run, nearly all of it in
libsqlite3 (the seeding's 32 requests in flight store the rows in a different order each time), so
compare several runs per build. It keeps about one core busy. The dumps (one file per thread) stay in
--out for callgrind_annotate (per function, --inclusive=yes; the object file is in brackets).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import run as bench  # noqa: E402  (the documents, headers and seeding of bench/run.py)

CACHE_SIM = ["--cache-sim=yes", "--branch-sim=yes", "--I1=32768,8,64", "--D1=49152,12,64", "--LL=2097152,16,64"]


def start(cmd: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    deadline = time.monotonic() + 600
    while "Ready" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("server did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.5)
    return proc


async def send(port: int, path: str, headers: dict[str, str], workload: str, first: int, count: int,
               clients: int) -> None:
    parts, slots = bench.body_template(workload)

    async def connection(numbers: range) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for n in numbers:
            values = {"content": json.dumps(f"bench {workload} c n{n}")}
            body = (parts[0] + "".join(values[s] + p for s, p in zip(slots, parts[1:], strict=True))).encode()
            head = f"POST {path} HTTP/1.1\r\ncontent-length: {len(body)}\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(head.encode() + body)
            response_head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"content-length: *(\d+)", response_head, re.I)
            if not response_head.startswith(b"HTTP/1.1 200") or length is None:
                raise SystemExit(f"{workload}: {response_head[:200]!r}")
            response = await reader.readexactly(int(length.group(1)))
            if b'"errors"' in response:
                raise SystemExit(f"{workload}: {response[:500]!r}")
        writer.close()

    await asyncio.gather(*(connection(range(first + k, first + count, clients)) for k in range(clients)))


def totals(path: str) -> dict[str, int]:
    events: list[str] = []
    for line in open(path):
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:"):
            return dict(zip(events, map(int, line.split()[1:]), strict=False))
    return {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=bench.REPO, help="a checkout with its own .venv (default: this one)")
    ap.add_argument("--workloads", default="create,list")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=1, help="keep-alive connections (wrk uses 32)")
    ap.add_argument("--cache-sim", action="store_true", help="also simulate caches and branch prediction")
    ap.add_argument("--out", type=Path, default=None, help="where the dumps go (default: a new temp dir)")
    args = ap.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="cove-callgrind-"))
    out.mkdir(parents=True, exist_ok=True)
    build = args.build.resolve()
    port = bench.free_port()
    outputs = out / "amplify_outputs.json"
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
           f"--callgrind-out-file={out}/cg.%p", *(CACHE_SIM if args.cache_sim else []),
           str(build / ".venv/bin/python"), "-m", "cove", "serve", str(build / "src/cove/example_schema.py"),
           "--port", str(port), "--data-dir", str(out / "data"), "--outputs", str(outputs), "--workers", "1"]
    server = start(cmd, out / "server.log", build)

    def control(*what: str) -> None:
        subprocess.run(["callgrind_control", *what, str(server.pid)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    try:
        cfg = json.loads(outputs.read_text())["data"]
        asyncio.run(bench.seed(cfg["url"], cfg["api_key"], bench.SEED_COUNT, bench.SEED_CONCURRENCY))
        host_path = re.match(r"https?://[^/]+(/.*)", cfg["url"])
        assert host_path is not None
        headers = {**bench.BASE_HEADERS, "host": f"127.0.0.1:{port}", "x-api-key": cfg["api_key"]}
        print(f"{build} ({out}): per request, thousands", flush=True)
        for workload in args.workloads.split(","):
            asyncio.run(send(port, host_path.group(1), headers, workload, 1_000_000, 200, args.clients))
            time.sleep(1.0)
            control("-z")
            control("-i", "on")
            asyncio.run(send(port, host_path.group(1), headers, workload, 0, args.requests, args.clients))
            time.sleep(0.5)
            control("-i", "off")
            control("-d", workload)
            dumps = [f for f in glob.glob(f"{out}/cg.{server.pid}.*") if totals(f).get("Ir")]
            dumps = [f for f in dumps if f"Trigger: dump {workload}" in open(f).read(4096)]
            threads = {re.sub(r".*-0*", "thread ", f): totals(f) for f in sorted(dumps)}
            total: dict[str, int] = {}
            for counts in threads.values():
                for event, n in counts.items():
                    total[event] = total.get(event, 0) + n
            shown = "  ".join(f"{name} {c['Ir'] / args.requests / 1000:.1f}" for name, c in threads.items())
            extra = "  ".join(f"{e} {n / args.requests / 1000:.2f}" for e, n in total.items() if e != "Ir")
            print(f"  {workload}: Ir {total.get('Ir', 0) / args.requests / 1000:.1f}  ({shown})  {extra}", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(120)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
