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

import numpy as np

from benchmarks.limits import worst_inputs
from benchmarks.web_load import web_load
from swarmscale.api.inputs import SimulateInput
from swarmscale.api.simulate import run_network_simulation
from swarmscale.calibrate.measure import wall_timer
from swarmscale.calibrate.profiles import build_profile, import_microbench
from swarmscale.catalog import default_catalog
from swarmscale.catalog.loader import DATA_ROOT, SHIPPED_CASES, load_cases
from swarmscale.fleet.optimize import FleetProblem, KindRate, Site, solve
from swarmscale.hardware import build_cluster
from swarmscale.perf.inference import ReplicaModel, ServingPlan
from swarmscale.plan.search import search
from swarmscale.plan.swarm import swarm_sweep
from swarmscale.sim.serving import simulate_serving
from swarmscale.sweep.executors import run_local
from swarmscale.sweep.scenarios import Scenario, point_tasks
from swarmscale.traces.azure_llm import load_azure_llm
from swarmscale.validate.groups import leave_one_group_out
from swarmscale.validate.runner import predict_cases
from swarmscale.workload import InferenceJob, TrainingJob

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
AZURE_CONV = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "traces"
    / "azure-llm-2023"
    / "AzureLLMInferenceTrace_conv.csv"
)
REPEATS = 5


def _time(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float]:
    """Median and best wall time of `repeats` runs after one warm-up."""
    samples = wall_timer(fn, 1, repeats)
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
    cases = [case for path in sorted(SHIPPED_CASES.glob("*.yaml")) for case in load_cases(path)]
    outcome = predict_cases(cases, catalog)
    median, best = _time(lambda: predict_cases(cases, catalog), repeats=3)
    logo_median, logo_best = _time(lambda: leave_one_group_out(cases, catalog), repeats=1)
    groups = len({case.source_group for case in cases})
    return [
        "## Validation: every shipped case (training and inference)",
        "",
        "| run | cases | measurements | median wall s | best wall s |",
        "|---|---|---|---|---|",
        f"| `validate` | {len(cases)} | {len(outcome.results)} | {median:.3f} | {best:.3f} |",
        f"| `validate --by-group` ({groups} groups) | {len(cases)} | {len(outcome.results)} | "
        f"{logo_median:.3f} | {logo_best:.3f} |",
        "",
        "Leave-one-group-out predicts each fit case once per value of a 15-point grid of its",
        "fitted factor and refits every group from those tables, so it costs about 15 validations.",
    ]


def serving_simulation() -> list[str]:
    title = "## Serving simulation: full Azure LLM 2023 conversation trace on 16 replicas"
    if not AZURE_CONV.exists():
        return [
            title,
            "",
            f"Skipped: {AZURE_CONV} is not on this machine (the project ships "
            "only a 2,000-request subsample).",
        ]
    catalog = default_catalog()
    trace = load_azure_llm(AZURE_CONV)
    job = InferenceJob(catalog.model("llama3-70b"), "fp8", kv_bytes=1.0)
    plan = ServingPlan(tp=2)
    replica = ReplicaModel(job, build_cluster(catalog, "h100-sxm", 32), plan)
    result = simulate_serving(trace, replica, 16)
    median, best = _time(lambda: simulate_serving(trace, replica, 16), repeats=3)
    return [
        title,
        "",
        "Llama 3.1 70B, FP8, TP2 replicas of H100. Goal from issue 4: under 5 s.",
        "",
        "| requests | median wall s | best wall s | requests per second simulated | p99 TTFT s |",
        "|---|---|---|---|---|",
        f"| {len(trace):,} | {median:.3f} | {best:.3f} | {len(trace) / median:,.0f} | "
        f"{result.percentile('ttft_s', 99):.3f} |",
    ]


def swarm_million() -> list[str]:
    catalog = default_catalog()
    job = TrainingJob(catalog.model("llama3-405b"), 8192, 2048)
    points = swarm_sweep(catalog, job, "ascend-910c", 1_000_000, "cloudmatrix-384")
    median, best = _time(
        lambda: swarm_sweep(catalog, job, "ascend-910c", 1_000_000, "cloudmatrix-384")
    )
    top = points[-1]
    return [
        "## Swarm sweep: Llama 3.1 405B on 64 to 1,000,000 Ascend 910C (CloudMatrix 384)",
        "",
        "Goal from issue 5: `swarmscale swarm` at 1,000,000 chips in under 2 s.",
        "",
        "| sizes | median wall s | best wall s | plan at 1,000,000 chips |",
        "|---|---|---|---|",
        f"| {len(points)} | {median:.3f} | {best:.3f} | `{top.plan}` |",
    ]


