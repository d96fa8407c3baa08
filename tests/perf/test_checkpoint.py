"""Per-operator selective checkpointing (`recompute=op`, torchtitan's policy): what a block
keeps and reruns, and where the level sits between no recompute and full recompute."""

from __future__ import annotations

import numpy as np
import pytest

from swarmscale.catalog import Catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.checkpoint import rerun_params_per_token, rerun_share, saved_elements_per_token
from swarmscale.perf.layers import block_linears
from swarmscale.perf.plans import Plan, PlanGrid
from swarmscale.perf.training import evaluate_training
from swarmscale.workload import TrainingJob

ONE = np.array([1.0])


def test_llama_block_keeps_wq_wv_w1_w2_and_the_attention_output(catalog: Catalog) -> None:
    """torchtitan at 9dec370 saves every odd matmul of wq, wk, wv, wo, w1, w3, w2: on Llama 3
    8B (d 4096, 8 KV heads of 128, FFN 14336) a token keeps its block input 4096 + wq 4096 +
    wv 1024 + w1 14336 + w2 4096 + the attention output 4096 = 31,744 elements."""
    model = catalog.model("llama3-8b")
    widths = [gemm.n for gemm, _ in block_linears(model, False)]
    assert widths == [4096, 1024, 1024, 4096, 14336, 14336, 4096]
    assert saved_elements_per_token(model, False, 4096, ONE, ONE)[0] == 31744
    # Reruns wk, wo and w3: (4096 x 1024 + 4096^2 + 4096 x 14336) of 218.1M weights.
    assert rerun_share(model, False) == pytest.approx(79_691_776 / 218_103_808)
    assert rerun_params_per_token(model) == 32 * 79_691_776


def test_tensor_parallel_ranks_keep_their_shards(catalog: Catalog) -> None:
    """Column-parallel outputs split over TP, row-parallel ones over the sequence-parallel
    ranks: with TP 8 and sequence parallelism every kept tensor is an eighth."""
    model = catalog.model("llama3-8b")
    eight = np.array([8.0])
    assert saved_elements_per_token(model, False, 4096, eight, eight)[0] == 31744 / 8


def test_moe_block_counts_routed_copies(catalog: Catalog) -> None:
    """Routed experts see top-k copies of each token, so their kept outputs count k times."""
    model = catalog.model("mixtral-8x7b")
    linears = block_linears(model, True)
    assert [c for _, c in linears][-3:] == [2.0, 2.0, 2.0]
    assert 0.0 < rerun_share(model, True) < 1.0


def test_op_level_sits_between_no_and_full_recompute(catalog: Catalog) -> None:
    """Per-operator checkpointing stores less than no recompute and more than full recompute,
    and its step costs more than no recompute and less than full."""
    job = TrainingJob(catalog.model("llama3-8b"), 8192, 16)
    cluster = build_cluster(catalog, "h100-sxm", 8)
    levels = ("none", "op", "full")
    plans = [Plan(dp=8, micro_batch=2, zero=3, recompute=level) for level in levels]  # type: ignore[arg-type]
    arrays = evaluate_training(job, cluster, PlanGrid.from_plans(plans))
    none, op, full = arrays.activation_bytes
    assert none > op > full
    step_none, step_op, step_full = arrays.step_s
    assert step_none < step_op < step_full
    flops_none, flops_op, flops_full = arrays.hardware_flops
    assert flops_none < flops_op < flops_full
