"""Turn a workload (train M on T tokens by a deadline, or serve a load within SLOs) into a
fleet problem, solve it, and check the answer with the full plan search.

Training: each kind's throughput alone at 32, 64, 128, ... chips (the plan search at each size)
gives a concave curve the MILP follows, so it knows that per-chip throughput falls with scale
and stops where the batch runs out. Serving: one best replica's SLO-bound throughput. The
chosen training fleet is re-planned with the mixed-fleet search (kinds together), and while it
misses the deadline the work target is scaled by the miss and the MILP solved again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from swarmscale.catalog import Catalog, Policy
from swarmscale.fleet.optimize import (
    FleetObjective,
    FleetProblem,
    FleetSolution,
    InfeasibleFleetError,
    KindRate,
    Offer,
    Site,
    build_kinds,
    solve,
)
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.plan.hetero import plan_mixed
from swarmscale.plan.search import search
from swarmscale.plan.serving import ServingTarget, best_replica
from swarmscale.plan.swarm import batch_sequences
from swarmscale.workload import InferenceJob, TrainingJob

TRAINING_UNIT = 32  # whole groups of four 8-chip nodes: counts that factor well
REFINE_ROUNDS = 6
MAX_CURVE_LOG2 = 20  # throughput curves go up to 2^20 (about a million) chips
MIN_GROWTH = 1.02  # a doubling that adds less than 2% ends the curve


@dataclass(frozen=True)
class TrainingWork:
    """Train `model` on `tokens` tokens within `deadline_days`."""

    model: str
    tokens: float
    deadline_days: float
    seq_len: int = 4096
    batch_tokens: float = 4e6

    def job(self, catalog: Catalog) -> TrainingJob:
        return TrainingJob(
            catalog.model(self.model),
            self.seq_len,
            batch_sequences(self.batch_tokens, self.seq_len),
            tokens=self.tokens,
        )


@dataclass(frozen=True)
class ServingWork:
    """Serve `rate` requests/s within TTFT and TPOT targets, costed over `hours`."""

    model: str
    rate: float
    input_len: int
    output_len: int
    ttft_s: float
    tpot_s: float
    precision: Literal["bf16", "fp8", "int8", "int4"] = "fp8"
    hours: float = 8760.0


Work = TrainingWork | ServingWork


def _training_rate(job: TrainingJob) -> Any:
    """A kind's training throughput alone at 32, 64, ... chips, until it stops growing or no
    plan fits (the global batch bounds data parallelism): the curve the MILP follows."""

    def at(cluster: Cluster, chips: int) -> tuple[float, str]:
        sized = dataclasses.replace(cluster, count=chips)
        try:
            result = search(job, sized, "time", {"chips": chips}, top_k=1, coarse=True)
        except ValueError as exc:
            return 0.0, str(exc)
        if result.best is None:
            return 0.0, f"no feasible plan at {chips:,} chips: " + next(iter(result.rejected), "")
        return float(result.best.totals["tokens_per_s"]), ""

    def rate_of(cluster: Cluster) -> tuple[int, float, str, tuple[tuple[float, float], ...]]:
        curve: list[tuple[float, float]] = []
        note = ""
        for power in range(TRAINING_UNIT.bit_length() - 1, MAX_CURVE_LOG2 + 1):
            tokens_per_s, why = at(cluster, 1 << power)
            if tokens_per_s <= 0:
                note = note or why
                if curve:
                    break
                continue
            if curve and tokens_per_s < curve[-1][1] * MIN_GROWTH:
                break
            curve.append((float(1 << power), tokens_per_s))
        if not curve:
            return TRAINING_UNIT, 0.0, note, ()
        first_chips, first_rate = curve[0]
        return TRAINING_UNIT, first_rate / first_chips * TRAINING_UNIT, "", tuple(curve)

    return rate_of


def _serving_rate(catalog: Catalog, work: ServingWork) -> Any:
    kv = 1.0 if work.precision in ("fp8", "int8") else 2.0
    job = InferenceJob(catalog.model(work.model), work.precision, kv_bytes=kv)
    target = ServingTarget(work.rate, work.input_len, work.output_len, work.ttft_s, work.tpot_s)

    def rate_of(cluster: Cluster) -> tuple[int, float, str, tuple[tuple[float, float], ...]]:
        best = best_replica(job, dataclasses.replace(cluster, count=1_000_000), target)
        if best is None:
            return 1, 0.0, "no replica layout meets the SLOs", ()
        return best[1], best[0], "", ()

    return rate_of


def build_problem(
    catalog: Catalog,
    work: Work,
    offers: list[Offer],
    sites: list[Site],
    policy: Policy,
    objective: FleetObjective = "cost",
    site_policies: dict[str, list[Policy]] | None = None,
) -> FleetProblem:
    if isinstance(work, TrainingWork):
        rate_of = _training_rate(work.job(catalog))
        kinds, unusable = build_kinds(catalog, offers, rate_of)
        target, hours = work.tokens, work.deadline_days * 24.0
        kind: Literal["training", "inference"] = "training"
    else:
        kinds, unusable = build_kinds(catalog, offers, _serving_rate(catalog, work))
        target, hours, kind = work.rate * work.output_len, work.hours, "inference"
    offered = {catalog.chip(offer.chip).id: offer for offer in offers}
    return FleetProblem(
        kinds,
        offered,
        sites,
        policy,
        site_policies or {},
        target,
        hours,
        kind,
        objective,
        unusable=unusable,
    )


@dataclass
class FleetAnswer:
    """The optimiser's fleet, checked by the full plan search."""

    problem: FleetProblem
    solution: FleetSolution
    days: float | None
    tokens_per_s: float | None
    rounds: int

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.solution.as_dict(),
            "days": self.days,
            "tokens_per_s": self.tokens_per_s,
            "refine_rounds": self.rounds,
            "kinds": [
                {
                    "chip": k.chip,
                    "unit_chips": k.unit_chips,
                    "rate_per_unit": k.rate_per_unit,
                    "note": k.note,
                }
                for k in self.problem.kinds
            ],
        }


