"""Chip equivalence: how many chips of one kind match a reference fleet of another.

Training: the reference trains on exactly its chip count (what `swarmscale train --chips N`
reports, and an error naming the nearest counts that work when N admits no plan); the candidate
count is the fewest chips, one at a time, whose fastest plan steps at least as fast. Step time is
jagged in the chip count (1,024 chips split well, 1,040 = 16 x 65 does not), so every count that
admits a parallel layout is tried in order, from a compute floor up, rather than bisected.
Serving: the candidate count whose SLO-bound output throughput matches the reference's.
Both report the time ratio reached and the fleets' IT power, cost and floor-space ratios.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from swarmscale.catalog import Catalog
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.perf.training import model_flops_per_token
from swarmscale.plan.search import NoPlanError, no_plan_message, plan_counts, search, with_count
from swarmscale.plan.serving import ServingTarget, best_replica
from swarmscale.workload import InferenceJob, TrainingJob

MAX_FACTOR = 64  # search up to 64x the reference count
Bound = Literal["low", "high"] | None


@dataclass(frozen=True)
class Equivalence:
    """`candidate_chips` of the candidate do what `reference_chips` of the reference do;
    `time_ratio` is the candidate fleet's time for the reference fleet's work over the
    reference's (at most 1 when a count was found)."""

    workload: str
    reference: str
    reference_system: str | None
    reference_chips: int
    candidate: str
    candidate_system: str | None
    candidate_chips: int | None
    reference_value: float
    candidate_value: float | None
    metric: str
    time_ratio: float | None
    power_ratio: float | None
    cost_ratio: float | None
    floor_ratio: float | None

    @property
    def chips_ratio(self) -> float | None:
        return None if self.candidate_chips is None else self.candidate_chips / self.reference_chips

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "chips_ratio": self.chips_ratio}


def fleet_it_power_w(cluster: Cluster, chips: int) -> float:
    """IT power of `chips` chips at training load, hosts and network included: a system's
    unit power shared over its chips, else chip TDP plus host overhead. The one power figure
    equivalences and the claims compare."""
    return chips * cluster.it_power_per_chip_w


def _fleet_figures(cluster: Cluster, chips: int) -> tuple[float, float | None, float]:
    """IT power (W), cost per hour (USD) and racks of `chips` chips."""
    power = fleet_it_power_w(cluster, chips)
    price = cluster.price_per_chip_hour_usd
    cost = None if price is None else chips * price
    racks = power / cluster.assumptions.rack_power.require()
    if cluster.system is not None and cluster.system.racks_per_unit is not None:
        racks = chips / cluster.system.chips_per_unit * cluster.system.racks_per_unit.require()
    return power, cost, racks


def _ratios(
    ref: Cluster, ref_chips: int, cand: Cluster, cand_chips: int | None
) -> tuple[float | None, float | None, float | None]:
    if cand_chips is None:
        return None, None, None
    ref_power, ref_cost, ref_racks = _fleet_figures(ref, ref_chips)
    power, cost, racks = _fleet_figures(cand, cand_chips)
    # Only like with like: an amortised purchase price against a rental price says nothing.
    same_basis = ref.cost_basis == cand.cost_basis
    cost_ratio = None if cost is None or ref_cost is None or not same_basis else cost / ref_cost
    return power / ref_power, cost_ratio, racks / ref_racks


def fastest_step_s(job: TrainingJob, cluster: Cluster) -> float:
    """Step time of the fastest plan on exactly `cluster.count` chips (coarse search, the same
    for reference and candidate); inf when no plan is feasible there."""
    try:
        result = search(job, cluster, "time", {"chips": cluster.count}, top_k=1, coarse=True)
    except NoPlanError:
        return math.inf
    return math.inf if result.best is None else float(result.best.totals["step_s"])


def _compute_floor_chips(job: TrainingJob, cluster: Cluster, step_s: float) -> int:
    """Fewer chips cannot step within `step_s` under any plan: they run at least half the FLOPs
    MFU counts (causal attention skips at most half of its counted square) at most at peak."""
    flops = model_flops_per_token(job) * job.tokens_per_step / 2.0
    return max(1, math.floor(flops / (cluster.chip.peak_flops(job.precision) * step_s)))


def _fewest_matching(
    job: TrainingJob, cluster: Cluster, step_s: float
) -> tuple[int, float] | tuple[None, None]:
    """Fewest chips, up to `cluster.count`, whose fastest plan steps within `step_s`, and that
    step: every count that admits a layout is tried in order from the compute floor."""
    for count in plan_counts(job, {}, _compute_floor_chips(job, cluster, step_s), cluster.count):
        step = fastest_step_s(job, with_count(cluster, count))
        if step <= step_s:
            return count, step
    return None, None


