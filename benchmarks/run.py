"""Benchmarks (`make bench`): time the hot paths and record them in docs/benchmarks.md.

Tests never assert wall-clock time; this script measures it and writes what it measured, with
the command and the machine, so numbers can be compared across commits.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from swarmscale.catalog import default_catalog
from swarmscale.catalog.loader import SHIPPED_CASES, load_cases
from swarmscale.hardware import build_cluster
from swarmscale.plan.search import search
from swarmscale.validate.runner import run_cases
from swarmscale.workload import TrainingJob

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
REPEATS = 5


def _time(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float]:
    """Median and best wall time of `repeats` runs after one warm-up."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def plan_search_405b() -> list[str]:
    catalog = default_catalog()
    job = TrainingJob(catalog.model("llama3-405b"), 8192, 2048, tokens=15.6e12)
    cluster = build_cluster(catalog, "h100-sxm", 16384, "hgx-h100-8")
    result = search(job, cluster)
    median, best = _time(lambda: search(job, cluster))
    assert result.best is not None
    return [
        "## Plan search: Llama 3.1 405B on 16,384 H100 (seq 8192, 2,048 sequences per step)",
        "",
        "| plans evaluated | feasible | median wall s | best wall s | plans per second |",
        "|---|---|---|---|---|",
        f"| {result.evaluated:,} | {result.feasible:,} | {median:.3f} | {best:.3f} | "
        f"{result.evaluated / median:,.0f} |",
        "",
        f"Best plan found: `{result.best.plan.describe()}`, MFU {100 * result.best.mfu:.1f}%.",
        "Goal from issue 3: the whole search under 2 s on a 2-core machine.",
    ]


def validation_suite() -> list[str]:
    catalog = default_catalog()
    cases = load_cases(SHIPPED_CASES / "training.yaml")
    median, best = _time(lambda: run_cases(cases, catalog), repeats=3)
    return [
        "## Validation: every shipped training case",
        "",
        "| cases | median wall s | best wall s |",
        "|---|---|---|",
        f"| {len(cases)} | {median:.3f} | {best:.3f} |",
    ]


def main() -> None:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run`); do not edit by hand.",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}. Median of {REPEATS} runs after a warm-up.",
        "",
        *plan_search_405b(),
        "",
        *validation_suite(),
    ]
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
