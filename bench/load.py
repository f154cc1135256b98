"""Latency of a small request while another client sends the heaviest request the cost budget allows.

Run from the repository root:

    .venv/bin/python bench/load.py                  # 10 s per phase
    .venv/bin/python bench/load.py --duration 5 --record

Starts `python -m cove serve tests/schemas/load_schema.py` on a free port with a fresh data directory,
seeds one blog with 300 posts, then measures `getTodo` from one keep-alive connection (httpx, one
request due every 20 ms, each timed from when it was due) for `--duration` seconds twice: alone, and
while a second process sends, back to back, `listPosts(limit: 300) { items { blog { posts(limit: 80) { items { id title blog { name } } } } } }`
(cost 48,901 of the default budget of 50,000: 24,000 nested posts, about 2 MB of JSON). `--record`
adds two phases: every request on the event loop, and the control, where the heavy client sends to a
second server process (what two cores shared with the heavy client cost the small request anyway).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import free_port  # noqa: E402

SCHEMA = REPO / "tests" / "schemas" / "load_schema.py"
RESULTS = REPO / "bench" / "results.md"
HEAVY = ("query ($b: ID!) { listPosts(limit: 300, filter: {blogId: {eq: $b}}) { items { blog { posts(limit: 80) "
         "{ items { id title blog { name } } } } } } }")
INTERVAL = 0.02  # a getTodo due every 20 ms
GET = "query ($id: ID!) { getTodo(id: $id) { id content done } }"
HEAVY_LOOP = """
import sys, time, httpx, orjson
url, key, blog, query, until = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
times = []
# orjson, not json: on a 2-core machine the heavy client's own parsing (2 MB each time) would take CPU
# from the server and show up in the small client's latency as if the server had caused it.
with httpx.Client(timeout=60, headers={"x-api-key": key}) as http:
    while time.time() < until:
        t = time.perf_counter()
        body = orjson.loads(http.post(url, json={"query": query, "variables": {"b": blog}}).content)
        assert "errors" not in body and len(body["data"]["listPosts"]["items"]) == 300, str(body)[:300]
        times.append(time.perf_counter() - t)
