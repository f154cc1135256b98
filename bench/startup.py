"""Time from launching `cove sandbox` to its first successful GraphQL response.

Each run starts the sandbox on a fresh data directory (so it also creates the tables, the API key
and the outputs file), then sends `listTodos` as fast as it can until one succeeds.

    .venv/bin/python bench/startup.py [--runs 10] [--record]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERY = json.dumps({"query": "query { listTodos(limit: 1) { items { id } } }"}).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        outputs = Path(tmp) / "amplify_outputs.json"
        cmd = [sys.executable, "-m", "cove", "sandbox", "--port", str(port), "--data-dir", f"{tmp}/data",
               "--outputs", str(outputs), "--no-watch"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("sandbox exited")
                try:
                    key = json.loads(outputs.read_text())["data"]["api_key"]
                    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=QUERY,
                                                 headers={"x-api-key": key, "content-type": "application/json"})
                    with urllib.request.urlopen(req, timeout=2) as resp:
                        if resp.status == 200 and b'"listTodos"' in resp.read():
                            return time.perf_counter() - started
                except (OSError, ValueError, KeyError):
                    time.sleep(0.002)
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results.md")
    args = parser.parse_args()
    times = [one_run() for _ in range(args.runs)]
    line = (f"launch to first response, {args.runs} runs: median {statistics.median(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms (target: under 1,000 ms)")
    print(line)
    if args.record:
        path = ROOT / "bench" / "results.md"
        text = path.read_text() if path.exists() else ""
        marker = "## Sandbox start-up"
        section = (f"{marker}\n\nCommand: `.venv/bin/python bench/startup.py --runs {args.runs} --record` "
                   f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n- {line}\n")
        text = text.split(marker)[0].rstrip() + "\n\n" + section if marker in text else text.rstrip() + "\n\n" + section
        path.write_text(text)


if __name__ == "__main__":
    main()
