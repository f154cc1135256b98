"""How fast the console loads: cold page loads in Debian's Chromium (Playwright) against a local sandbox.

Each run opens a fresh browser context (empty cache) and measures, from the navigation's start (the
page's own clock, performance.now()): the load event, the first data row of a model's table on screen
(200 records seeded, 25 shown), and, on a second cold load, the GraphQL explorer's editor on screen
(GraphiQL is a separate chunk loaded on demand). A MutationObserver installed before the page's own
scripts notes the moment each element appears.

    .venv/bin/python bench/console.py [--runs 10] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
MARKER = "## Console page load"
WATCH = """
new MutationObserver(() => {
  const seen = (selector) => document.querySelector(selector) !== null;
  if (!window.__rows && seen('[data-testid=records] tbody td:not(.muted)')) window.__rows = performance.now();
  if (!window.__editor && seen('.graphiql-query-editor .CodeMirror')) window.__editor = performance.now();
}).observe(document, { childList: true, subtree: true });
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(port: int, key: str, count: int) -> None:
    query = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }"
    for i in range(count):
        payload = {"query": query, "variables": {"i": {"content": f"todo {i}", "priority": "low"}}}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps(payload).encode(),
                                         headers={"x-api-key": key, "content-type": "application/json"})
        urllib.request.urlopen(request, timeout=10).read()


def measure(runs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        outputs = Path(tmp) / "amplify_outputs.json"
        proc = subprocess.Popen([sys.executable, "-m", "cove", "sandbox", "--port", str(port), "--data-dir",
                                 f"{tmp}/data", "--outputs", str(outputs), "--no-watch"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("Ready"):
                    break
            seed(port, json.loads(outputs.read_text())["data"]["api_key"], 200)
            results: dict[str, list[float]] = {"load event": [], "first records shown": [], "explorer editor shown": []}
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                for _ in range(runs):
                    for route, key, mark in (("data/Todo", "first records shown", "__rows"),
                                             ("explorer", "explorer editor shown", "__editor")):
                        context = browser.new_context(bypass_csp=True)  # lets Playwright poll with eval
                        page = context.new_page()
                        page.add_init_script(WATCH)
                        page.goto(f"http://127.0.0.1:{port}/console#/{route}", wait_until="load")
                        page.wait_for_function(f"window.{mark} !== undefined", timeout=10_000)
                        results[key].append(page.evaluate(f"window.{mark}"))
                        if key == "first records shown":
                            results["load event"].append(page.evaluate(
                                "performance.getEntriesByType('navigation')[0].loadEventEnd"))
                        context.close()
                browser.close()
            return results
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--record", action="store_true", help="write the figures into bench/results.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other work on the machine slows a browser noticeably
    results = measure(args.runs)
    lines = [f"- {name}, {args.runs} cold loads: median {statistics.median(v):.0f} ms, max {max(v):.0f} ms"
             for name, v in results.items()]
    print("\n".join(lines))
    if args.record:
        path = ROOT / "bench" / "results.md"
        text = path.read_text()
        section = (f"{MARKER}\n\nCommand: `.venv/bin/python bench/console.py --runs {args.runs} --record` "
                   f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Chromium headless, same machine; "
                   "times from the navigation's start; target: under 1,000 ms; load average during the run "
                   f"{load_before:.1f} -> {os.getloadavg()[0]:.1f} on 2 CPUs)\n\n" + "\n".join(lines) + "\n\n")
        if MARKER in text:
            before, rest = text.split(MARKER, 1)
            after = rest[rest.index("\n## "):].lstrip("\n") if "\n## " in rest else ""
            text = before + section + after
        elif "## Sandbox start-up" in text:  # startup.py rewrites from its marker to the end: stay before it
            before, after = text.split("## Sandbox start-up", 1)
            text = before + section + "## Sandbox start-up" + after
        else:
            text = text.rstrip() + "\n\n" + section
        path.write_text(text.rstrip() + "\n")


if __name__ == "__main__":
    main()
