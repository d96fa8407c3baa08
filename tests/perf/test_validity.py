"""Plan rules: the stage splits, interleavings, ZeRO and batch roundings frameworks accept."""

from __future__ import annotations

import numpy as np
import pytest

from swarmscale.catalog import Catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.plans import Plan, PlanGrid
from swarmscale.perf.training import evaluate_training
from swarmscale.perf.validity import (
    REASONS,
    balanced_pp,
    batch_scale,
    largest_stage,
    micro_batches,
    rank_layers,
    rule_codes,
)
from swarmscale.workload import SoftwareOptions, TrainingJob


@pytest.mark.parametrize(
    ("layers", "pp", "largest"),
    [
        (80, 8, 10),  # even split
        (126, 16, 8),  # Llama 3.1 405B: embedding and loss count as layers (MLPerf v5.0 logs)
        (61, 16, 4),  # Megatron-core uneven: 14 middle stages of 4, first and last 3 and 2
        (80, 15, 6),  # 13 middle stages of 6, first and last 1 each
        (30, 2, 15),
        (4, 8, 4),  # more stages than layers: never offered
    ],
)
def test_largest_stage(layers: int, pp: int, largest: int) -> None:
    assert largest_stage(layers, pp) == largest


def test_balanced_splits_are_within_a_layer_of_even() -> None:
    assert balanced_pp(80, 15) and balanced_pp(61, 16) and balanced_pp(126, 16)
    assert not balanced_pp(4, 8)


def _codes(catalog: Catalog, job: TrainingJob, plans: list[Plan], chips: int) -> list[str]:
    cluster = build_cluster(catalog, "h100-sxm", chips)
    return [REASONS[c] for c in rule_codes(job, cluster, PlanGrid.from_plans(plans))]


def test_virtual_stages_need_only_divide_a_stage(catalog: Catalog) -> None:
    """Llama 3 8B (32 layers) at pp 4: 8 layers a stage, so vp 2, 4 and 8 interleave and vp 3
    does not; 32 micro-batches are a multiple of pp."""
    job = TrainingJob(catalog.model("llama3-8b"), 4096, 64)
    plans = [Plan(pp=4, dp=2, vp=vp, schedule="interleaved") for vp in (2, 3, 4, 8)]
    reasons = _codes(catalog, job, plans, 8)
    assert reasons[0] == reasons[2] == reasons[3] == "ok"
    assert reasons[1].startswith("interleaving")


def test_an_explicit_pipeline_layout_interleaves_any_vp(catalog: Catalog) -> None:
    """DeepSeek-V3's 61 layers at pp 2, vp 8 (NeMo's GB300 recipe): 31 layers a stage do not
    split into 8, which Megatron-core runs only with an explicit layout ("Et*4|(t*4|)*14tmL"):
    16 virtual stages of 4 layers, the last of 1, so the first rank holds 8 x 4 = 32."""
    model = catalog.model("deepseek-v3")
    plan = Plan(pp=2, dp=8, ep=8, vp=8, schedule="interleaved")
    plain = TrainingJob(model, 4096, 64)
    laid_out = TrainingJob(model, 4096, 64, software=SoftwareOptions(pipeline_layout=True))
    assert _codes(catalog, plain, [plan], 16)[0].startswith("interleaving")
    assert _codes(catalog, laid_out, [plan], 16) == ["ok"]
    grid = PlanGrid.from_plans([plan, Plan(pp=2, dp=8, ep=8)])
    assert list(rank_layers(laid_out, grid)) == [32, 31]


def test_zero3_combines_with_pipeline_parallelism(catalog: Catalog) -> None:
    """torchtitan runs FSDP (ZeRO-3) inside pipeline stages (405B at tp 8, pp 8, dp 8)."""
    job = TrainingJob(catalog.model("llama3-405b"), 8192, 2048)
    plan = Plan(tp=8, pp=8, dp=8, zero=3, recompute="full")
    assert _codes(catalog, job, [plan], 512) == ["ok"]
    arrays = evaluate_training(
        job, build_cluster(catalog, "h100-sxm", 512), PlanGrid.from_plans([plan])
    )
    assert np.isfinite(arrays.step_s).all()


def test_a_fixed_dp_that_does_not_divide_the_batch_runs_it_rounded(catalog: Catalog) -> None:
    """OPT-175B on 992 GPUs: dp 124 cannot split 1,024 sequences, so 8 micro-batches of one run
    992 sequences and the step is scaled to the job's 1,024."""
    job = TrainingJob(catalog.model("llama3-70b"), 2048, 1024)
    grid = PlanGrid.from_plans([Plan(tp=8, dp=124, micro_batch=1)])
    assert int(micro_batches(job, grid)[0]) == 8
    assert float(batch_scale(job, grid)[0]) == pytest.approx(1024 / 992)
