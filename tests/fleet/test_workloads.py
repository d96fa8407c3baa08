"""The training refinement (the ladder of work targets): a deadline met is met by every longer
one at no higher cost, and a deadline no fleet meets is explained by relaxations a user can
choose (a rule, a cap, the budget, supply or the deadline), each of which really helps."""

from __future__ import annotations

import dataclasses
import functools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.catalog import default_catalog
from swarmscale.catalog.schemas import CapRule
from swarmscale.fleet.explain import (
    constraint_names,
    explain_infeasible,
    pair_relaxations,
    relaxations,
)
from swarmscale.fleet.optimize import FleetProblem, InfeasibleFleetError, Offer, Site
from swarmscale.fleet.workloads import (
    PRUNE_TOLERANCE,
    FleetAnswer,
    TrainingLadder,
    TrainingWork,
    build_problem,
    optimise,
)
from tests.conftest import CliRunner

CATALOG = default_catalog()
SMALL = TrainingWork("llama3-8b", 1e12, 30.0)  # fleets of tens to hundreds of chips
ISSUE = TrainingWork("llama3-70b", 15e12, 60.0)  # the command of the issue
POLICIES = ["unrestricted", "cn-beijing-70", "cn-beijing-100", "cn-no-h20", "cn-guiyang-90"]
CAPS: list[tuple[str, float] | None] = [None, ("chips", 128.0), ("power_mw", 0.3)]


@functools.cache
def _problem(work: TrainingWork, policy_id: str) -> FleetProblem:
    """Every catalog chip on offer at one site. The throughput curves in it do not depend on
    the deadline, so one build serves every example."""
    offers = [Offer(chip) for chip in CATALOG.chips]
    return build_problem(CATALOG, work, offers, [Site()], CATALOG.policy(policy_id))


@functools.cache
def _ladder(policy_id: str, budget: float | None, cap: tuple[str, float] | None) -> TrainingLadder:
    """One ladder per constraint set: its rungs do not depend on the deadline either."""
    problem = _problem(SMALL, policy_id)
    policy = problem.policy
    if cap is not None:
        what, value = cap
        rule = CapRule.model_validate(
            {"kind": "cap", "id": "test-cap", "what": what, "value": value, "source": "test"}
        )
        policy = policy.model_copy(update={"rules": (*policy.rules, rule)})
    capped = dataclasses.replace(problem, policy=policy, cost_cap=budget)
    return TrainingLadder(CATALOG, SMALL, capped)


def _attempt(ladder: TrainingLadder, days: float) -> FleetAnswer | InfeasibleFleetError:
    try:
        return ladder.answer(days)
    except InfeasibleFleetError as error:
        return error


def _assert_names_a_real_relaxation(ladder: TrainingLadder, error: InfeasibleFleetError) -> None:
    assert error.problem is not None
    message = f"{error}. {explain_infeasible(CATALOG, error.problem)}"
    assert ":eligibility" not in message
    if error.deadline_days is not None:
        assert f"deadline to {error.deadline_days:g} days" in message
        met = ladder.answer(error.deadline_days)
        assert met.days is not None and met.days <= error.deadline_days
        return
    effects = relaxations(CATALOG, error.problem)
    helpful = [e for e in effects if e.feasible] or pair_relaxations(CATALOG, error.problem)
    assert helpful, message
    for effect in helpful:
        assert effect.constraint in message
        assert set(effect.constraint.split(" + ")) <= set(constraint_names(ladder.problem))


@settings(max_examples=10, deadline=None)
@given(
    policy=st.sampled_from(POLICIES),
    budget=st.sampled_from([None, 2e4]),
    cap=st.sampled_from(CAPS),
    days=st.floats(3.0, 60.0),
    longer=st.floats(1.0, 4.0),
)
def test_a_longer_deadline_is_met_at_no_higher_cost(
    policy: str,
    budget: float | None,
    cap: tuple[str, float] | None,
    days: float,
    longer: float,
) -> None:
    ladder = _ladder(policy, budget, cap)
    short, long = _attempt(ladder, days), _attempt(ladder, days * longer)
    if isinstance(short, FleetAnswer):
        assert isinstance(long, FleetAnswer)
        assert short.days is not None and short.days <= days
        assert long.solution.cost_usd <= short.solution.cost_usd * (1 + PRUNE_TOLERANCE)
        if budget is not None:
            assert short.solution.cost_usd <= budget
    for answer in (short, long):
        if isinstance(answer, InfeasibleFleetError):
            _assert_names_a_real_relaxation(ladder, answer)


