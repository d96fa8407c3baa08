"""The fleet MILP: optimal against brute force on small instances, and every rule holds."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.catalog import Catalog, Policy, default_catalog
from swarmscale.fleet.explain import explain_infeasible, shadow_costs
from swarmscale.fleet.optimize import (
    FleetProblem,
    InfeasibleFleetError,
    KindRate,
    Offer,
    Site,
    figures_of,
    solve,
)
from swarmscale.policy.rules import check_fleet
from tests.conftest import CliRunner

CATALOG = default_catalog()
CHIPS = ["ascend-910c", "h20", "ascend-910b"]  # CN, US, CN designs; all allowed below


def _kinds(rates: list[float], prices: list[float]) -> list[KindRate]:
    return [
        KindRate(chip, 8, rate, 0.0, 1000.0, price * 8760 * 4, price, 500e12, 1 / 32)
        for chip, rate, price in zip(CHIPS, rates, prices, strict=False)
    ]


def _policy(share: float, power_cap: float | None) -> Policy:
    rules: list[dict[str, object]] = [
        {"kind": "min_domestic_share", "id": "dom", "share": share, "source": "test"}
    ]
    if power_cap is not None:
        rules.append(
            {"kind": "cap", "id": "power", "what": "power_mw", "value": power_cap, "source": "test"}
        )
    return Policy.model_validate(
        {
            "id": "p",
            "name": "p",
            "jurisdiction": "CN",
            "date": "2025-09-30",
            "source": "test",
            "rules": rules,
        }
    )


def _cost(problem: FleetProblem, units: dict[tuple[int, int], int]) -> float:
    total = 0.0
    for (k, s), u in units.items():
        kind = problem.kinds[k]
        site = problem.sites[s]
        energy = u * 8 * kind.power_w_per_chip * 1.2 * problem.hours / 1e3
        total += u * 8 * (kind.price_per_chip_hour or 0) * problem.hours + energy * (
            site.energy_price_usd_per_kwh or 0.08
        )
    return total


@settings(max_examples=25, deadline=None)
@given(
    rates=st.lists(st.floats(1.0, 10.0), min_size=3, max_size=3),
    prices=st.lists(st.floats(0.5, 5.0), min_size=3, max_size=3),
    share=st.sampled_from([0.0, 0.5, 0.7, 1.0]),
    work=st.floats(5.0, 60.0),
    cap=st.sampled_from([None, 0.05, 0.1]),
    available=st.integers(1, 4),
)
def test_milp_matches_brute_force_and_obeys_every_rule(
    rates: list[float],
    prices: list[float],
    share: float,
    work: float,
    cap: float | None,
    available: int,
) -> None:
    sites = [
        Site("a", energy_price_usd_per_kwh=0.05, pue=1.2),
        Site("b", energy_price_usd_per_kwh=0.1, pue=1.2),
    ]
    offers = {chip: Offer(chip, available=available * 8) for chip in CHIPS}
    problem = FleetProblem(
        _kinds(rates, prices), offers, sites, _policy(share, cap), {}, work, 1.0, "inference"
    )
    best: float | None = None
    for combo in itertools.product(range(available + 1), repeat=6):
        units = {(k, s): combo[k * 2 + s] for k in range(3) for s in range(2)}
        if any(units[(k, 0)] + units[(k, 1)] > available for k in range(3)):
            continue
        if sum(rates[k] * u for (k, _), u in units.items()) < work - 1e-6:
            continue
        chips = {k: 8 * (units[(k, 0)] + units[(k, 1)]) for k in range(3)}
        total = sum(chips.values())
        domestic = chips[0] + chips[2]
        if total and domestic < share * total - 1e-9:
            continue
        if cap is not None and sum(chips.values()) * 1000.0 / 1e6 > cap + 1e-9:
            continue
        cost = _cost(problem, units)
        best = cost if best is None else min(best, cost)
    if best is None:
        with pytest.raises(InfeasibleFleetError):
            solve(CATALOG, problem)
        return
    solution = solve(CATALOG, problem)
    assert solution.cost_usd == pytest.approx(best, rel=1e-6, abs=1e-6)
    violations = check_fleet(
        CATALOG, problem.policy, solution.items, "inference", figures_of(problem.kinds)
    )
    assert violations == []


def test_infeasible_problem_names_the_conflict(catalog: Catalog) -> None:
    problem = FleetProblem(
        _kinds([1.0, 100.0, 1.0], [1.0, 1.0, 1.0]),
        {c: Offer(c, available=8) for c in CHIPS},
        [Site()],
        _policy(1.0, None),
        {},
        50.0,
        1.0,
        "inference",
    )
    with pytest.raises(InfeasibleFleetError):
        solve(catalog, problem)
    message = explain_infeasible(catalog, problem)
    assert "p:dom" in message and "supply" in message


def test_binding_rule_has_a_positive_shadow_cost(catalog: Catalog) -> None:
    problem = FleetProblem(
        _kinds([1.0, 10.0, 1.0], [1.0, 1.0, 1.0]),
        {c: Offer(c) for c in CHIPS},
        [Site()],
        _policy(0.7, None),
        {},
        20.0,
        1.0,
        "inference",
    )
    solution = solve(catalog, problem)
    effects = {e.constraint: e for e in shadow_costs(catalog, problem, solution.cost_usd)}
    assert effects["p:dom"].cost_change is not None and effects["p:dom"].cost_change > 0


def test_fleet_cli_and_infeasible_exit_2(run_cli: CliRunner, tmp_path: object) -> None:
    code, out, _ = run_cli(
        [
            "fleet",
            "--model",
            "llama3-8b",
            "--tokens",
            "1e11",
            "--deadline-days",
            "30",
            "--policy",
            "cn-beijing-70",
            "--json",
        ]
    )
    assert code == 0
    import json

    payload = json.loads(out)
    domestic = sum(
        r["chips"]
        for r in payload["fleet"]
        if default_catalog().chip(r["chip"]).design_country == "CN"
    )
    assert domestic >= 0.7 * payload["chips"]
    code, out, err = run_cli(
        [
            "fleet",
            "--model",
            "llama3-405b",
            "--tokens",
            "1e15",
            "--deadline-days",
            "1",
            "--policy",
            "cn-beijing-100",
        ]
    )
    assert code == 2 and out == "" and "no fleet satisfies" in err


def test_policy_check_cli(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(
        [
            "policy",
            "check",
            "--policy",
            "cn-public-dc-50",
            "--fleet",
            "h100-sxm:64,ascend-910c:32",
            "--json",
        ]
    )
    assert code == 0
    import json

    payload = json.loads(out)
    rules = {v["rule"] for v in payload["violations"]}
    assert not payload["ok"] and {"eligibility", "domestic-50"} <= rules


def test_an_eligibility_rule_is_named_as_its_own_relaxation(catalog: Catalog) -> None:
    """Only the H20 does the work; a forbid rule keeps it out: that rule is the relaxation,
    and a policy without rules is never told to drop an 'eligibility' it does not have."""
    forbid = {"kind": "forbid", "id": "no-h20", "chips": ["h20"], "reason": "t", "source": "test"}
    strict = Policy.model_validate(
        {"id": "p", "name": "p", "jurisdiction": "CN", "date": "2025-09-30", "source": "test",
         "rules": [forbid]}
    )  # fmt: skip
    kinds = _kinds([1.0, 100.0, 1.0], [1.0, 1.0, 1.0])
    offers = {c: Offer(c, available=8) for c in CHIPS}
    problem = FleetProblem(kinds, offers, [Site()], strict, {}, 50.0, 1.0, "inference")
    with pytest.raises(InfeasibleFleetError):
        solve(catalog, problem)
    assert "p:no-h20" in explain_infeasible(catalog, problem)
    free = dataclasses.replace(problem, policy=catalog.policy("unrestricted"), work=500.0)
    message = explain_infeasible(catalog, free)
    assert "supply" in message and "eligibility" not in message
