"""Chip equivalence: how many chips of one kind match a reference fleet of another.

Training: the fewest candidate chips whose best plan trains the same job (same global batch)
at least as fast as the reference. Serving: the candidate count whose SLO-bound output
throughput matches the reference's. Both report power, cost and floor-space ratios.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from swarmscale.catalog import Catalog
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.plan.search import search, usable_counts
from swarmscale.plan.serving import ServingTarget, best_replica
from swarmscale.workload import InferenceJob, TrainingJob

MAX_FACTOR = 64  # search up to 64x the reference count
Bound = Literal["low", "high"] | None


@dataclass(frozen=True)
class Equivalence:
    """`candidate_chips` of the candidate do what `reference_chips` of the reference do."""

    workload: str
    reference: str
    reference_chips: int
    candidate: str
    candidate_chips: int | None
    reference_value: float
    candidate_value: float | None
    metric: str
    power_ratio: float | None
    cost_ratio: float | None
    floor_ratio: float | None

    @property
    def chips_ratio(self) -> float | None:
        return None if self.candidate_chips is None else self.candidate_chips / self.reference_chips

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "chips_ratio": self.chips_ratio}


def _fleet_figures(cluster: Cluster, chips: int) -> tuple[float, float | None, float]:
    """IT power (W), cost per hour (USD) and racks of `chips` chips."""
    power = chips * cluster.it_power_per_chip_w
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


def _step_s(
    job: TrainingJob,
    catalog: Catalog,
    chip: str,
    chips: int,
    system: str | None,
    bound: Bound = None,
) -> float:
    """Fastest step on at most `chips` chips (see `usable_counts`); inf when none trains."""
    best = math.inf
    cluster = bounded_cluster(catalog, chip, chips, system, bound)
    for count in usable_counts(chips):
        try:
            result = search(job, cluster, "time", {"chips": count}, top_k=1, coarse=True)
        except ValueError:
            continue
        if result.best is not None:
            best = min(best, float(result.best.totals["step_s"]))
    return best


def _counts(unit: int, low: int, high: int) -> list[int]:
    """Candidate counts between `low` and `high`: every multiple of `unit` while few, then a
    geometric grid of them."""
    first = max(unit, math.ceil(low / unit) * unit)
    if (high - first) // unit <= 64:
        return list(range(first, high + 1, unit))
    grid = sorted(
        {
            max(unit, round(v / unit) * unit)
            for v in (first * (high / first) ** (i / 96) for i in range(97))
        }
    )
    return [c for c in grid if c >= first]


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
    """Fewest candidate chips that train `job` at least as fast as the reference fleet;
    `bound` moves the candidate's uncertain specs and efficiencies to one end of their range."""
    ref_step = _step_s(job, catalog, reference, reference_chips, reference_system)
    if not math.isfinite(ref_step):
        raise ValueError(
            f"{reference_chips} {reference} cannot train {job.model.id} "
            "(no feasible plan); pick a larger reference"
        )
    cand_cluster = build_cluster(catalog, candidate, reference_chips, candidate_system)
    unit = max(1, min(cand_cluster.domain_size, reference_chips))
    found: int | None = None
    found_step: float | None = None
    previous = 0
    for count in _counts(unit, max(1, reference_chips // 8), reference_chips * MAX_FACTOR):
        step = _step_s(job, catalog, candidate, count, candidate_system, bound)
        if step <= ref_step:
            found, found_step = count, step
            break
        previous = count
    if found is not None:
        # The grid may be geometric: look for a smaller count between the last miss and the hit.
        low, high = previous // unit + 1, found // unit - 1
        while low <= high:
            middle = (low + high) // 2
            step = _step_s(job, catalog, candidate, middle * unit, candidate_system, bound)
            if step <= ref_step:
                found, found_step, high = middle * unit, step, middle - 1
            else:
                low = middle + 1
    ref_cluster = build_cluster(catalog, reference, reference_chips, reference_system)
    cand_at = build_cluster(catalog, candidate, found or reference_chips, candidate_system)
    power, cost, floor = _ratios(ref_cluster, reference_chips, cand_at, found)
    return Equivalence(
        f"train {job.model.id}",
        ref_cluster.chip.id,
        reference_chips,
        cand_at.chip.id,
        found,
        ref_step,
        found_step,
        "step_s",
        power,
        cost,
        floor,
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
    catalog: Catalog, job: InferenceJob, chip: str, target: ServingTarget, bound: Bound = None
) -> float:
    """Best SLO-bound output tokens/s per chip over replica layouts."""
    cluster = bounded_cluster(catalog, chip, 1_000_000, None, bound)
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
) -> Equivalence:
    """Candidate chips that deliver the reference fleet's SLO-bound serving throughput;
    `bound` moves the candidate's uncertain specs and efficiencies to one end of their range."""
    ref_rate = _serving_rate_per_chip(catalog, job, reference, target)
    cand_rate = _serving_rate_per_chip(catalog, candidate_job or job, candidate, target, bound)
    if ref_rate <= 0:
        raise ValueError(f"{reference} cannot serve {job.model.id} within the targets")
    chips = None if cand_rate <= 0 else math.ceil(reference_chips * ref_rate / cand_rate)
    ref_cluster = build_cluster(catalog, reference, reference_chips)
    cand_cluster = build_cluster(catalog, candidate, chips or 1)
    power, cost, floor = _ratios(ref_cluster, reference_chips, cand_cluster, chips)
    return Equivalence(
        f"serve {job.model.id}",
        ref_cluster.chip.id,
        reference_chips,
        cand_cluster.chip.id,
        chips,
        ref_rate,
        cand_rate or None,
        "output_tokens_per_s_per_chip",
        power,
        cost,
        floor,
    )
