"""bench/postgres.py's figures: the tables it prints, and its section of bench/results.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import run as harness

if TYPE_CHECKING:
    from postgres import Pass

HEADING = "## PostgreSQL: Cove, the limit and PostGraphile 5"
LABELS = {"limit": "limit", "postgraphile": "PostGraphile 5", "cove": "Cove"}
# Issue 11's targets, with the same processes and durability for each server.
MIN_VS_POSTGRAPHILE = 1.3
MIN_VS_LIMIT = 0.7
MAX_P99_MS = 20.0
MAX_GROWTH = 1.5
NOISY_CORES = 0.2   # other work on the machine (median, in cores) above which a recorded run says it is noisy


@dataclass
class Measurement:
    server: str
    workload: str
    phase: str                  # "warm-up", "10k" or "grown"
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    error_detail: list[str] = field(default_factory=list)
    server_cpu_us: float = 0.0  # the server's processes, CPU per request
    db_cpu_us: float | None = None   # its PostgreSQL backends (by application_name), CPU per request
    db_backends: int = 0
    wrk_cores: float = 0.0
    others_cores: float = 0.0   # the rest of the machine's busy CPU meanwhile: other people's work

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _rounds(passes: list[Pass], server: str, workers: int, workload: str, phase: str) -> list[Measurement]:
    """The measurements of every round, in round order."""
    return [m for p in sorted(passes, key=lambda p: p.round) if p.server == server and p.workers == workers
            for m in p.results if m.workload == workload and m.phase == phase]


def _find(passes: list[Pass], server: str, workers: int, workload: str, phase: str) -> Measurement | None:
    """The median round's measurement (by req/s; its latencies and CPU are that same round's)."""
    found = sorted(_rounds(passes, server, workers, workload, phase), key=lambda m: m.rps)
    return found[(len(found) - 1) // 2] if found else None


def problems(passes: list[Pass]) -> list[str]:
    out = []
    for p in passes:
        where = f"{LABELS[p.server]}, {p.workers} worker{'s' if p.workers > 1 else ''}"
        out += [f"{where}: {m.phase} {m.workload} had {m.errors} errors ({'; '.join(m.error_detail)[:300]})"
                for m in p.results if m.errors]
        out += [f"{where}: {line[:300]}" for line in p.problems[:5]]
    return out


def _cell(v: float | None, fmt: str = "{:,.0f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def tables(passes: list[Pass]) -> list[str]:
    """Markdown: per worker count, the figures per server and the verdict per workload; the growth."""
    lines: list[str] = []
    worker_counts = sorted({p.workers for p in passes})
    servers = [s for s in LABELS if any(p.server == s for p in passes)]
    for workers in worker_counts:
        lines += [f"**{workers} worker{'s' if workers > 1 else ''} each**, 10,000 rows:", "",
                  "| workload | server | req/s | p50 ms | p99 ms | server CPU µs/req | database CPU µs/req "
                  "| others' CPU (cores) | errors |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for w in ("get", "list", "create", "update"):
            for s in servers:
                m = _find(passes, s, workers, w, "10k")
                if m is None:
                    continue
                lines.append(f"| {w} | {LABELS[s]} | {m.rps:,.0f} | {m.p50_ms:.2f} | {m.p99_ms:.2f} | "
                             f"{m.server_cpu_us:,.0f} | {_cell(m.db_cpu_us)} | {m.others_cores:.2f} | {m.errors} |")
        lines.append("")
        if "cove" in servers:
            lines += [f"Against the targets (Cove ≥ {MIN_VS_POSTGRAPHILE}x PostGraphile, ≥ {MIN_VS_LIMIT}x the "
                      f"limit, p99 < {MAX_P99_MS:g} ms):", "",
                      "| workload | Cove / PostGraphile | Cove / limit | Cove p99 ms | verdict |",
                      "|---|---:|---:|---:|---|"]
            for w in ("get", "list", "create", "update"):
                cove = _find(passes, "cove", workers, w, "10k")
                if cove is None:
                    continue
                peer = _find(passes, "postgraphile", workers, w, "10k")
                limit = _find(passes, "limit", workers, w, "10k")
                vs_peer = cove.rps / peer.rps if peer and peer.rps else None
                vs_limit = cove.rps / limit.rps if limit and limit.rps else None
                misses = []
                if vs_peer is not None and vs_peer < MIN_VS_POSTGRAPHILE:
                    misses.append("vs PostGraphile")
                if vs_limit is not None and vs_limit < MIN_VS_LIMIT:
                    misses.append("vs limit")
                if cove.p99_ms >= MAX_P99_MS:
                    misses.append("p99")
                verdict = "pass" if not misses else "below target: " + ", ".join(misses)
                lines.append(f"| {w} | {_cell(vs_peer, '{:.2f}x')} | {_cell(vs_limit, '{:.2f}x')} | "
                             f"{cove.p99_ms:.2f} | {verdict} |")
            lines.append("")
        rounds = max((p.round for p in passes), default=1)
        if rounds > 1:
            lines += [f"req/s in each round ({workers} worker{'s' if workers > 1 else ''}; the tables above "
                      "give the median one):", "",
                      "| workload | server | " + " | ".join(f"round {r}" for r in range(1, rounds + 1)) + " |",
                      "|---|---|" + "---:|" * rounds]
            for w in ("get", "list", "create", "update"):
                for s in servers:
                    each = _rounds(passes, s, workers, w, "10k")
                    if each:
                        lines.append(f"| {w} | {LABELS[s]} | " + " | ".join(f"{m.rps:,.0f}" for m in each) + " |")
            lines.append("")
    grown = [p for p in passes if p.growth_rows]
    if grown:
        lines += [f"**Growth**: get and list at {grown[0].growth_rows:,} rows against 10,000 in the same round (p99 target: "
                  f"within {MAX_GROWTH}x):", "",
                  "| server | workers | workload | req/s 10k | req/s grown | p99 ms 10k | p99 ms grown | p99 grown/10k |",
                  "|---|---:|---|---:|---:|---:|---:|---:|"]
        for p in grown:
            for w in ("get", "list"):
                # Both from the round that grew the table: the same server process, minutes apart.
                small = next((m for m in p.results if m.workload == w and m.phase == "10k"), None)
                big = next((m for m in p.results if m.workload == w and m.phase == "grown"), None)
                if small is None or big is None:
                    continue
                ratio = big.p99_ms / small.p99_ms if small.p99_ms else None
                lines.append(f"| {LABELS[p.server]} | {p.workers} | {w} | {small.rps:,.0f} | {big.rps:,.0f} | "
                             f"{small.p99_ms:.2f} | {big.p99_ms:.2f} | {_cell(ratio, '{:.2f}x')} |")
        lines.append("")
    return lines


def print_report(passes: list[Pass], context: dict[str, Any]) -> bool:
    """Print the tables; returns whether the run is invalid (and says why, loudly)."""
    print("\n" + "\n".join(tables(passes)))
    if context.get("layout_note"):
        print(f"!! {context['layout_note']}")
    found = problems(passes)
    if found:
        print("\n" + "!" * 78)
        print("!! INVALID RUN: figures from this run must not be quoted")
        for line in found[:20]:
            print("!! " + line)
        print("!" * 78)
    return bool(found)


def write_section(passes: list[Pass], context: dict[str, Any], invalid: bool) -> None:
    m = context["machine"]
    pg = context["postgres"]
    a = context["args"]
    lines = [HEADING, ""]
    if invalid:
        lines += ["> **INVALID RUN**: " + "; ".join(problems(passes)[:5]) + ". These figures must not be quoted.", ""]
    if context.get("layout_note"):
        lines += [f"> {context['layout_note']}.", ""]
    measured = [x for p in passes for x in p.results if x.phase != "warm-up"]
    others = sorted(x.others_cores for x in measured)
    if others and others[len(others) // 2] > NOISY_CORES:
        lines += [f"> **Noisy machine**: other work used {others[len(others) // 2]:.2f} cores (median; "
                  f"{others[0]:.2f} to {others[-1]:.2f}) of the {m['nproc']} while these figures were taken, so they "
                  "are far below what the servers do on a quiet machine, and the ratios between servers move "
                  "from run to run. Server CPU per request moves least. Re-run on a quiet machine before quoting.", ""]
    if a.get("note"):
        lines += [f"> {a['note']}", ""]
    lines += [
        f"- Date: {context['date']}; Cove revision {context['revision']}",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Linux {m['kernel']}; Python {m['python']}, "
        f"{m['wrk']}",
        f"- PostgreSQL {pg['server_version']} on the same machine: synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, shared_buffers={pg['shared_buffers']} (its defaults, the same for every server)",
        f"- Each server: its own schema, {a['pool_size']} database connections per process, one listening socket "
        "per process (SO_REUSEPORT). wrk, the servers and PostgreSQL share the CPUs.",
        "",
        "Command:", "", "```", context["command"], "```", "",
        "Servers (temporary paths abbreviated):", "", "```",
        *sorted({p.shown for p in passes}), "```", "",
        (f"{a['rounds']} round{'s' if a['rounds'] > 1 else ''}, the servers in a rotated order each round; "
         "each figure below is its median round's (by req/s). "
         f"Each server, each round: {a['rows']:,} rows seeded by one `INSERT ... SELECT generate_series` (as bench/run.py's "
         f"seeding makes them: one in six matches the list filter), a {a['warmup']} s warm-up spread over the four "
         f"workloads, then `wrk -t{a['threads']} -c{a['connections']} -d{a['duration']}s` per workload, every "
         "answer checked (status, no `errors`, the expected record). `others' CPU` is the rest of the machine's "
         "busy CPU during the workload: other people's work, which the figures share the machine with."),
        "",
        *tables(passes),
    ]
    found = problems(passes)
    if found:
        lines += ["Problems:", "", *[f"- {line}" for line in found[:20]], ""]
    text = harness.RESULTS.read_text() if harness.RESULTS.exists() else ""
    harness.RESULTS.write_text(harness.replace_section(text, HEADING, "\n".join(lines)))
