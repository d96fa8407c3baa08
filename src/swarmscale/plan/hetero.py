"""Plan a training job over a mixed fleet: which kinds to use, their batch shares and plans.

Each kind's plan comes from the homogeneous search on its own chips with its share of the
batch; shares are rebalanced to the kinds' measured rates (three rounds), then every subset of the
kinds is scored (a slow kind can cost more in cross-kind exchange than it adds), and the best
subset is balanced once more.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmscale.hardware import Cluster
from swarmscale.perf.hetero import KindShare, balanced_shares, cross_kind_sync_s
from swarmscale.perf.params import count_params
from swarmscale.perf.totals import training_totals
from swarmscale.plan.search import search, usable_counts
from swarmscale.workload import TrainingJob

BALANCING_ROUNDS = 3


@dataclass(frozen=True)
class MixedPlan:
    """A mixed-fleet training plan and how it compares with its parts."""

    kinds: list[KindShare]
    dropped: dict[str, str]
    step_s: float
    sync_s: float
    tokens_per_s: float
    sum_of_parts_tokens_per_s: float
    totals: dict[str, Any]

    @property
    def efficiency(self) -> float:
        """Mixed throughput / the kinds' throughputs added (at most 1)."""
        return self.tokens_per_s / self.sum_of_parts_tokens_per_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": [dataclasses.asdict(kind) for kind in self.kinds],
            "dropped": self.dropped,
            "step_s": self.step_s,
            "sync_s": self.sync_s,
            "tokens_per_s": self.tokens_per_s,
            "sum_of_parts_tokens_per_s": self.sum_of_parts_tokens_per_s,
            "efficiency": self.efficiency,
            "totals": self.totals,
        }


