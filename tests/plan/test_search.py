"""Plan search: fixed fields hold, infeasible plans never win, objectives and errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from swarmscale.catalog import Catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.plans import Plan, PlanGrid, parse_plan
from swarmscale.perf.training import evaluate_training
from swarmscale.plan.search import enumerate_plans, evaluate_plan, search
from swarmscale.workload import SoftwareOptions, TrainingJob


@pytest.fixture
def job(catalog: Catalog) -> TrainingJob:
    return TrainingJob(catalog.model("llama3-70b"), 4096, 512, tokens=1e12)


def test_best_is_feasible_and_fastest(catalog: Catalog, job: TrainingJob) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 256)
    result = search(job, cluster)
    assert result.best is not None and result.best.feasible
    arrays, grid = result.arrays, result.grid
    fastest_feasible = float(np.min(arrays.step_s[arrays.feasible]))
    assert result.best.totals["step_s"] == pytest.approx(fastest_feasible)
    assert sum(result.rejected.values()) + result.feasible == result.evaluated == len(grid)


def test_fixed_fields_are_held(catalog: Catalog, job: TrainingJob) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 256)
    result = search(job, cluster, fixed={"tp": 4, "pp": 4, "recompute": "full"})
    assert result.best is not None
    assert result.best.plan.tp == 4 and result.best.plan.pp == 4
    assert result.best.plan.recompute == "full"
    assert set(result.grid.tp.tolist()) == {4}


def test_cost_objective_can_use_fewer_chips(catalog: Catalog, job: TrainingJob) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 1024)
    by_cost = search(job, cluster, "cost")
    by_time = search(job, cluster, "time")
    assert by_cost.best is not None and by_time.best is not None
    assert by_cost.best.totals["cost_usd"] <= by_time.best.totals["cost_usd"]
    assert by_time.best.totals["step_s"] <= by_cost.best.totals["step_s"]


def test_unknown_objective_is_an_error(catalog: Catalog, job: TrainingJob) -> None:
    with pytest.raises(ValueError, match="objective must be one of"):
        search(job, build_cluster(catalog, "h100-sxm", 8), "speed")


def test_impossible_fixed_plan_says_why(catalog: Catalog, job: TrainingJob) -> None:
    with pytest.raises(ValueError, match="no plan fits"):
        enumerate_plans(job, build_cluster(catalog, "h100-sxm", 8), {"tp": 16, "chips": 8})


def test_oversized_model_has_no_feasible_plan(catalog: Catalog) -> None:
    job = TrainingJob(catalog.model("llama3-405b"), 4096, 64)
    result = search(job, build_cluster(catalog, "h100-sxm", 8))
    assert result.best is None
    assert "does not fit in device memory" in result.rejected


def test_grid_round_trips_plans() -> None:
    plans = [Plan(tp=2, pp=4, dp=8, vp=2, schedule="interleaved", recompute="full", zero=3)]
    assert PlanGrid.from_plans(plans).plan(0) == plans[0]


def test_evaluate_plan_matches_grid_evaluation(catalog: Catalog, job: TrainingJob) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 64)
    plan = Plan(tp=8, pp=2, dp=4, micro_batch=2, recompute="selective")
    ranked = evaluate_plan(job, cluster, plan)
    arrays = evaluate_training(job, cluster, PlanGrid.from_plans([plan]))
    assert ranked.totals["step_s"] == pytest.approx(float(arrays.step_s[0]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tp=eight", "tp: 'eight' is not a whole number from 1 to 1,048,576"),
        ("tp=99999999", "tp: 99999999 is not a whole number from 1 to 1,048,576"),
        ("tp=8,pp=2,tp=4", "plan field tp is given twice"),
        ("foo=1", "unknown key 'foo'; allowed: tp, pp"),
        ("recompute=some", "not one of none, selective, full"),
        ("zero=5", "zero: 5 is not a whole number from 0 to 3"),
    ],
)
def test_parse_plan_errors_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_plan(text)


def test_parse_plan() -> None:
    assert parse_plan("tp=8, pp=16,mb=2,recompute=full") == {
        "tp": 8,
        "pp": 16,
        "micro_batch": 2,
        "recompute": "full",
    }


def test_the_search_offers_only_the_schedules_a_framework_runs(catalog: Catalog) -> None:
    """DualPipe is DeepSeek's schedule; a Megatron-LM case that fixes no schedule is predicted
    with 1F1B or interleaving only (the validator passes `schedules`)."""
    job = TrainingJob(catalog.model("llama3-70b"), 4096, 512)
    cluster = build_cluster(catalog, "h100-sxm", 64)
    every = enumerate_plans(job, cluster, {"pp": 8})
    megatron = enumerate_plans(job, cluster, {"pp": 8}, schedules=("1f1b", "interleaved"))
    codes = {int(c) for c in every.schedule}
    assert len(codes) == 3 and len({int(c) for c in megatron.schedule}) == 2
    assert len(megatron) < len(every)


def test_folded_expert_layers_widen_the_expert_parallel_choices(catalog: Catalog) -> None:
    """With MoE parallel folding ep may divide tp x dp x cp, not just dp x cp: at tp 4 on
    8 chips (dp 2) the search offers ep 4 and 8 only when folded."""
    job = TrainingJob(catalog.model("mixtral-8x7b"), 4096, 64)
    folded = dataclasses.replace(job, software=SoftwareOptions(moe_parallel_folding=True))
    cluster = build_cluster(catalog, "h100-sxm", 8)
    fixed = {"chips": 8, "tp": 4, "pp": 1}
    plain = {int(e) for e in enumerate_plans(job, cluster, fixed).ep}
    wide = {int(e) for e in enumerate_plans(folded, cluster, fixed).ep}
    assert plain == {1, 2} and wide == {1, 2, 4, 8}
