"""Before/after benchmark of two revisions of Cove: alternated runs, medians, and the change in %.

    .venv/bin/python bench/compare.py --before d36c4f0                  # against HEAD, 3 rounds
    .venv/bin/python bench/compare.py --before d36c4f0 --after HEAD --record
    .venv/bin/python bench/compare.py --before main --rounds 1 --duration 2 --realtime-args '--skip memory,mutation'

Each revision is built once into its own detached git worktree with its own venv
(`/tmp/cove-compare/<commit>`, reused by later runs; `git worktree remove` one to rebuild it). Then,
for N rounds, every benchmark runs once per build, and the order of the two builds flips from round to
round (A B, B A, A B ...) so that the machine's drift falls on both: `bench/run.py` with 1 worker,
`bench/run.py --workers 2` and `bench/realtime.py`. Each runs under the build's Python, so the server
and the client library under test are the build's; the benchmark scripts are this checkout's, so both
builds face the same workloads (including ones an older revision's bench/ lacks). Uncommitted changes
are not part of any build: commit first.

The table shows, per figure, the median over the rounds for each build and the change; a figure more
than 5% worse is marked. `--record` writes it as a section of bench/results.md, headed with both
revisions and the command.

Time: a default compare takes about 15-20 minutes on a 2-core machine (per round and build: two
run.py runs of 5 workloads x `--duration` 5 s plus seeding, and a reduced realtime.py). Shorter:
`--rounds 1`, `--duration 2`, `--workers 1`, `--only get,list,nested`, `--no-realtime`, or fewer
real-time parts with `--realtime-args '--skip memory,mutation,observe --subscribers 300'`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
import run as http_bench  # noqa: E402  (bench/run.py: machine_info, replace_section, the workloads)

DEFAULT_BUILD_ROOT = Path("/tmp/cove-compare")
# Smaller than realtime.py's own defaults so that a compare fits in ~20 minutes; the memory part (10,000
# idle connections) measures no speed and is skipped.
DEFAULT_REALTIME_ARGS = ("--subscribers 1000 --events 100 --skip memory --fanout-subscribers 1000 "
                         "--mutations 200 --records 5000")
WORSE_BEYOND = 5.0  # percent


@dataclass
class Build:
    label: str  # "before" / "after"
    revision: str  # as given
    commit: str
    subject: str
    root: Path

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    def describe(self) -> str:
        return f"{self.commit[:10]} ({self.revision}: {self.subject})"


@dataclass
class Figure:
    """One figure of one benchmark, e.g. `HTTP 1 worker, get, req/s`, collected per build and round."""

    name: str
    higher_is_better: bool
    values: dict[str, list[float]] = field(default_factory=lambda: {"before": [], "after": []})

    def median(self, label: str) -> float | None:
        return statistics.median(self.values[label]) if self.values[label] else None

    def change(self) -> float | None:
        before, after = self.median("before"), self.median("after")
        if before is None or after is None or before == 0:
            return None
        return (after - before) / before * 100

    def worse(self) -> bool:
        change = self.change()
        if change is None:
            return False
        return change < -WORSE_BEYOND if self.higher_is_better else change > WORSE_BEYOND


def git(*args: str, cwd: Path = REPO) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def prepare(label: str, revision: str, build_root: Path, base_python: str) -> Build:
    """The build of ``revision``: a detached worktree plus a venv with `cove[server]` installed from it."""
    commit = git("rev-parse", "--verify", f"{revision}^{{commit}}")
    build = Build(label, revision, commit, git("log", "-1", "--format=%s", commit), build_root / commit[:12])
    if not (build.root / ".git").exists():
        if build.root.exists():
            raise SystemExit(f"{build.root} exists but is not a git worktree: remove it")
        print(f"[{label}] worktree {build.root} at {commit[:10]}", flush=True)
        build_root.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", str(build.root), commit)
    marker = build.root / ".venv" / "cove-compare-installed"
    if not marker.exists():
        print(f"[{label}] venv and `pip install -e .[server]` (once per revision)", flush=True)
        subprocess.run([base_python, "-m", "venv", str(build.root / ".venv")], check=True)
        installed = subprocess.run([str(build.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                    "-e", f"{build.root}[server]"], capture_output=True, text=True, check=False)
        if installed.returncode != 0:
            raise SystemExit(f"[{label}] pip install failed:\n{installed.stdout[-3000:]}{installed.stderr[-3000:]}")
        marker.write_text(commit + "\n")
    return build


@dataclass
class Job:
    """One benchmark run: its name, the harness command after the Python, and how to read its JSON."""

    name: str
    args: list[str]
    read: Callable[[dict[str, Any]], Iterator[tuple[str, bool, float]]]


def http_figures(prefix: str) -> Callable[[dict[str, Any]], Iterator[tuple[str, bool, float]]]:
    def read(data: dict[str, Any]) -> Iterator[tuple[str, bool, float]]:
        for workload, result in data["results"].items():
            yield f"{prefix}, {workload}, req/s", True, result["rps"]
            yield f"{prefix}, {workload}, p50 ms", False, result["p50_ms"]
            yield f"{prefix}, {workload}, p99 ms", False, result["p99_ms"]
            yield f"{prefix}, {workload}, server CPU µs/request", False, result["server_cpu_us"]
    return read


def realtime_figures(data: dict[str, Any]) -> Iterator[tuple[str, bool, float]]:
    if latency := data.get("latency"):
        yield f"real time, event latency ({latency['subscribers']} subscribers), p50 ms", False, latency["p50"]
        yield f"real time, event latency ({latency['subscribers']} subscribers), p99 ms", False, latency["p99"]
    if memory := data.get("memory"):
        yield f"real time, RSS with {memory['connections']} idle connections, MiB", False, memory["rss_after"]
    if mutation := data.get("mutation"):
        yield "real time, mutation round trip alone, p50 ms", False, mutation["alone_p50"]
        yield (f"real time, mutation round trip, {mutation['subscribers']} listening, p50 ms", False,
               mutation["listened_p50"])
        yield (f"real time, mutation round trip, {mutation['subscribers']} listening, p99 ms", False,
               mutation["listened_p99"])
    if observe := data.get("observe"):
        yield f"real time, observe_query over {observe['records']} records, ms", False, observe["default"] * 1000
        yield "real time, observe_query, pages of 100, ms", False, observe["page100"] * 1000


def jobs(args: argparse.Namespace) -> list[Job]:
    planned = []
    for workers in (int(w) for w in args.workers.split(",") if w.strip()):
        run_args = [str(BENCH_DIR / "run.py"), "--duration", str(args.duration), "--only", args.only]
        if workers > 1:
            run_args += ["--workers", str(workers)]
        label = f"HTTP {workers} worker{'s' if workers > 1 else ''}"
        planned.append(Job(label, run_args, http_figures(label)))
    if not args.no_realtime:
        planned.append(Job("real time", [str(BENCH_DIR / "realtime.py"), *shlex.split(args.realtime_args)],
                           realtime_figures))
    return planned


def run_job(job: Job, build: Build, log_dir: Path, round_no: int) -> tuple[dict[str, Any] | None, bool]:
    """Run ``job`` under ``build``'s Python; (its JSON figures or None, whether the run was valid)."""
    slug = job.name.replace(" ", "-")
    out = log_dir / f"round{round_no}-{slug}-{build.label}.json"
    log = log_dir / f"round{round_no}-{slug}-{build.label}.log"
    out.unlink(missing_ok=True)
    started = time.monotonic()
    with log.open("w") as sink:
        done = subprocess.run([str(build.python), *job.args, "--json", str(out)], cwd=build.root, stdout=sink,
                              stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    data = json.loads(out.read_text()) if out.exists() else None
    valid = done.returncode == 0 and data is not None and bool(data.get("valid", True))
    note = "" if valid else f"  !! INVALID (exit {done.returncode}; see {log})"
    print(f"  round {round_no}  {job.name:<16} {build.label:<6} {seconds:6.0f} s{note}", flush=True)
    return data, valid


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def table(figures: dict[str, Figure], markdown: bool) -> str:
    head = ["figure", "before", "after", "change", ""]
    rows = []
    for figure in figures.values():
        before, after, change = figure.median("before"), figure.median("after"), figure.change()
        mark = f"worse by more than {WORSE_BEYOND:g}%" if figure.worse() else ""
        rows.append([figure.name, _number(before), _number(after), "—" if change is None else f"{change:+.1f}%", mark])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|---:|---:|---:|---|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(head)]  # rows may be empty
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in [head, *rows])


