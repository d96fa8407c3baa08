"""Turn a workload (train M on T tokens by a deadline, or serve a load within SLOs) into a
fleet problem, solve it, and check the answer with the full plan search.

Training: each kind's throughput alone at 32, 64, 128, ... chips (the plan search at each size)
gives a concave curve the MILP follows, so it knows that per-chip throughput falls with scale
and stops where the batch runs out. Serving: one best replica's SLO-bound throughput.

The mixed-fleet plan search (kinds together) trains slower than the MILP's sum of curves, by
an amount no formula predicts, so training is refined on a ladder (`TrainingLadder`) of work
targets g_i = 2^(i/8) tokens/s, i = 0, 1, 2, ..., the same rungs for every deadline:
- rung i's fleet F_i is the MILP's optimum for g_i tokens/s over its own horizon, the
  H_i = tokens / g_i seconds that g_i takes (work = tokens, hours = H_i): nothing in it
  depends on the deadline;
- F_i trains in T_i: the plan search's time, kinds joining the job as they arrive, but never
  sooner than the MILP's envelope credits F_i with; its cost and energy are F_i's per hour
  over T_i, so a longer deadline never makes a fleet costlier; it meets the budget when that
  cost is within it;
- for a deadline D the answer is the cheapest rung i >= i_D = ceil(8 log2(tokens / D)) (D in
  seconds) with T_i <= D, within the budget (ties: the lowest rung). The scan climbs from
  i_D and stops at the first rung whose LP relaxation is infeasible (so is every larger
  target's) or costs at least the best found less 1e-6 of it: the LP cost at g_i bounds the
  cost of every rung's fleet from i up (an LP's cost per token does not fall as g grows, and
  T_i is at least the envelope's time), so no rung above it is cheaper, whatever the MIP gap.
A longer deadline starts no higher and accepts every rung a shorter one accepted, so it is met
whenever a shorter one is, at no higher cost (to within that 1e-6). When no rung meets D, the
error names the soonest deadline a solved rung j is known to meet, max(T_j, H_j) (if no solved
rung is within the budget, rungs are solved down from the highest with a feasible LP below
i_D, 0, 1, 2, 4, ... rungs under it, until one is), and carries a problem the MILP cannot solve
for `explain_infeasible`: D's target when the MILP has no fleet for it, else the first target
beyond reach; when no rung at all is met, the target of the smallest fleet, since the conflict
then lies in the rules, caps or budget, not the deadline.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from swarmscale.catalog import Catalog, Policy
from swarmscale.fleet.optimize import (
    FleetObjective,
    FleetProblem,
    FleetSolution,
    InfeasibleFleetError,
    Offer,
    Site,
    build_kinds,
    envelope_tokens_per_s,
    lower_bound,
    solve,
)
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.plan.hetero import plan_mixed
from swarmscale.plan.search import search
from swarmscale.plan.serving import ServingTarget, best_replica
from swarmscale.plan.swarm import batch_sequences
from swarmscale.workload import InferenceJob, TrainingJob

TRAINING_UNIT = 32  # whole groups of four 8-chip nodes: counts that factor well
RUNGS_PER_DOUBLING = 8  # the ladder's work targets, 2^(i/8) tokens/s: 9% apart
MAX_RUNG = RUNGS_PER_DOUBLING * 48  # 2^48 tokens/s, far beyond any fleet
PRUNE_TOLERANCE = 1e-6  # an LP bound within this (relative) of the best found ends the scan
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
    """The optimiser's fleet, checked by the full plan search. Training: `problem` is the
    rung's, over the `days` the fleet trains in, and cost and energy are over those days."""

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

    @property
    def objective_value(self) -> float:
        """What the problem minimises: USD, or kWh for the energy objective."""
        if self.problem.objective == "energy":
            return self.solution.energy_mwh * 1e3
        return self.solution.cost_usd


def first_rung(tokens_per_s: float) -> int:
    """The lowest rung whose target is at least `tokens_per_s`."""
    rung = math.ceil(RUNGS_PER_DOUBLING * math.log2(tokens_per_s) - 1e-9)
    return min(max(rung, 0), MAX_RUNG)


def rung_tokens_per_s(index: int) -> float:
    return float(2.0 ** (index / RUNGS_PER_DOUBLING))


