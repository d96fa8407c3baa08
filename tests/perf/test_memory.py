"""Training memory against the published formulas it is written from."""

from __future__ import annotations

import numpy as np
import pytest

from swarmscale.catalog import Catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.layers import layer_shapes
from swarmscale.perf.memory import in_flight_micro_batches, layer_activations, training_memory
from swarmscale.perf.plans import Plan, PlanGrid
from swarmscale.perf.training import evaluate_training
from swarmscale.workload import SoftwareOptions, TrainingJob

H, HEADS, SEQ = 12288, 96, 2048  # GPT-3 175B, the shape of Korthikanti et al.'s Table 2


def _activations(catalog: Catalog, tp: int, sp: bool, fused: bool) -> tuple[float, ...]:
    model = catalog.model("gpt3-175b")
    software = SoftwareOptions(fused_attention=fused, sequence_parallel=sp)
    job = TrainingJob(model, SEQ, 1024, software=software)
    per_token = layer_activations(layer_shapes(model), job, np.array([float(tp)]), False)
    return float(per_token.none[0]), float(per_token.selective[0]), float(per_token.full[0])


@pytest.mark.parametrize(("tp", "sp"), [(1, False), (8, True)])
def test_activations_match_korthikanti_table_2(catalog: Catalog, tp: int, sp: bool) -> None:
    """Korthikanti et al. 2022 (arXiv:2205.05198) Table 2, bytes per token and layer: sbh(34/t +
    5as/(ht)) with tensor and sequence parallelism, 34 sbh/t with selective recompute, 2 sbh/t
    (the layer input) with full recompute."""
    none, selective, full = _activations(catalog, tp, sp, fused=False)
    assert none == pytest.approx(H * (34 / tp + 5 * HEADS * SEQ / (H * tp)))
    assert selective == pytest.approx(34 * H / tp)
    assert full == pytest.approx(2 * H / tp)


def test_a_fused_attention_kernel_stores_no_scores(catalog: Catalog) -> None:
    """FlashAttention keeps no score matrix, so selective recompute of the attention core has
    nothing left to save; the dropout masks of the 34 go with dropout (modern blocks have none)."""
    none, selective, _ = _activations(catalog, 8, True, fused=True)
    assert none == pytest.approx(selective)
    assert none == pytest.approx(H * 32 / 8)


def test_optimizer_state_follows_megatrons_distributed_optimizer_table() -> None:
    """Megatron-LM docs (distributed optimizer): 18 bytes per parameter without sharding, and
    6 + 12 / dp with the distributed optimizer (bf16 weights, fp32 grads, fp32 Adam state)."""
    params, dp = 1e9, 8.0
    for zero, expected in ((0, 18.0), (1, 6.0 + 12.0 / dp)):
        grid = PlanGrid.from_plans([Plan(dp=8, zero=zero)])
        state = training_memory(
            grid, np.array([params]), np.array([0.0]), np.array([dp]), np.array([dp]),
            np.array([0.0]), np.array([0.0]), np.array([1.0]), np.array([1.0]),
            np.array([1.0]), np.array([0.0]),
        )  # fmt: skip
        total = state.weights + state.grads + state.optimizer
        assert float(total[0]) == pytest.approx(expected * params)


def test_micro_batches_in_flight_on_the_first_stage() -> None:
    """1F1B holds pp micro-batches; interleaving pp (1 + (pp - 1) / (pp vp)) (Korthikanti eq. 3);
    never more than the step runs."""
    plans = [
        Plan(pp=8),
        Plan(pp=8, vp=4, schedule="interleaved"),
        Plan(pp=8),
    ]
    flight = in_flight_micro_batches(PlanGrid.from_plans(plans), np.array([64.0, 64.0, 3.0]))
    assert list(flight) == pytest.approx([8.0, 8 * (1 + 7 / 32), 3.0])


def test_bf16_gradient_reduction_halves_the_gradient_buffer() -> None:
    """NeMo's benchmark recipes reduce gradients in bf16 (grad_reduce_in_fp32 = False): the
    distributed-optimizer table's bf16-grads row, 4 + 12 / dp bytes per parameter."""
    params, dp = 1e9, 8.0
    grid = PlanGrid.from_plans([Plan(dp=8, zero=1)])
    state = training_memory(
        grid, np.array([params]), np.array([0.0]), np.array([dp]), np.array([dp]),
        np.array([0.0]), np.array([0.0]), np.array([1.0]), np.array([1.0]),
        np.array([1.0]), np.array([0.0]), grad_bytes=2.0,
    )  # fmt: skip
    total = state.weights + state.grads + state.optimizer
    assert float(total[0]) == pytest.approx((4.0 + 12.0 / dp) * params)


def test_fsdp_under_pipelining_keeps_the_stage_weights_gathered_and_gradients_whole() -> None:
    """torchtitan does not reshard after forward under PP, and PyTorch's pipeline schedules
    switch FSDP's gradient sync off until the last micro-batch (`backward_maybe_with_nosync`):
    a stage holds its bf16 weights and fp32 gradients whole, 6 + 12 / dp bytes per parameter;
    without pipelining FSDP shards all 18."""
    params, dp = 1e9, 8.0
    grid = PlanGrid.from_plans([Plan(pp=4, dp=8, zero=3), Plan(pp=1, dp=8, zero=3)])
    ones = np.ones(2)
    state = training_memory(
        grid, params * ones, 0 * ones, dp * ones, dp * ones, 0 * ones, 0 * ones, ones,
        ones, ones, 0 * ones,
    )  # fmt: skip
    total = state.weights + state.grads + state.optimizer
    assert list(total) == pytest.approx([(6.0 + 12.0 / dp) * params, 18.0 / dp * params])


def test_partial_recompute_rebuilds_the_fewest_layers_that_fit(catalog: Catalog) -> None:
    """Meta's Llama 3.1 405B plan (arXiv:2407.21783 Table 4: TP 8, PP 16, DP 128 on 16,384
    H100) does not fit here without recompute; block recompute of a few layers per stage
    (Megatron-LM's --recompute-num-layers) fits, between no recompute and full in step time."""
    job = TrainingJob(catalog.model("llama3-405b"), 8192, 2048)
    cluster = build_cluster(catalog, "h100-sxm", 16384)
    common = {"tp": 8, "pp": 16, "dp": 128, "vp": 8, "micro_batch": 1, "zero": 1}
    plans = [
        Plan(recompute=r, schedule="interleaved", **common) for r in ("none", "partial", "full")
    ]
    arrays = evaluate_training(job, cluster, PlanGrid.from_plans(plans))
    capacity = cluster.chip.memory.require() * 0.95
    none, partial, full = range(3)
    assert arrays.memory_bytes[none] > capacity >= arrays.memory_bytes[partial]
    assert arrays.memory_bytes[partial] >= arrays.memory_bytes[full]
    layers_per_stage = 8  # 126 layers over 16 stages, the largest holding 8
    assert 1 <= arrays.rebuilt_layers[partial] < layers_per_stage == arrays.rebuilt_layers[full]
    assert arrays.step_s[none] < arrays.step_s[partial] < arrays.step_s[full]
