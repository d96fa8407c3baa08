"""A job trace through a national compute network: the discrete-event simulation and its
summary (JCT, utilisation, energy, cost, carbon, domestic share, rule violations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swarmscale.api.inputs import InputError, SimulateInput
from swarmscale.catalog import default_catalog
from swarmscale.limits import MAX_JOBS
from swarmscale.sim.engine import SimResult
from swarmscale.sim.engine import simulate as run_simulation
from swarmscale.sim.jobs import RateTable, build_jobs
from swarmscale.sim.metrics import summarize
from swarmscale.sim.networks import resolve_network
from swarmscale.sim.schedulers import make_scheduler
from swarmscale.traces.jobs import load_job_trace

Progress = Callable[[int, int], None]  # (done, total)


def run_network_simulation(
    query: SimulateInput, progress: Progress | None = None
) -> tuple[SimResult, dict[str, Any]]:
    """Replay the trace through the network; `progress` hears of each arrival and finish."""
    catalog = default_catalog()
    network = resolve_network(catalog, query.network)
    job_trace = load_job_trace(query.trace)
    if query.jobs is None and len(job_trace) > MAX_JOBS:
        raise InputError(
            f"jobs: the trace holds {len(job_trace):,} jobs, more than the {MAX_JOBS:,} one "
            "simulation takes; give --jobs"
        )
    if query.jobs is not None:
        job_trace = job_trace.head(query.jobs)
    if query.speedup != 1.0:
        job_trace = job_trace.scaled(query.speedup)
    rates = RateTable(catalog)
    kinds = {catalog.chip(chip).id for site in network.sites for chip in site.inventory}
    sim_jobs = build_jobs(job_trace, rates, kinds)
    total = 2 * len(sim_jobs)
    result = run_simulation(
        catalog,
        network,
        sim_jobs,
        make_scheduler(query.scheduler),
        rates,
        query.policy_aware,
        None if progress is None else (lambda done: progress(done, total)),
    )
    return result, summarize(result)
