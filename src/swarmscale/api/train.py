"""Training plans: the best parallel plan for a job and what training with it costs."""

from __future__ import annotations

from typing import Any

from swarmscale.api.inputs import InputError, TrainInput
from swarmscale.catalog import default_catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.plans import parse_plan
from swarmscale.plan.search import RankedPlan, SearchResult, nearby_counts, search
from swarmscale.plan.swarm import batch_sequences
from swarmscale.workload import SoftwareOptions, TrainingJob, parse_software


class NoFeasiblePlanError(InputError):
    """Plans exist for the chip count, but none fits in memory or meets the fixed fields."""


def ranked_dict(ranked: RankedPlan) -> dict[str, Any]:
    return {
        "plan": ranked.plan.__dict__,
        "plan_text": ranked.plan.describe(),
        "mfu": ranked.mfu,
        "hfu": ranked.hfu,
        "breakdown": ranked.breakdown,
        "totals": ranked.totals,
        "feasible": ranked.feasible,
        "reason": ranked.reason,
    }


def plan_training(query: TrainInput) -> tuple[TrainingJob, SearchResult]:
    """Build the job and search its plans; `best` is None when no plan is feasible."""
    catalog = default_catalog()
    batch = batch_sequences(query.global_batch_tokens, query.seq)
    software = parse_software(query.software) if query.software else SoftwareOptions()
    job = TrainingJob(
        catalog.model(query.model), query.seq, batch, query.precision, query.tokens, software
    )
    cluster = build_cluster(catalog, query.chip, query.chips, query.system)
    fixed = parse_plan(query.plan) if query.plan else {}
    return job, search(job, cluster, query.objective, fixed, top_k=query.top)


def _no_feasible_plan(query: TrainInput, job: TrainingJob, result: SearchResult) -> str:
    """Why every plan was rejected, and the nearest chip counts where one is feasible."""
    reasons = "; ".join(f"{count:,} {why}" for why, count in result.rejected.items())
    cluster = build_cluster(default_catalog(), query.chip, query.chips, query.system)
    fixed = parse_plan(query.plan) if query.plan else {}
    found = [f"{count:,}" for count in nearby_counts(job, cluster, fixed) if count is not None]
    nearby = f"; nearby counts with a feasible plan: {', '.join(found)}" if found else ""
    return (
        f"no feasible plan among {result.evaluated:,} for {job.model.id} on "
        f"{query.chips:,} {query.chip}: {reasons}{nearby}"
    )


def train_payload(query: TrainInput) -> tuple[TrainingJob, SearchResult, dict[str, Any]]:
    """The best plan, the runners-up and the totals; `NoFeasiblePlanError` names why none fits."""
    job, result = plan_training(query)
    if result.best is None:
        raise NoFeasiblePlanError(_no_feasible_plan(query, job, result))
    payload: dict[str, Any] = {
        "job": {
            "model": job.model.id,
            "seq_len": query.seq,
            "global_batch": job.global_batch,
            "tokens": query.tokens,
            "precision": query.precision,
        },
        "hardware": {"chip": query.chip, "chips": query.chips, "system": query.system},
        "objective": query.objective,
        "evaluated": result.evaluated,
        "feasible": result.feasible,
        "rejected": result.rejected,
        "best": ranked_dict(result.best),
        "top": [ranked_dict(ranked) for ranked in result.top],
        "catalog_version": default_catalog().version,
    }
    return job, result, payload