def test_the_issue_command_answers_every_deadline_at_falling_cost(run_cli: CliRunner) -> None:
    """`swarmscale fleet --policy unrestricted --model llama3-70b --tokens 15e12` failed at 45,
    60 and 61 days while 30 and 65 succeeded, and cost rose from 65 to 75 days."""
    ladder = TrainingLadder(CATALOG, ISSUE, _problem(ISSUE, "unrestricted"))
    costs = []
    for days in (30, 45, 60, 61, 75, 90, 120):
        answer = ladder.answer(days)
        assert answer.days is not None and answer.days <= days
        costs.append(answer.solution.cost_usd)
    assert costs == sorted(costs, reverse=True)
    args = ["fleet", "--policy", "unrestricted", "--model", "llama3-70b", "--tokens", "15e12"]
    code, out, err = run_cli([*args, "--deadline-days", "60", "--json"])
    assert code == 0, err
    payload = json.loads(out)
    assert payload["days"] <= 60
    assert payload["cost_usd"] == pytest.approx(costs[2], rel=1e-12)  # a fresh ladder agrees
    assert all("eligibility" not in e["constraint"] for e in payload["rule_costs"])


def test_a_fresh_optimise_matches_a_shared_ladder() -> None:
    ladder = _ladder("cn-beijing-70", None, None)
    for days in (20.0, 5.0):
        work = dataclasses.replace(SMALL, deadline_days=days)
        fresh = optimise(CATALOG, work, [], [], ladder.problem.policy, problem=ladder.problem)
        shared = ladder.answer(days)
        assert fresh.solution.counts == shared.solution.counts
        assert fresh.solution.cost_usd == shared.solution.cost_usd


def test_kinds_join_the_fleet_when_they_arrive() -> None:
    """A kind that arrives after the deadline is no use; a fleet starts when its kinds arrive."""
    offers = [Offer("h100-sxm", lead_time_days=2.0), Offer("b200", lead_time_days=40.0)]
    work = dataclasses.replace(SMALL, tokens=1e12)
    problem = build_problem(CATALOG, work, offers, [Site()], CATALOG.policy("unrestricted"))
    ladder = TrainingLadder(CATALOG, work, problem)
    soon = ladder.answer(10.0)
    assert {item.chip for item in soon.solution.items} == {"h100-sxm"}
    assert soon.days is not None and 2.0 < soon.days <= 10.0
    later = ladder.answer(90.0)
    assert later.solution.cost_usd <= soon.solution.cost_usd * (1 + PRUNE_TOLERANCE)


def test_a_policy_without_rules_offers_no_rule_to_drop() -> None:
    """Chips with no plan or no price are not a rule: nothing to relax but the deadline."""
    chips = ["h100-sxm", "a100-sxm-80gb", "h20", "mlu370-x8"]  # the last two: no plan, no price
    offers = [Offer(chip) for chip in chips]
    problem = build_problem(CATALOG, SMALL, offers, [Site()], CATALOG.policy("unrestricted"))
    assert constraint_names(problem) == []
    ladder = TrainingLadder(CATALOG, SMALL, problem)
    with pytest.raises(InfeasibleFleetError) as raised:
        ladder.answer(0.1)
    _assert_names_a_real_relaxation(ladder, raised.value)
    assert "deadline" in str(raised.value)


def test_each_eligibility_rule_is_its_own_relaxation() -> None:
    """cn-no-h20 keeps H20 out by US export control and by distrust; each rule is named."""
    names = constraint_names(_problem(SMALL, "cn-no-h20"))
    assert {"cn-no-h20:us-export-controls", "cn-no-h20:distrust-h20"} <= set(names)
