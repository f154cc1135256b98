"""bench/compare.py's arithmetic: which direction is worse, and what it reads from the harnesses' JSON."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_compare", BENCH / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_compare"] = module
    saved = list(sys.path)
    try:
        spec.loader.exec_module(module)  # it puts bench/ on sys.path to import run.py
    finally:
        sys.path[:] = saved  # so that bench/auth.py and friends shadow nothing in other tests
    return module


compare = _compare()


def figure(higher_is_better: bool, before: list[float], after: list[float]) -> Any:
    made = compare.Figure("f", higher_is_better)
    made.values["before"] += before
    made.values["after"] += after
    return made


def test_medians_and_the_change_between_them() -> None:
    rps = figure(True, [1000, 900, 5000], [800, 2000, 950])
    assert (rps.median("before"), rps.median("after")) == (1000, 950)
    assert rps.change() == -5.0
    assert not rps.worse()  # 5% exactly is within the bar


def test_worse_means_fewer_requests_or_more_milliseconds() -> None:
    assert figure(True, [1000], [940]).worse()
    assert not figure(True, [1000], [1200]).worse()
    assert figure(False, [10.0], [10.6]).worse()
    assert not figure(False, [10.0], [5.0]).worse()
    assert not figure(False, [10.0], []).worse()  # no figure after: nothing to judge


def test_the_table_marks_what_got_worse() -> None:
    figures = {"a": figure(True, [100], [50]), "b": figure(False, [1.0], [1.0])}
    figures["a"].name, figures["b"].name = "get req/s", "get p50 ms"
    text = compare.table(figures, markdown=True)
    assert "| get req/s | 100.00 | 50.00 | -50.0% | worse by more than 5% |" in text
    assert "| get p50 ms | 1.00 | 1.00 | +0.0% |  |" in text


def test_figures_are_read_from_both_harnesses_json() -> None:
    http = {"results": {"nested": {"rps": 900.0, "p50_ms": 20.0, "p99_ms": 40.0, "server_cpu_us": 800.0}}}
    assert list(compare.http_figures("HTTP 1 worker")(http)) == [
        ("HTTP 1 worker, nested, req/s", True, 900.0), ("HTTP 1 worker, nested, p50 ms", False, 20.0),
        ("HTTP 1 worker, nested, p99 ms", False, 40.0), ("HTTP 1 worker, nested, server CPU µs/request", False, 800.0)]
    realtime = {"latency": {"subscribers": 10, "p50": 1.0, "p99": 2.0}, "memory": None, "mutation": None,
                "observe": {"records": 5, "default": 0.25, "page100": 0.5}}
    names = [name for name, _, _ in compare.realtime_figures(realtime)]
    assert names == ["real time, event latency (10 subscribers), p50 ms",
                     "real time, event latency (10 subscribers), p99 ms",
                     "real time, observe_query over 5 records, ms", "real time, observe_query, pages of 100, ms"]