def _share_units(global_batch: int, kinds: int) -> list[int]:
    """Share granularities to try: fine shares balance better, coarse ones divide into more
    data-parallel degrees."""
    units = set()
    for parts in (4, 16):
        target = max(global_batch // (parts * kinds), 1)
        units.add(1 << (target.bit_length() - 1))
    return sorted(units)


def _run_kind(job: TrainingJob, cluster: Cluster, share: int) -> tuple[KindShare | None, str]:
    """The kind's best plan for its share, on all its chips or the largest friendlier count
    below (see `usable_counts`)."""
    best: KindShare | None = None
    why = "no valid plan"
    sized = dataclasses.replace(job, global_batch=share)
    for count in usable_counts(cluster.count):
        try:
            result = search(sized, cluster, "time", {"chips": count}, top_k=1, coarse=True)
        except ValueError as exc:
            why = str(exc)
            continue
        if result.best is None:
            why = next(iter(result.rejected), why)
            continue
        step = float(result.best.totals["step_s"])
        if best is None or step < best.step_s:
            best = KindShare(
                cluster.chip.id,
                count,
                share,
                result.best.plan.describe(),
                step,
                result.best.breakdown["memory_bytes"],
            )
    if best is None:
        return (
            None,
            f"no feasible plan for {share} sequences per step on {cluster.count} chips: {why}",
        )
    return best, ""


def _balance(
    job: TrainingJob, clusters: list[Cluster], rates: list[float], unit: int
) -> tuple[list[KindShare | None], list[str]]:
    shares = balanced_shares(job.global_batch, rates, unit)
    results: list[KindShare | None] = []
    reasons: list[str] = []
    for cluster, share in zip(clusters, shares, strict=True):
        if share == 0:
            results.append(None)
            reasons.append("too slow for a share of the batch")
            continue
        kind, why = _run_kind(job, cluster, share)
        results.append(kind)
        reasons.append(why)
    return results, reasons


def _peak_rate(cluster: Cluster) -> float:
    return cluster.count * cluster.chip.peak_flops("bf16")


def _balanced(
    job: TrainingJob, clusters: list[Cluster], rates: list[float]
) -> tuple[list[KindShare | None], dict[str, str], list[float]]:
    """Rebalance shares to measured rates for a few rounds at each granularity; keep the split
    whose slowest kind is fastest."""
    best: tuple[float, list[KindShare | None], dict[str, str], list[float]] | None = None
    failures = {c.chip.id: "no feasible plan" for c in clusters}
    for unit in _share_units(job.global_batch, len(clusters)):
        current = list(rates)
        for _ in range(BALANCING_ROUNDS):
            kinds, reasons = _balance(job, clusters, current, unit)
            dropped = {
                c.chip.id: why
                for c, kind, why in zip(clusters, kinds, reasons, strict=True)
                if kind is None
            }
            steps = [kind.step_s for kind in kinds if kind]
            if not steps:  # no kind trains its share: rebalancing has nothing to go on
                failures = dropped
                break
            current = [kind.sequences_per_s if kind else 0.0 for kind in kinds]
            if best is None or max(steps) < best[0]:
                best = (max(steps), kinds, dropped, current)
    if best is None:
        return [None] * len(clusters), failures, [0.0] * len(clusters)
    return best[1], best[2], best[3]


def plan_mixed(job: TrainingJob, clusters: list[Cluster]) -> MixedPlan:
    """The fastest split of `job` over the chip kinds in `clusters` (one cluster per kind)."""
    if not clusters:
        raise ValueError("a mixed fleet needs at least one chip kind")
    params = float(count_params(job.model).total)
    kinds, dropped, rates = _balanced(job, clusters, [_peak_rate(c) for c in clusters])
    usable = [index for index, rate in enumerate(rates) if rate > 0]
    if not usable:
        raise ValueError(
            "no chip kind of the fleet can train this model: "
            + "; ".join(f"{chip}: {why}" for chip, why in dropped.items())
        )
    chosen = _best_subset(job, clusters, rates, usable, params)
    for index in usable:
        if index not in chosen:
            dropped[clusters[index].chip.id] = "leaving it out is faster (cross-kind exchange)"
    if set(chosen) != set(usable):
        subset = [clusters[i] for i in chosen]
        kinds_subset, _, _ = _balanced(job, subset, [rates[i] for i in chosen])
        kinds = [None] * len(clusters)
        for index, kind in zip(chosen, kinds_subset, strict=True):
            kinds[index] = kind
    return _assemble(job, clusters, kinds, dropped, params)


def _best_subset(
    job: TrainingJob, clusters: list[Cluster], rates: list[float], usable: list[int], params: float
) -> list[int]:
    best: tuple[float, list[int]] | None = None
    for size in range(1, len(usable) + 1):
        for subset in itertools.combinations(usable, size):
            pairs = [(clusters[i], clusters[i].count) for i in subset]
            step = job.global_batch / sum(rates[i] for i in subset) + cross_kind_sync_s(
                params, pairs
            )
            if best is None or step < best[0] - 1e-12:
                best = (step, list(subset))
    assert best is not None
    return best[1]


def _assemble(
    job: TrainingJob,
    clusters: list[Cluster],
    kinds: list[KindShare | None],
    dropped: dict[str, str],
    params: float,
) -> MixedPlan:
    used = [(cluster, kind) for cluster, kind in zip(clusters, kinds, strict=True) if kind]
    if not used:
        raise ValueError("no chip kind of the fleet can train this model")
    sync = cross_kind_sync_s(params, [(cluster, cluster.count) for cluster, _ in used])
    step = max(kind.step_s for _, kind in used) + sync
    parts = sum(kind.batch * job.seq_len / kind.step_s for _, kind in used)
    totals = _mixed_totals(job, used, step)
    return MixedPlan(
        [kind for _, kind in used], dropped, step, sync, job.tokens_per_step / step, parts, totals
    )


def _mixed_totals(
    job: TrainingJob, used: list[tuple[Cluster, KindShare]], step: float
) -> dict[str, Any]:
    """Time, chip-hours, power, energy and cost of the whole fleet at the mixed step time."""
    summed: dict[str, Any] = {
        "chip_hours": 0.0,
        "power_mw": 0.0,
        "energy_mwh": 0.0,
        "cost_usd": 0.0,
    }
    for cluster, kind in used:
        one = training_totals(job, cluster, np.asarray([step]), np.asarray([float(kind.chips)]))
        row = one.at(0)
        for key in ("chip_hours", "power_mw", "energy_mwh"):
            summed[key] += row[key]
        summed["cost_usd"] = (
            None
            if summed["cost_usd"] is None or row["cost_usd"] is None
            else (summed["cost_usd"] + row["cost_usd"])
        )
        summed["time_days"] = row["time_days"]
        summed["tokens_per_s"] = job.tokens_per_step / step
    return summed