def fleet_milp() -> list[str]:
    """20 chip kinds x 10 sites, domestic-share and power rules, solved by HiGHS."""
    catalog = default_catalog()
    rng = np.random.default_rng(0)
    chips = sorted(catalog.chips)
    kinds = [
        KindRate(chips[i % len(chips)], 8, float(rng.uniform(1e3, 1e4)), 0.0,
                 float(rng.uniform(500, 1500)), None, float(rng.uniform(0.5, 4.0)),
                 float(rng.uniform(1e14, 2e15)), 1 / 32)
        for i in range(20)
    ]  # fmt: skip
    sites = [Site(f"site-{i}", power_cap_mw=float(rng.uniform(2, 20)),
                  energy_price_usd_per_kwh=float(rng.uniform(0.03, 0.12)))
             for i in range(10)]  # fmt: skip
    policy = catalog.policy("unrestricted").model_copy(
        update={"rules": (catalog.policy("cn-beijing-70").rules[1],)}
    )
    problem = FleetProblem(kinds, {}, sites, policy, {}, 2.0e6, 1.0, "inference")
    solution = solve(catalog, problem)
    median, best = _time(lambda: solve(catalog, problem))
    return [
        "## Fleet optimiser: 20 chip kinds x 10 sites (MILP, HiGHS via SciPy)",
        "",
        "Seeded synthetic rates, prices and site power caps; a 70% domestic-share rule. Goal from",
        "issue 6: under 1 s.",
        "",
        "| integer variables | median wall s | best wall s | chips chosen |",
        "|---|---|---|---|",
        f"| {len(kinds) * len(sites)} | {median:.4f} | {best:.4f} | "
        f"{sum(i.count for i in solution.items):,} |",
    ]


PHILLY = AZURE_CONV.parents[1] / "philly" / "philly.csv"


def network_simulation() -> list[str]:
    title = "## Network simulation: full Philly trace on a 100-site network"
    if not PHILLY.exists():
        return [title, "", f"Skipped: {PHILLY} is not on this machine."]
    start = time.perf_counter()
    query = SimulateInput(
        network="synthetic-100", trace=str(PHILLY), scheduler="hetero", speedup=50.0
    )
    result, summary = run_network_simulation(query)
    wall = time.perf_counter() - start
    return [
        title,
        "",
        "82,247 jobs (arrivals 50x faster), heterogeneity-aware scheduler, 100 seeded sites;",
        "wall time includes building the job speeds. Goal from issue 7: under 30 s.",
        "",
        "| jobs | events | wall s | events per second | mean JCT h |",
        "|---|---|---|---|---|",
        f"| {summary['jobs']:,} | {result.events:,} | {wall:.2f} | {result.events / wall:,.0f} | "
        f"{summary['mean_jct_h']:.2f} |",
    ]


def sweep_throughput() -> list[str]:
    catalog = default_catalog()
    scenario = Scenario(
        model="llama3-70b",
        chip="h100-sxm",
        chips=1024,
        tokens=15e12,
        grid={"chips": [512, 1024, 2048, 4096]},
        draws=250,
        seed=0,
    )
    tasks = point_tasks(catalog, scenario)
    start = time.perf_counter()
    run_local(tasks, workers=2)
    wall = time.perf_counter() - start
    evaluated = len(tasks) * scenario.draws
    return [
        "## Sweep: Monte Carlo draws on the local process pool (2 workers)",
        "",
        "Llama 3.1 70B, 4 grid points x 250 draws of nine uncertain catalog numbers.",
        "",
        "| scenarios | wall s | scenarios per second |",
        "|---|---|---|",
        f"| {evaluated:,} | {wall:.2f} | {evaluated / wall:,.0f} |",
    ]


def profile_import() -> list[str]:
    catalog = default_catalog()
    source = DATA_ROOT / "measurements" / "h100-microbench.jsonl"
    chip = catalog.chip("h100-sxm")
    median, best = _time(lambda: build_profile(catalog, chip, import_microbench(source)))
    profile, derivation = build_profile(catalog, chip, import_microbench(source))
    fits = "; ".join(
        f"{fit.family}: median {100 * fit.median_abs_error:.1f}%, "
        f"max {100 * fit.max_abs_error:.1f}%"
        for fit in derivation.fits
    )
    return [
        "## Calibration: H100 profile from the shipped microbenchmark",
        "",
        "`swarmscale calibrate --import` without the CLI: read the JSON lines, fit the GEMM",
        "factors through the roofline blend, build the profile. The GPU measurement suite itself",
        "needs a GPU and is not benchmarked here.",
        "",
        "| measurements | median wall s | best wall s |",
        "|---|---|---|",
        f"| {len(profile.measurements)} | {median:.4f} | {best:.4f} |",
        "",
        f"Fit error over the shapes: {fits}.",
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
        "",
        *serving_simulation(),
        "",
        *swarm_million(),
        "",
        *fleet_milp(),
        "",
        *network_simulation(),
        "",
        *sweep_throughput(),
        "",
        *profile_import(),
        "",
        *worst_inputs(),
        "",
        *web_load(),
    ]
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
