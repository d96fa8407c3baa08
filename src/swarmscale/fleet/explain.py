"""Why a fleet problem has no answer, and what each binding rule costs.

Relaxations: drop one constraint at a time (a policy rule, a policy's chip eligibility, a
site's power cap, the supply limits) and solve again; the ones that restore feasibility are
the conflict, each with the cost it would then take. Shadow costs: for every rule of the
policies, solve without it; the cost difference (and, for training, the days the same budget
would save) is what the rule costs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from swarmscale.catalog import Catalog
from swarmscale.catalog.schemas import CapRule, MinDomesticShare
from swarmscale.fleet.optimize import FleetProblem, InfeasibleFleetError, fastest_hours, solve


@dataclass(frozen=True)
class RuleEffect:
    """A constraint and what dropping it changes."""

    constraint: str
    feasible: bool
    cost_usd: float | None
    cost_change: float | None  # relative to the constrained optimum; None when that has none
    days_saved: float | None = None  # training: days faster without it, at the same cost


def constraint_names(problem: FleetProblem) -> list[str]:
    """Every constraint a user can relax, named as the optimiser names them."""
    names: list[str] = []
    scoped = [problem.policy, *[p for ps in problem.site_policies.values() for p in ps]]
    for policy in scoped:
        names.append(f"{policy.id}:eligibility")
        names += [
            f"{policy.id}:{rule.id}"
            for rule in policy.rules
            if isinstance(rule, MinDomesticShare | CapRule)
        ]
    names += [f"site:{site.id}:power" for site in problem.sites if site.power_cap_mw is not None]
    if any(offer.available is not None for offer in problem.offers.values()):
        names.append("supply")
    return names


def _without(catalog: Catalog, problem: FleetProblem, name: str) -> float | None:
    relaxed = dataclasses.replace(problem, dropped_rules=problem.dropped_rules | {name})
    try:
        return solve(catalog, relaxed).cost_usd
    except InfeasibleFleetError:
        return None


def relaxations(catalog: Catalog, problem: FleetProblem) -> list[RuleEffect]:
    """For an infeasible problem: which single relaxation makes it feasible, at what cost."""
    effects = []
    for name in constraint_names(problem):
        cost = _without(catalog, problem, name)
        effects.append(RuleEffect(name, cost is not None, cost, None))
    return effects


def explain_infeasible(catalog: Catalog, problem: FleetProblem) -> str:
    """An error message naming the conflicting rules and the relaxations that would help."""
    effects = relaxations(catalog, problem)
    helpful = [e for e in effects if e.feasible]
    if not helpful:
        return (
            "no fleet satisfies the constraints, and no single relaxation helps; "
            f"constraints: {', '.join(e.constraint for e in effects) or 'the workload'}; "
            "the workload itself may exceed what the offered chips can do"
        )
    parts = [f"{e.constraint} (then ${e.cost_usd:,.0f})" for e in helpful]
    return (
        "no fleet satisfies every constraint; they conflict: dropping any one of "
        + "; ".join(parts)
        + " makes it feasible"
    )


def shadow_costs(catalog: Catalog, problem: FleetProblem, cost: float) -> list[RuleEffect]:
    """What each constraint costs at the optimum (0 when it does not bind); for training, also
    how many days sooner the same money would finish without it."""
    effects = []
    base_hours = fastest_hours(catalog, problem, cost) if problem.workload == "training" else None
    for name in constraint_names(problem):
        relaxed = _without(catalog, problem, name)
        change = None if relaxed is None or relaxed <= 0 else cost / relaxed - 1.0
        saved = None
        if change and base_hours is not None:
            freer = dataclasses.replace(problem, dropped_rules=problem.dropped_rules | {name})
            hours = fastest_hours(catalog, freer, cost)
            saved = None if hours is None else (base_hours - hours) / 24.0
        effects.append(RuleEffect(name, relaxed is not None, relaxed, change, saved))
    return effects
