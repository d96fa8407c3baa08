"""Serving planner: the replica layout and count that serve a request rate within latency
targets on the fewest chips (ties: lowest cost).

Candidate replicas: tensor-parallel degrees that divide the heads (up to the scale-up domain),
pipeline depths 1-8, and for MoE models expert-parallel degrees with data-parallel attention.
Each is sized by `perf.serving.max_rate`; with `disaggregate`, prefill and decode run on
separate pools, each sized for its own target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from swarmscale.catalog import UnknownValueError
from swarmscale.hardware import Cluster
from swarmscale.perf.inference import ReplicaModel, ServingPlan
from swarmscale.perf.serving import SteadyState, max_prefill_rate, max_rate, steady_state
from swarmscale.workload import InferenceJob


@dataclass(frozen=True)
class ServingTarget:
    """A load and its service-level objectives."""

    rate: float
    input_len: int
    output_len: int
    ttft_s: float
    tpot_s: float

    def __post_init__(self) -> None:
        for name in ("rate", "input_len", "output_len", "ttft_s", "tpot_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class ServingDesign:
    """A deployment that meets a target, with its per-chip and per-token figures."""

    plan: ServingPlan
    replicas: int
    prefill_plan: ServingPlan | None
    prefill_replicas: int
    chips: int
    state: SteadyState
    output_tokens_per_s_per_chip: float
    usd_per_million_tokens: float | None
    kwh_per_million_tokens: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.describe(),
            "replicas": self.replicas,
            "prefill_plan": self.prefill_plan.describe() if self.prefill_plan else None,
            "prefill_replicas": self.prefill_replicas,
            "chips": self.chips,
            "batch_per_replica": self.state.batch,
            "ttft_s": self.state.ttft_s,
            "tpot_s": self.state.tpot_s,
            "output_tokens_per_s_per_chip": self.output_tokens_per_s_per_chip,
            "usd_per_million_output_tokens": self.usd_per_million_tokens,
            "kwh_per_million_output_tokens": self.kwh_per_million_tokens,
        }


class NoServingPlanError(ValueError):
    """No replica layout meets the target; the message names the tightest constraint."""


def candidate_plans(job: InferenceJob, cluster: Cluster) -> list[ServingPlan]:
    """Replica layouts worth sizing on this chip kind."""
    model = job.model
    limit = max(cluster.domain_size, 1)
    tps = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= limit and model.heads % t == 0]
    plans = [ServingPlan(tp=t, pp=p) for t in tps for p in (1, 2, 4, 8) if p <= model.layers]
    if model.moe is not None:
        experts = model.moe.experts
        for ep in (2, 4, 8, 16, 32, 64, 128, 256):
            if experts % ep == 0:
                plans += [ServingPlan(tp=t, ep=ep) for t in tps if ep % t == 0 and ep > t]
    return plans


def _replica(job: InferenceJob, cluster: Cluster, plan: ServingPlan) -> ReplicaModel | None:
    """The replica, or None when the layout does not suit the model (a catalog value the model
    needs but lacks is an error, not a skipped layout)."""
    try:
        return ReplicaModel(job, cluster, plan)
    except UnknownValueError:
        raise
    except ValueError:
        return None


def _per_million(cluster: Cluster, chips: int, tokens_per_s: float) -> tuple[float | None, float]:
    hours_per_million = 1e6 / tokens_per_s / 3600.0
    power_kw = chips * cluster.it_power_per_chip_w * cluster.assumptions.pue.require() / 1e3
    kwh = power_kw * hours_per_million
    price = cluster.price_per_chip_hour_usd
    if price is None:
        return None, kwh
    energy_cost = (
        0.0 if cluster.cost_basis == "rent" else kwh * (cluster.assumptions.energy_price.require())
    )
    return chips * price * hours_per_million + energy_cost, kwh


def design(
    job: InferenceJob, cluster: Cluster, target: ServingTarget, disaggregate: bool = False
) -> ServingDesign:
    """The fewest-chip deployment of `job` on `cluster.chip` that meets `target`."""
    best: ServingDesign | None = None
    limits: list[str] = []
    plans = candidate_plans(job, cluster)
    replicas_by_plan = {plan: _replica(job, cluster, plan) for plan in plans}
    prefill_pool = _prefill_pool(replicas_by_plan, target) if disaggregate else None
    for plan, replica in replicas_by_plan.items():
        if replica is None:
            continue
        rate, state, limit = max_rate(
            replica,
            target.input_len,
            target.output_len,
            target.ttft_s,
            target.tpot_s,
            not disaggregate,
        )
        if state is None or rate <= 0:
            limits.append(limit)
            continue
        replicas = math.ceil(target.rate / rate)
        at_load = _state_at(replica, target, replicas, disaggregate)
        prefill_plan, prefill_replicas = prefill_pool or (None, 0)
        chips = replicas * plan.chips + prefill_replicas * (
            prefill_plan.chips if prefill_plan else 0
        )
        tokens_per_s = target.rate * target.output_len
        usd, kwh = _per_million(cluster, chips, tokens_per_s)
        candidate = ServingDesign(
            plan,
            replicas,
            prefill_plan,
            prefill_replicas,
            chips,
            at_load,
            tokens_per_s / chips,
            usd,
            kwh,
        )
        if best is None or (candidate.chips, candidate.usd_per_million_tokens or 0.0) < (
            best.chips,
            best.usd_per_million_tokens or 0.0,
        ):
            best = candidate
    if best is None:
        raise NoServingPlanError(_explain(job, cluster, target, limits))
    return best


def _state_at(
    replica: ReplicaModel, target: ServingTarget, replicas: int, disaggregate: bool
) -> SteadyState:
    return steady_state(
        replica, target.rate / replicas, target.input_len, target.output_len, not disaggregate
    )


def _prefill_pool(
    replicas_by_plan: dict[ServingPlan, ReplicaModel | None], target: ServingTarget
) -> tuple[ServingPlan, int] | None:
    best: tuple[int, ServingPlan, int] | None = None
    for plan, replica in replicas_by_plan.items():
        if replica is None or plan.pp > 1:
            continue
        rate = max_prefill_rate(replica, target.input_len, target.ttft_s)
        if rate <= 0:
            continue
        count = math.ceil(target.rate / rate)
        if best is None or count * plan.chips < best[0]:
            best = (count * plan.chips, plan, count)
    if best is None:
        raise NoServingPlanError(
            f"TTFT {target.ttft_s} s: no prefill replica processes a "
            f"{target.input_len}-token prompt that fast"
        )
    return best[1], best[2]


def _explain(job: InferenceJob, cluster: Cluster, target: ServingTarget, limits: list[str]) -> str:
    """Name the tightest constraint: among layouts whose weights fit, the target most of them
    miss; memory only when no layout holds the weights."""
    if not limits:
        return (
            f"{job.model.id} does not fit any replica layout of {cluster.chip.id} "
            f"(weights exceed memory)"
        )
    fitting = [limit for limit in limits if not limit.startswith("memory")] or limits
    kinds: dict[str, str] = {}
    for limit in fitting:
        kinds.setdefault(limit.split(":")[0], limit)
    tightest = max(kinds, key=lambda key: sum(limit.startswith(key) for limit in fitting))
    return (
        f"no layout of {cluster.chip.id} serves {job.model.id} within TTFT "
        f"{target.ttft_s} s and TPOT {target.tpot_s} s; tightest constraint: "
        f"{kinds[tightest]}"
    )


def best_replica(
    job: InferenceJob, cluster: Cluster, target: ServingTarget
) -> tuple[float, int] | None:
    """The replica layout with the most SLO-bound output tokens/s per chip: (its output
    tokens/s, its chips), or None when no layout meets the targets."""
    best: tuple[float, int] | None = None
    for plan in candidate_plans(job, cluster):
        replica = _replica(job, cluster, plan)
        if replica is None:
            continue
        rate, _, _ = max_rate(
            replica, target.input_len, target.output_len, target.ttft_s, target.tpot_s
        )
        tokens = rate * target.output_len
        if tokens > 0 and (best is None or tokens / plan.chips > best[0] / best[1]):
            best = (tokens, plan.chips)
    return best