def _replan(
    catalog: Catalog, work: TrainingWork, solution: FleetSolution, offers: dict[str, Offer]
) -> float:
    """Tokens/s of the chosen fleet under the mixed-fleet plan search (sites pooled)."""
    per_chip: dict[str, int] = {}
    for item in solution.items:
        per_chip[item.chip] = per_chip.get(item.chip, 0) + item.count
    clusters = [
        build_cluster(catalog, chip, count, offers[chip].system) for chip, count in per_chip.items()
    ]
    return plan_mixed(work.job(catalog), clusters).tokens_per_s


def optimise(
    catalog: Catalog,
    work: Work,
    offers: list[Offer],
    sites: list[Site],
    policy: Policy,
    objective: FleetObjective = "cost",
    site_policies: dict[str, list[Policy]] | None = None,
    problem: FleetProblem | None = None,
) -> FleetAnswer:
    """Solve, then (for training) re-plan and tighten until the deadline holds."""
    problem = problem or build_problem(
        catalog, work, offers, sites, policy, objective, site_policies
    )
    solution = solve(catalog, problem)
    if isinstance(work, ServingWork):
        return FleetAnswer(problem, solution, None, None, 1)
    best: FleetAnswer | None = None
    current, tokens_per_s = problem, 0.0
    for round_ in range(1, REFINE_ROUNDS + 1):
        tokens_per_s = _replan(catalog, work, solution, problem.offers)
        days = work.tokens / tokens_per_s / 86400.0 if tokens_per_s > 0 else float("inf")
        answer = FleetAnswer(current, solution, days, tokens_per_s, round_)
        meets = days <= work.deadline_days * 1.001
        if meets and (best is None or solution.cost_usd < best.solution.cost_usd):
            best = answer
        if abs(days / work.deadline_days - 1.0) < 0.02 or round_ == REFINE_ROUNDS:
            break
        # Scale the work target by the miss (or the slack) and solve again.
        current = dataclasses.replace(current, work=current.work * days / work.deadline_days)
        try:
            solution = solve(catalog, current)
        except InfeasibleFleetError:
            break
    if best is None:
        raise InfeasibleFleetError(
            f"the fleets the optimiser finds train in {days:.1f} days under the full plan "
            f"search, past the {work.deadline_days:g}-day deadline; meeting it needs "
            f"{current.work / problem.work:.2f}x the linear estimate of work",
            current,
        )
    return best


def kinds_table(kinds: list[KindRate]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(kind) for kind in kinds]