class TrainingLadder:
    """The training refinement for one problem (see the module docstring). Rungs are solved
    once and shared by every deadline asked, since none of them depends on the deadline;
    `problem`'s work and hours are replaced by each rung's, the rest (kinds, rules, sites,
    objective, budget) is kept."""

    def __init__(self, catalog: Catalog, work: TrainingWork, problem: FleetProblem) -> None:
        self.catalog, self.work, self.problem = catalog, work, problem
        self._job = work.job(catalog)
        self._kinds = {kind.chip: kind for kind in problem.kinds}
        self._rungs: dict[int, FleetAnswer | None] = {}
        self._bounds: dict[int, float | None] = {}
        self._plans: dict[frozenset[tuple[str, int]], float] = {}

    def answer(self, deadline_days: float) -> FleetAnswer:
        """The cheapest rung that meets the deadline; InfeasibleFleetError when none does."""
        start = first_rung(self.work.tokens / (deadline_days * 86400.0))
        best, stop = self._cheapest(start, deadline_days)
        if best is None:
            raise self._infeasible(deadline_days, start, stop)
        return dataclasses.replace(best, rounds=stop - start)

    def sized(self, index: int) -> FleetProblem:
        """Rung `index`'s MILP problem: its target over its own horizon."""
        hours = self.work.tokens / rung_tokens_per_s(index) / 3600.0
        return dataclasses.replace(self.problem, work=self.work.tokens, hours=hours)

    def rung(self, index: int) -> FleetAnswer | None:
        """Rung `index`'s fleet, timed and costed over its training time; None when the MILP
        has no fleet for its target."""
        if index not in self._rungs:
            self._rungs[index] = self._solve_rung(index)
        return self._rungs[index]

    def bound(self, index: int) -> float | None:
        """The LP relaxation's objective at rung `index`; None when it is infeasible."""
        if index not in self._bounds:
            self._bounds[index] = lower_bound(self.catalog, self.sized(index))
        return self._bounds[index]

    def _cheapest(self, start: int, deadline_days: float) -> tuple[FleetAnswer | None, int]:
        """The cheapest rung from `start` up that meets the deadline, and where the scan ended."""
        best: FleetAnswer | None = None
        for index in range(start, MAX_RUNG + 1):
            if best is not None and not self._may_beat(index, best.objective_value):
                return best, index
            rung = self.rung(index)
            if rung is None:
                if self.bound(index) is None:
                    return best, index
                continue
            if self._meets(rung, deadline_days) and (
                best is None or rung.objective_value < best.objective_value
            ):
                best = rung
        return best, MAX_RUNG

    def _may_beat(self, index: int, value: float) -> bool:
        bound = self.bound(index)
        return bound is not None and bound < value * (1.0 - PRUNE_TOLERANCE)

    def _affordable(self, answer: FleetAnswer) -> bool:
        cap = self.problem.cost_cap
        return cap is None or answer.solution.cost_usd <= cap

    def _meets(self, answer: FleetAnswer, deadline_days: float) -> bool:
        return answer.days is not None and answer.days <= deadline_days and self._affordable(answer)

    def _solve_rung(self, index: int) -> FleetAnswer | None:
        sized = self.sized(index)
        try:
            solution = solve(self.catalog, sized)
        except InfeasibleFleetError:
            return None
        chips = _chips_per_kind(solution)
        hours = max(
            _finish_hours(self.work.tokens, self._steps(chips, self._plan_tokens_per_s)),
            _finish_hours(self.work.tokens, self._steps(chips, self._credited_tokens_per_s)),
        )
        scale = hours / sized.hours
        problem = dataclasses.replace(sized, work=sized.work * scale, hours=hours)
        scaled = dataclasses.replace(
            solution,
            cost_usd=solution.cost_usd * scale,
            energy_mwh=solution.energy_mwh * scale,
            work=solution.work * scale,
        )
        return FleetAnswer(problem, scaled, hours / 24.0, self.work.tokens / hours / 3600.0, 0)

    def _steps(
        self, chips: dict[str, int], rate: Callable[[dict[str, int]], float]
    ) -> list[tuple[float, float]]:
        """(hour, tokens/s) from each arrival on: the rate of the kinds arrived by then."""
        arrivals = sorted({self._kinds[chip].lead_hours for chip in chips})
        return [
            (hour, rate({c: n for c, n in chips.items() if self._kinds[c].lead_hours <= hour}))
            for hour in arrivals
        ]

    def _plan_tokens_per_s(self, chips: dict[str, int]) -> float:
        """The mixed-fleet plan search's throughput (sites pooled), once per fleet."""
        key = frozenset(chips.items())
        if key not in self._plans:
            clusters = [
                build_cluster(self.catalog, chip, count, self.problem.offers[chip].system)
                for chip, count in chips.items()
            ]
            self._plans[key] = plan_mixed(self._job, clusters).tokens_per_s
        return self._plans[key]

    def _credited_tokens_per_s(self, chips: dict[str, int]) -> float:
        return sum(envelope_tokens_per_s(self._kinds[c], n) for c, n in chips.items())

    def _infeasible(self, deadline_days: float, start: int, stop: int) -> InfeasibleFleetError:
        """The error for a deadline no rung meets: a deadline that is met, and a problem the
        MILP cannot solve, so that its relaxations are real ones."""
        met = self._met_deadline_days(start)
        budget = "" if self.problem.cost_cap is None else f" within ${self.problem.cost_cap:,.0f}"
        if met is None:
            message = (
                f"no fleet that the constraints allow trains {self.work.tokens:g} tokens"
                f"{budget}, at any size the optimiser tried"
            )
            return InfeasibleFleetError(message, self.sized(self._unit_rung()))
        if self._rungs.get(start) is None:
            needed = self.work.tokens / (deadline_days * 86400.0)
            message = (
                f"no fleet allowed{budget} reaches the {needed:,.0f} tokens/s that a "
                f"{deadline_days:g}-day deadline needs"
            )
            failed = self.sized(start)
        else:
            message = (
                f"no fleet the optimiser finds{budget} trains {self.work.tokens:g} tokens "
                f"within {deadline_days:g} days under the full plan search"
            )
            failed = self.sized(stop)
        message += f"; relaxing the deadline to {met:g} days makes it feasible"
        return InfeasibleFleetError(message, failed, met)

    def _unit_rung(self) -> int:
        """A rung below the smallest fleet of the slowest kind: a target any fleet meets."""
        rates = [kind.curve[0][1] for kind in self.problem.kinds if kind.curve]
        return max(first_rung(min(rates)) - 1, 0) if rates else 0

    def _met_deadline_days(self, start: int) -> float | None:
        """The soonest deadline (rounded up to 0.1 day) a solved rung j is known to meet:
        max(T_j, H_j), since that deadline's scan starts at or below j and passes it."""
        if not self._affordable_rungs():
            self._solve_below(start)
        days = [
            max(answer.days or math.inf, self.sized(index).hours / 24.0)
            for index, answer in self._affordable_rungs()
        ]
        soonest = min(days, default=math.inf)
        return math.ceil(soonest * 10.0) / 10.0 if math.isfinite(soonest) else None

    def _affordable_rungs(self) -> list[tuple[int, FleetAnswer]]:
        return [(i, a) for i, a in self._rungs.items() if a is not None and self._affordable(a)]

    def _solve_below(self, start: int) -> None:
        """Solve rungs down from the highest below `start` whose LP is feasible (bisection:
        feasibility falls with the target), 0, 1, 2, 4, ... rungs under it, until one is
        within the budget."""
        if start == 0 or self.bound(0) is None:
            return
        low, high = 0, start - 1
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if self.bound(middle) is not None else (low, middle - 1)
        offset = 0
        while offset <= low:
            rung = self.rung(low - offset)
            if rung is not None and self._affordable(rung):
                return
            offset = max(1, 2 * offset)


def _chips_per_kind(solution: FleetSolution) -> dict[str, int]:
    chips: dict[str, int] = {}
    for item in solution.items:
        chips[item.chip] = chips.get(item.chip, 0) + item.count
    return chips


def _finish_hours(tokens: float, steps: list[tuple[float, float]]) -> float:
    """When `tokens` are trained at steps[j][1] tokens/s from hour steps[j][0] on."""
    done = 0.0
    for j, (hour, rate) in enumerate(steps):
        end = steps[j + 1][0] if j + 1 < len(steps) else math.inf
        finish = hour + (tokens - done) / rate / 3600.0 if rate > 0 else math.inf
        if finish <= end:
            return finish
        done += rate * (end - hour) * 3600.0
    return math.inf


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
    """Solve; for training, climb the ladder until the full plan search meets the deadline."""
    problem = problem or build_problem(
        catalog, work, offers, sites, policy, objective, site_policies
    )
    if isinstance(work, ServingWork):
        return FleetAnswer(problem, solve(catalog, problem), None, None, 1)
    return TrainingLadder(catalog, work, problem).answer(work.deadline_days)