print(len(times), sum(times) / len(times))
"""


def start(data_dir: Path, extra: list[str]) -> tuple[subprocess.Popen[str], str, str]:
    port = free_port()
    outputs = data_dir / "amplify_outputs.json"
    proc = subprocess.Popen([sys.executable, "-m", "cove", "serve", str(SCHEMA), "--port", str(port),
                             "--data-dir", str(data_dir / "data"), "--outputs", str(outputs), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Ready"):
            break
    else:
        raise SystemExit("the server did not start")
    # Keep reading its output (the access log): a full pipe would block the server's writes.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, f"http://127.0.0.1:{port}/graphql", json.loads(outputs.read_text())["data"]["api_key"]


def seed(http: httpx.Client, url: str) -> tuple[str, str]:
    def gql(query: str) -> dict:
        body = http.post(url, json={"query": query}).json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    blog = gql('mutation { createBlog(input: {name: "bench"}) { id } }')["createBlog"]["id"]
    for start_at in range(0, 300, 20):
        gql("mutation { " + " ".join(f'p{i}: createPost(input: {{title: "post {i}", blogId: "{blog}"}}) {{ id }}'
                                     for i in range(start_at, start_at + 20)) + " }")
    todo = gql('mutation { createTodo(input: {content: "small"}) { id } }')["createTodo"]["id"]
    return blog, todo


def measure(http: httpx.Client, url: str, todo: str, seconds: float) -> list[float]:
    """Round trips of `getTodo`, one every INTERVAL s on a fixed schedule, each timed from when it
    was due: a request held up by a stalled server counts the stall, and so does every request
    due meanwhile (no coordinated omission)."""
    out = []
    start = time.perf_counter()
    i = 0
    while (due := start + i * INTERVAL) < start + seconds:
        i += 1
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        body = http.post(url, json={"query": GET, "variables": {"id": todo}}).json()
        out.append(time.perf_counter() - due)
        assert body["data"]["getTodo"]["id"] == todo, body
    return sorted(out)


def pct(times: list[float], p: float) -> float:
    return times[min(len(times) - 1, int(len(times) * p))] * 1000


def run(duration: float, inline: bool, control: bool = False) -> tuple[list[float], list[float], str]:
    """(getTodo alone, getTodo next to the heavy client, what the heavy client saw); ``control``: the
    heavy client sends to a second server process instead. On a 2-core machine the server, the small
    client and the heavy client share two cores: the control shows how much of the small request's
    tail comes from that sharing alone, so the difference is what sharing the server process costs."""
    with tempfile.TemporaryDirectory() as tmp:
        servers = [start(Path(tmp) / "small", ["--limit", "inline_cost=1000000000"] if inline else [])]
        try:
            if control:
                servers.append(start(Path(tmp) / "other", []))
            with httpx.Client(timeout=30, headers={"x-api-key": servers[0][2]}) as http:
                url = servers[0][1]
                blog, todo = seed(http, url)
                heavy_url, heavy_key = servers[-1][1], servers[-1][2]
                if control:
                    with httpx.Client(timeout=30, headers={"x-api-key": heavy_key}) as other:
                        blog, _ = seed(other, heavy_url)
                measure(http, url, todo, 1.0)  # warm up
                alone = measure(http, url, todo, duration)
                until = str(time.time() + duration + 1)
                heavy = subprocess.Popen([sys.executable, "-c", HEAVY_LOOP, heavy_url, heavy_key, blog, HEAVY, until],
                                         stdout=subprocess.PIPE, text=True)
                time.sleep(0.5)  # the heavy client is under way
                loaded = measure(http, url, todo, duration)
                out, _ = heavy.communicate(timeout=120)
                if heavy.returncode != 0:
                    raise SystemExit("the heavy client failed")
        finally:
            for proc, _, _ in servers:
                proc.terminate()
                stopping = time.perf_counter()
                try:
                    proc.wait(60)
                finally:
                    print(f"server stopped {time.perf_counter() - stopping:.1f} s after SIGTERM", file=sys.stderr)
    count, mean = out.split()
    return alone, loaded, f"{count} heavy requests back to back, {float(mean) * 1000:.0f} ms each"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("--record", action="store_true",
                        help="also run the --inline comparison and write the figures into bench/results.md")
    parser.add_argument("--inline", action="store_true",
                        help="for comparison: run every request on the event loop (--limit inline_cost=10**9)")
    args = parser.parse_args()
    alone, loaded, heavy_note = run(args.duration, args.inline)
    label = "on the event loop (`--limit inline_cost=1000000000`)" if args.inline else "in the reader thread"
    rows = [("alone", alone, ""), (f"heaviest allowed request running {label}", loaded, heavy_note)]
    if args.record and not args.inline:
        _, inline_loaded, inline_note = run(args.duration, True)
        rows.append(("heaviest allowed request running on the event loop (`--limit inline_cost=1000000000`)",
                     inline_loaded, inline_note))
        _, other_loaded, other_note = run(args.duration, False, control=True)
        rows.append(("control: the same heavy client, sending to a second server process", other_loaded, other_note))
    table = ["| getTodo while | requests | p50 ms | p90 ms | p99 ms | max ms | heavy client |",
             "|---|---|---|---|---|---|---|"]
    table += [f"| {name} | {len(t)} | {pct(t, 0.5):.2f} | {pct(t, 0.9):.2f} | {pct(t, 0.99):.2f} | {t[-1] * 1000:.1f} "
              f"| {note} |" for name, t, note in rows]
    print("\n".join(table))
    if args.record and not args.inline:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        stamp += ", load average %.1f on %d cores before the run" % (os.getloadavg()[0], os.cpu_count() or 0)
        section = (f"## A small request next to the heaviest allowed one\n\n"
                   f"Command: `.venv/bin/python bench/load.py --duration {args.duration:g} --record` ({stamp})\n\n"
                   "The heavy request: `listPosts(limit: 300) { items { blog { posts(limit: 80) { items { id title "
                   "blog { name } } } } } }`, cost 48,901 of the default budget of 50,000 (24,000 nested posts, "
                   "about 2 MB of JSON). `getTodo`: one due every 20 ms on one keep-alive connection, timed from when it "
                   "was due (so a stall counts for every request it delays). The control sends the same heavy requests "
                   "to a second server process: on 2 cores that is what the machine's sharing costs the small request "
                   "anyway, so the server's own part is the difference between it and the reader-thread row.\n\n"
                   + "\n".join(table) + "\n")
        text = RESULTS.read_text()
        pattern = re.compile(r"## A small request next to the heaviest allowed one\n.*?(?=\n## |\Z)", re.S)
        text = pattern.sub(section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
