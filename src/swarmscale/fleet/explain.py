"""Why a fleet problem has no answer, and what each binding rule costs.

Relaxations: drop one constraint a user chose at a time (a policy rule, export controls and
distrust included, a site's power cap, the supply limits, the budget) and solve again; the
ones that restore feasibility are the conflict, each with the cost it would then take (when
no single one does, the pairs that do). Chips left out for want of a plan or a price are not
a choice, so they are never offered as a relaxation. Shadow costs: for every such constraint,
solve without it; the cost difference (and, for training, the days the same budget would
save) is what it costs.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

from swarmscale.catalog import Catalog
from swarmscale.fleet.optimize import FleetProblem, InfeasibleFleetError, fastest_hours, solve

BINDING_TOLERANCE = 1e-9  # a relative cost change below this is rounding, not a binding rule


@dataclass(frozen=True)
class RuleEffect:
    """A constraint and what dropping it changes."""

    constraint: str
    feasible: bool
    cost_usd: float | None
    cost_change: float | None  # relative to the constrained optimum; None when that has none
    days_saved: float | None = None  # training: days faster without it, at the same cost


def constraint_names(problem: FleetProblem) -> list[str]:
    """Every constraint a user can relax, named as the optimiser names them: each rule of
    the policies as `policy:rule`, site power caps, the supply limits and the budget."""
    scoped = [problem.policy, *[p for ps in problem.site_policies.values() for p in ps]]
    names = [f"{policy.id}:{rule.id}" for policy in scoped for rule in policy.rules]
    names += [f"site:{site.id}:power" for site in problem.sites if site.power_cap_mw is not None]
    if any(offer.available is not None for offer in problem.offers.values()):
        names.append("supply")
    if problem.cost_cap is not None:
        names.append("budget")
    return list(dict.fromkeys(names))


def _cost(catalog: Catalog, problem: FleetProblem) -> float | None:
    try:
        return solve(catalog, problem).cost_usd
    except InfeasibleFleetError:
        return None


def _without(catalog: Catalog, problem: FleetProblem, *names: str) -> float | None:
    relaxed = dataclasses.replace(problem, dropped_rules=problem.dropped_rules | set(names))
    return _cost(catalog, relaxed)


def relaxations(catalog: Catalog, problem: FleetProblem) -> list[RuleEffect]:
    """For an infeasible problem: which single relaxation makes it feasible, at what cost."""
    effects = []
    for name in constraint_names(problem):
        cost = _without(catalog, problem, name)
        effects.append(RuleEffect(name, cost is not None, cost, None))
    return effects


def pair_relaxations(catalog: Catalog, problem: FleetProblem) -> list[RuleEffect]:
    """Pairs of constraints (named `a + b`) whose joint removal makes `problem` feasible:
    the answer when no single relaxation is enough."""
    effects = []
    for first, second in itertools.combinations(constraint_names(problem), 2):
        cost = _without(catalog, problem, first, second)
        if cost is not None:
            effects.append(RuleEffect(f"{first} + {second}", True, cost, None))
    return effects


def explain_infeasible(catalog: Catalog, problem: FleetProblem) -> str:
    """An error message naming the conflicting rules and the relaxations that would help."""
    if _cost(catalog, problem) is not None:
        return "the constraints admit a fleet for this work target, so none needs relaxing"
    effects = relaxations(catalog, problem)
    helpful = [e for e in effects if e.feasible]
    if not effects:
        free = "the deadline or the workload" if problem.workload == "training" else "the workload"
        return (
            "no fleet of the offered chips does this work, and no rule, cap or limit stands in "
            f"the way: only {free} can give"
        )
    if helpful:
        return (
            "no fleet satisfies every constraint; they conflict: dropping any one of "
            + _listed(helpful)
            + " makes it feasible"
        )
    pairs = pair_relaxations(catalog, problem)
    if pairs:
        return (
            "no fleet satisfies the constraints, and no single relaxation helps; dropping "
            f"both of any one pair of {_listed(pairs)} makes it feasible"
        )
    return (
        "no fleet satisfies the constraints, and no single relaxation helps, nor any pair; "
        f"constraints: {', '.join(e.constraint for e in effects)}; "
        "the workload itself may exceed what the offered chips can do"
    )


def _listed(effects: list[RuleEffect]) -> str:
    return "; ".join(f"{e.constraint} (then ${e.cost_usd:,.0f})" for e in effects)


def shadow_costs(catalog: Catalog, problem: FleetProblem, cost: float) -> list[RuleEffect]:
    """What each constraint costs at the optimum (0 when it does not bind); for training, also
    how many days sooner the same money would finish without it."""
    effects = []
    names = constraint_names(problem)
    training = problem.workload == "training" and bool(names)
    base_hours = fastest_hours(catalog, problem, cost) if training else None
    for name in names:
        relaxed = _without(catalog, problem, name)
        change = None if relaxed is None or relaxed <= 0 else cost / relaxed - 1.0
        if change is not None and abs(change) < BINDING_TOLERANCE:
            change = 0.0
        saved = None
        if change and base_hours is not None:
            freer = dataclasses.replace(problem, dropped_rules=problem.dropped_rules | {name})
            hours = fastest_hours(catalog, freer, cost)
            saved = None if hours is None else (base_hours - hours) / 24.0
        effects.append(RuleEffect(name, relaxed is not None, relaxed, change, saved))
    return effects