def training_equivalence(
    catalog: Catalog,
    job: TrainingJob,
    reference: str,
    reference_chips: int,
    candidate: str,
    reference_system: str | None = None,
    candidate_system: str | None = None,
    bound: Bound = None,
) -> Equivalence:
    """Fewest candidate chips that train `job` at least as fast as exactly `reference_chips`
    reference chips; `bound` moves the candidate's uncertain specs and efficiencies to one end
    of their range. Systems default to none, the chip's own scale-up domain, as in `train`."""
    ref_cluster = build_cluster(catalog, reference, reference_chips, reference_system)
    ref_step = fastest_step_s(job, ref_cluster)
    if not math.isfinite(ref_step):
        raise ValueError(
            f"reference {reference_chips:,} {ref_cluster.chip.id}: "
            + no_plan_message(job, ref_cluster, {})
        )
    top = reference_chips * MAX_FACTOR
    found, step = _fewest_matching(
        job, bounded_cluster(catalog, candidate, top, candidate_system, bound), ref_step
    )
    cand_cluster = build_cluster(catalog, candidate, found or reference_chips, candidate_system)
    power, cost, floor = _ratios(ref_cluster, reference_chips, cand_cluster, found)
    return Equivalence(
        workload=f"train {job.model.id}",
        reference=ref_cluster.chip.id,
        reference_system=reference_system,
        reference_chips=reference_chips,
        candidate=cand_cluster.chip.id,
        candidate_system=candidate_system,
        candidate_chips=found,
        reference_value=ref_step,
        candidate_value=step,
        metric="step_s",
        time_ratio=None if step is None else step / ref_step,
        power_ratio=power,
        cost_ratio=cost,
        floor_ratio=floor,
    )


def bounded_cluster(
    catalog: Catalog, chip: str, count: int, system: str | None = None, bound: Bound = None
) -> Cluster:
    """A cluster whose chip specs and efficiencies sit at one end of their catalog ranges."""
    cluster = build_cluster(catalog, chip, count, system)
    if bound is None:
        return cluster
    return dataclasses.replace(
        cluster, chip=cluster.chip.at(bound), efficiency=cluster.efficiency.at(bound)
    )


def _serving_rate_per_chip(
    catalog: Catalog,
    job: InferenceJob,
    chip: str,
    target: ServingTarget,
    system: str | None = None,
    bound: Bound = None,
) -> float:
    """Best SLO-bound output tokens/s per chip over replica layouts."""
    cluster = bounded_cluster(catalog, chip, 1_000_000, system, bound)
    best = best_replica(job, cluster, target)
    return 0.0 if best is None else best[0] / best[1]


def serving_equivalence(
    catalog: Catalog,
    job: InferenceJob,
    target: ServingTarget,
    reference: str,
    reference_chips: int,
    candidate: str,
    candidate_job: InferenceJob | None = None,
    bound: Bound = None,
    reference_system: str | None = None,
    candidate_system: str | None = None,
) -> Equivalence:
    """Candidate chips that deliver the reference fleet's SLO-bound serving throughput;
    `bound` moves the candidate's uncertain specs and efficiencies to one end of their range."""
    ref_rate = _serving_rate_per_chip(catalog, job, reference, target, reference_system)
    cand_rate = _serving_rate_per_chip(
        catalog, candidate_job or job, candidate, target, candidate_system, bound
    )
    if ref_rate <= 0:
        raise ValueError(f"{reference} cannot serve {job.model.id} within the targets")
    chips = None if cand_rate <= 0 else math.ceil(reference_chips * ref_rate / cand_rate)
    ref_cluster = build_cluster(catalog, reference, reference_chips, reference_system)
    cand_cluster = build_cluster(catalog, candidate, chips or 1, candidate_system)
    power, cost, floor = _ratios(ref_cluster, reference_chips, cand_cluster, chips)
    return Equivalence(
        workload=f"serve {job.model.id}",
        reference=ref_cluster.chip.id,
        reference_system=reference_system,
        reference_chips=reference_chips,
        candidate=cand_cluster.chip.id,
        candidate_system=candidate_system,
        candidate_chips=chips,
        reference_value=ref_rate,
        candidate_value=cand_rate or None,
        metric="output_tokens_per_s_per_chip",
        time_ratio=None if chips is None else reference_chips * ref_rate / (chips * cand_rate),
        power_ratio=power,
        cost_ratio=cost,
        floor_ratio=floor,
    )