def record(figures: dict[str, Figure], builds: list[Build], args: argparse.Namespace, invalid: list[str]) -> None:
    machine = http_bench.machine_info()
    heading = f"## Before/after: {builds[0].commit[:7]} vs {builds[1].commit[:7]}"
    command = " ".join([".venv/bin/python", "bench/compare.py", *map(shlex.quote, sys.argv[1:])])
    lines = [heading, ""]
    if invalid:
        lines += [f"> **INVALID RUN**: {len(invalid)} runs had errors ({'; '.join(invalid)}). "
                  "These figures must not be quoted.", ""]
    lines += [
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, Linux {machine['kernel']}, "
        f"Python {machine['python']}, {machine['wrk']}",
        f"- Before: {builds[0].describe()}",
        f"- After: {builds[1].describe()}",
        f"- {args.rounds} rounds, the two builds alternating (A B, B A, ...); medians over the rounds. "
        f"bench/run.py: {args.duration} s per workload; bench/realtime.py: "
        + ("not run" if args.no_realtime else f"`{args.realtime_args}`") + ".",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        table(figures, markdown=True),
        "",
        f"A change is after against before; a figure more than {WORSE_BEYOND:g}% worse (lower req/s, higher "
        "latency or CPU) is marked. See bench/README.md for what each workload sends.",
        "",
    ]
    path = http_bench.RESULTS
    path.write_text(http_bench.replace_section(path.read_text() if path.exists() else "", heading,
                                               "\n".join(lines)))
    print(f"\nwrote {path.relative_to(REPO)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the revision to compare against (e.g. a commit or main~1)")
    ap.add_argument("--after", default="HEAD", help="the revision under test (default HEAD)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of every benchmark per build (default 3)")
    ap.add_argument("--duration", type=int, default=5, help="bench/run.py seconds per workload (default 5)")
    ap.add_argument("--workers", default="1,2", help="bench/run.py runs, by server workers (default 1,2)")
    ap.add_argument("--only", default=",".join(http_bench.WORKLOADS), help="bench/run.py workloads (default all)")
    ap.add_argument("--realtime-args", default=DEFAULT_REALTIME_ARGS,
                    help=f"arguments for bench/realtime.py (default: {DEFAULT_REALTIME_ARGS})")
    ap.add_argument("--no-realtime", action="store_true", help="skip bench/realtime.py")
    ap.add_argument("--build-root", type=Path, default=DEFAULT_BUILD_ROOT,
                    help=f"where the worktrees and venvs go (default {DEFAULT_BUILD_ROOT})")
    ap.add_argument("--python", default="python3", help="the Python the venvs are made with (default python3)")
    ap.add_argument("--record", action="store_true", help="write the table into bench/results.md")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    started = time.monotonic()
    builds = [prepare("before", args.before, args.build_root, args.python),
              prepare("after", args.after, args.build_root, args.python)]
    for build in builds:
        print(f"{build.label}: {build.describe()}  [{build.root}]")
    log_dir = args.build_root / "logs" / f"{builds[0].commit[:7]}-{builds[1].commit[:7]}"
    log_dir.mkdir(parents=True, exist_ok=True)

    figures: dict[str, Figure] = {}
    invalid: list[str] = []
    for round_no in range(1, args.rounds + 1):
        order = builds if round_no % 2 else builds[::-1]
        for job in jobs(args):
            for build in order:
                data, valid = run_job(job, build, log_dir, round_no)
                if not valid:
                    invalid.append(f"round {round_no} {job.name} {build.label}")
                for name, higher_is_better, value in job.read(data) if data else ():
                    figure = figures.setdefault(name, Figure(name, higher_is_better))
                    figure.values[build.label].append(value)

    print(f"\nbefore: {builds[0].describe()}\nafter:  {builds[1].describe()}\n"
          f"medians of {args.rounds} round(s); {(time.monotonic() - started) / 60:.1f} minutes; logs in {log_dir}\n")
    print(table(figures, markdown=False))
    if invalid:
        print("\n!! INVALID RUNS (errors; figures must not be quoted): " + "; ".join(invalid))
    if args.record:
        record(figures, builds, args, invalid)
    return 1 if invalid else 0


if __name__ == "__main__":
    raise SystemExit(main())
