"""Summary figures of a network simulation."""

from __future__ import annotations

from typing import Any

import numpy as np

from swarmscale.sim.engine import SimResult, run_time_s, utilisation

CDF_PERCENTILES = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 100)


def jct_quantiles_h(jct_s: np.ndarray) -> dict[str, float]:
    """Job completion time at fixed percentiles, so a stored run can draw its JCT CDF."""
    if not len(jct_s):
        return {}
    values = np.percentile(jct_s, CDF_PERCENTILES) / 3600
    return {f"p{p}": float(v) for p, v in zip(CDF_PERCENTILES, values, strict=True)}


def summarize(result: SimResult) -> dict[str, Any]:
    """JCT and queueing delay (mean, p99), makespan, utilisation, energy, cost, carbon,
    domestic share of chip-time, rule violations, unfinished jobs."""
    done = [job for job in result.jobs if job.started]
    jct = np.asarray([job.finish_s - job.arrival_s for job in done])
    wait = np.asarray([job.start_s - job.arrival_s for job in done])
    busy = sum(result.busy_chip_s.values())
    per_site_kind = utilisation(result)
    return {
        "jobs": len(result.jobs),
        "finished": len(done),
        "unfinished": len(result.jobs) - len(done),
        "mean_jct_h": float(jct.mean() / 3600) if len(jct) else None,
        "p99_jct_h": float(np.percentile(jct, 99) / 3600) if len(jct) else None,
        "mean_queue_h": float(wait.mean() / 3600) if len(wait) else None,
        "p99_queue_h": float(np.percentile(wait, 99) / 3600) if len(wait) else None,
        "jct_cdf_h": jct_quantiles_h(jct),
        "makespan_days": run_time_s(result) / 86400.0,
        "utilisation_mean": float(np.mean(list(per_site_kind.values()))) if per_site_kind else 0.0,
        "utilisation": per_site_kind,
        "energy_mwh": result.energy_kwh / 1e3,
        "energy_cost_usd": result.energy_cost_usd,
        "carbon_t": result.carbon_kg / 1e3,
        "domestic_share": result.domestic_chip_s / busy if busy else None,
        "violations": result.violations,
        "events": result.events,
    }
