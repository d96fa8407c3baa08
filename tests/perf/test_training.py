"""Training model: FLOP counts against the papers' formulas, and invariants under hypothesis."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.catalog import Catalog, UnknownValueError, default_catalog
from swarmscale.catalog.loader import DATA_ROOT, load_cases
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.perf.comm import all_gather_time, group_links
from swarmscale.perf.plans import Plan, PlanGrid
from swarmscale.perf.training import evaluate_training, model_flops_per_token
from swarmscale.plan.search import enumerate_plans
from swarmscale.validate.runner import case_model
from swarmscale.workload import TrainingJob

CATALOG = default_catalog()


def test_megatron_flops_formula(catalog: Catalog) -> None:
    """Narayanan et al. 2021 (arXiv:2104.04473, eq. 3 without recompute): per token
    72 l h^2 (1 + s/(6h) + V/(12 l h)); ours adds biases and norms (<0.5%)."""
    model = catalog.model("megatron-gpt-1t")
    job = TrainingJob(model, 2048, 3072)
    layers, h, s, v = model.layers, model.d_model, 2048, model.vocab
    expected = 72 * layers * h**2 * (1 + s / (6 * h) + v / (12 * layers * h))
    assert model_flops_per_token(job) == pytest.approx(expected, rel=0.005)


def test_dense_flops_are_six_n_plus_attention(catalog: Catalog) -> None:
    """Kaplan et al. 2020 / PaLM appendix B: 6N + 12 L d_attn S per token."""
    model = catalog.model("llama3-8b")
    job = TrainingJob(model, 8192, 512)
    n_matmul = 8.03e9 - 2 * model.vocab * model.d_model / 2  # lm head counts, embedding does not
    expected = 6 * n_matmul + 12 * model.layers * model.d_model * 8192
    assert model_flops_per_token(job) == pytest.approx(expected, rel=0.01)


def test_tied_embeddings_still_pay_for_the_output_projection() -> None:
    """llm-foundry's MFU formula (scripts/train/benchmarking/collect_results.py: 6 x NumParams
    + 12 x layers x d_model x seq, non-causal) for MPT-125M, whose printed NumParams 124,131,840
    count the tied embedding once: the vocab x d_model head matmul runs whether or not its
    weights are shared. Ours leaves out the learned position table and norms (1.5%)."""
    case = next(
        c
        for c in load_cases(DATA_ROOT / "cases" / "llm-foundry.yaml")
        if c.id == "llm-foundry-mpt-125m-a100-80gbx8-512-bf16"
    )
    job = TrainingJob(case_model(case, CATALOG), 512, 2048)
    expected = 6 * 124_131_840 + 12 * 12 * 768 * 512
    assert model_flops_per_token(job) == pytest.approx(expected, rel=0.02)


def _evaluate(cluster: Cluster, job: TrainingJob, plan: Plan) -> float:
    arrays = evaluate_training(job, cluster, PlanGrid.from_plans([plan]))
    return float(arrays.step_s[0])


PLAN = Plan(tp=8, pp=4, dp=4, micro_batch=1, recompute="selective", zero=1)
JOB = TrainingJob(CATALOG.model("llama3-70b"), 4096, 256)


@settings(max_examples=40, deadline=None)
@given(factor=st.floats(1.01, 10.0), field=st.sampled_from(["scale_up_bw", "scale_out_bw"]))
def test_more_bandwidth_is_never_slower(factor: float, field: str) -> None:
    base = build_cluster(CATALOG, "h100-sxm", 128)
    faster = dataclasses.replace(base, **{field: getattr(base, field) * factor})
    assert _evaluate(faster, JOB, PLAN) <= _evaluate(base, JOB, PLAN)


@settings(max_examples=40, deadline=None)
@given(factor=st.floats(1.01, 10.0), what=st.sampled_from(["peak", "memory_bandwidth"]))
def test_more_peak_or_memory_bandwidth_is_never_slower(factor: float, what: str) -> None:
    base = build_cluster(CATALOG, "h100-sxm", 128)
    chip = base.chip
    if what == "peak":
        bf16 = chip.peak.bf16
        assert bf16 is not None and bf16.value is not None
        peak = chip.peak.model_copy(
            update={"bf16": bf16.model_copy(update={"value": bf16.value * factor})}
        )
        faster_chip = chip.model_copy(update={"peak": peak})
    else:
        bw = chip.memory_bandwidth
        faster_chip = chip.model_copy(
            update={"memory_bandwidth": bw.model_copy(update={"value": (bw.value or 0) * factor})}
        )
    faster = dataclasses.replace(base, chip=faster_chip)
    assert _evaluate(faster, JOB, PLAN) <= _evaluate(base, JOB, PLAN)


@settings(max_examples=30, deadline=None)
@given(chips=st.sampled_from([16, 32, 64, 128]), more=st.sampled_from([2, 4]))
def test_more_data_parallel_chips_never_slower_at_fixed_plan(chips: int, more: int) -> None:
    """Same tp and pp, dp grown with the chip count, same global batch."""
    job = TrainingJob(CATALOG.model("llama3-8b"), 4096, 1024)
    small = build_cluster(CATALOG, "h100-sxm", chips)
    large = build_cluster(CATALOG, "h100-sxm", chips * more)
    plan = Plan(tp=4, pp=2, dp=chips // 8, micro_batch=1, zero=1)
    bigger = dataclasses.replace(plan, dp=plan.dp * more)
    assert _evaluate(large, job, bigger) <= _evaluate(small, job, plan)


def _usable_chips() -> list[str]:
    usable = []
    for chip in CATALOG.chips.values():
        try:
            build_cluster(CATALOG, chip.id, 64)
            chip.peak_flops("bf16")
            chip.memory.require()
            chip.memory_bandwidth.require()
        except UnknownValueError:
            continue
        usable.append(chip.id)
    return usable


@pytest.mark.parametrize("chip_id", _usable_chips())
@pytest.mark.parametrize("model_id", sorted(CATALOG.models))
def test_no_nan_or_negative_memory_on_any_model_and_chip(model_id: str, chip_id: str) -> None:
    model = CATALOG.model(model_id)
    cluster = build_cluster(CATALOG, chip_id, 64)
    job = TrainingJob(model, 4096, 256)
    grid = enumerate_plans(job, cluster, {"chips": 64})
    arrays = evaluate_training(job, cluster, grid)
    ok = arrays.feasible
    for name in ("step_s", "memory_bytes", "activation_bytes", "weights_bytes", "bubble_s"):
        values = getattr(arrays, name)
        assert not np.any(np.isnan(values)), name
        assert np.all(np.isfinite(values[ok])), name
        assert np.all(values >= 0), name
    assert np.all(arrays.step_s > 0)
    needs_nic = ~np.isfinite(arrays.step_s)
    assert cluster.scale_out_bw is None or not needs_nic.any()


def test_chip_with_unknown_specs_says_which_value(catalog: Catalog) -> None:
    with pytest.raises(UnknownValueError, match="mlu590"):
        cluster = build_cluster(catalog, "mlu590", 8)
        evaluate_training(JOB, cluster, PlanGrid.from_plans([Plan(dp=8)]))


def test_activation_recompute_trades_memory_for_time(catalog: Catalog) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 128)
    plans = [dataclasses.replace(PLAN, recompute=r) for r in ("none", "selective", "full")]
    arrays = evaluate_training(JOB, cluster, PlanGrid.from_plans(plans))
    assert arrays.activation_bytes[0] >= arrays.activation_bytes[1] > arrays.activation_bytes[2]
    assert arrays.step_s[0] <= arrays.step_s[1] < arrays.step_s[2]


def test_pipeline_bubble_shrinks_with_interleaving(catalog: Catalog) -> None:
    """Narayanan et al. 2021 section 2.2: bubble (p-1)/m for 1F1B, (p-1)/(v m) interleaved."""
    cluster = build_cluster(catalog, "h100-sxm", 128)
    plain = dataclasses.replace(PLAN, pp=8, dp=2)
    interleaved = dataclasses.replace(plain, schedule="interleaved", vp=2)
    arrays = evaluate_training(JOB, cluster, PlanGrid.from_plans([plain, interleaved]))
    assert arrays.bubble_s[1] < arrays.bubble_s[0]


def test_the_last_gradient_bucket_shows_and_grows_with_data_parallelism(catalog: Catalog) -> None:
    """Megatron-core's DDP buckets hold max(40M, 1M x dp) parameters (distributed_data_parallel
    .py), and the last bucket's reduce-scatter outlasts the backward: Llama 3 8B at TP 8 on 768
    and 2,304 H100 (dp 96 and 288, the same four sequences per rank, as Nemotron-4 15B's batch
    ramp ran) exposes at least one fp32 bucket's reduce-scatter, and more at the larger dp,
    although each rank's work is the same."""
    job_small = TrainingJob(catalog.model("llama3-8b"), 4096, 384)
    job_large = TrainingJob(catalog.model("llama3-8b"), 4096, 1152)
    exposed = []
    for job, dp in ((job_small, 96), (job_large, 288)):
        cluster = build_cluster(catalog, "h100-sxm", 8 * dp)
        grid = PlanGrid.from_plans([Plan(tp=8, dp=dp, micro_batch=4, zero=1)])
        arrays = evaluate_training(job, cluster, grid)
        links = group_links(cluster, dp, 8)
        bucket = max(40e6, 1e6 * dp) * 4.0
        assert float(arrays.dp_comm_s[0]) >= float(all_gather_time(bucket, dp, links))
        exposed.append(float(arrays.dp_comm_s[0]))
    assert exposed[1] > exposed[0]
