"""Framework features of the training model: TP overlap, eager mode, MoE dispatch, the
sustained-rate factor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.catalog import Catalog, Quantity, UnknownValueError, default_catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.comm import expert_dispatch_time, group_links
from swarmscale.perf.plans import Plan, PlanGrid
from swarmscale.perf.training import TrainingArrays, evaluate_training
from swarmscale.perf.validity import OOM_CODE
from swarmscale.workload import SoftwareOptions, TrainingJob

CATALOG = default_catalog()
PLAN = Plan(tp=8, dp=4, micro_batch=1, recompute="selective")


def _run(catalog: Catalog, software: SoftwareOptions, chips: int = 32) -> TrainingArrays:
    job = TrainingJob(catalog.model("llama3-70b"), 4096, 64, software=software)
    return evaluate_training(
        job, build_cluster(catalog, "h100-sxm", chips), PlanGrid.from_plans([PLAN])
    )


def test_tp_overlap_hides_comm_behind_its_neighbouring_gemm(catalog: Catalog) -> None:
    """Overlap hides TP collectives behind the GEMM beside each, never the first of tp ring
    steps: exposed comm falls, but not below 1/tp of it."""
    plain = _run(catalog, SoftwareOptions())
    overlapped = _run(catalog, SoftwareOptions(tp_comm_overlap=True))
    assert 0 < overlapped.tp_comm_s[0] < plain.tp_comm_s[0]
    assert overlapped.tp_comm_s[0] >= plain.tp_comm_s[0] / 8 - 1e-12
    assert overlapped.step_s[0] < plain.step_s[0]


def test_overlap_needs_sequence_parallelism(catalog: Catalog) -> None:
    plain = _run(catalog, SoftwareOptions(sequence_parallel=False))
    asked = _run(catalog, SoftwareOptions(sequence_parallel=False, tp_comm_overlap=True))
    assert asked.tp_comm_s[0] == plain.tp_comm_s[0]


def test_eager_mode_streams_elementwise_tensors_twice(catalog: Catalog) -> None:
    fused = _run(catalog, SoftwareOptions())
    eager = _run(catalog, SoftwareOptions(eager=True))
    assert eager.compute_s[0] > fused.compute_s[0]
    assert eager.compute_s[0] < 1.5 * fused.compute_s[0]  # GEMMs dominate a 70B step


def test_expert_dispatch_crosses_each_remote_node_once() -> None:
    """Top-8 routing over 32 ranks in 4 nodes of 8: every copy crosses NVLink but the NIC
    carries the expected distinct remote nodes, 3 (1 - (3/4)^8) = 2.70 copies; DeepSeek-V3's
    4-node limit over 8 nodes caps it at 4 x 7/8 = 3.5."""
    cluster = build_cluster(CATALOG, "h100-sxm", 64)
    links = group_links(cluster, 32.0, 1.0)
    nic_s = expert_dispatch_time(1e6, 8.0, 32.0, links, 1.0) - 6 * links.latency_s
    nvlink_s = 8 * 7 / 8 * 1e6 / links.up_bw
    remote_s = 3 * (1 - 0.75**8) * 1e6 / links.out_bw
    assert float(nic_s) == pytest.approx(max(float(nvlink_s), float(remote_s)))
    wide = group_links(cluster, 64.0, 1.0)
    limited = expert_dispatch_time(1e6, 8.0, 64.0, wide, 1.0, node_limit=4)
    assert float(limited) == pytest.approx(3.5e6 / float(wide.out_bw) + 7 * float(wide.latency_s))


def _with_sustained(value: float) -> Catalog:
    entry = CATALOG.efficiency["default"]
    assert entry.training_sustained is not None
    quantity = Quantity(**{**entry.training_sustained.model_dump(), "value": value, "low": None})
    updated = entry.model_copy(update={"training_sustained": quantity})
    return dataclasses.replace(CATALOG, efficiency={**CATALOG.efficiency, "default": updated})


@settings(max_examples=20, deadline=None)
@given(low=st.floats(0.3, 0.9), step=st.floats(0.01, 0.1))
def test_a_higher_sustained_rate_is_never_slower(low: float, step: float) -> None:
    slow = _run(_with_sustained(low), SoftwareOptions())
    fast = _run(_with_sustained(min(low + step, 1.0)), SoftwareOptions())
    assert fast.step_s[0] <= slow.step_s[0]
    assert np.isfinite(fast.step_s).all()


def test_ep_overlap_exposes_only_the_all_to_all_longer_than_compute(catalog: Catalog) -> None:
    """Megatron-core's overlap_moe_expert_parallel_comm pairs one micro-batch's all-to-all with
    another's compute: with the experts of a node's 8 GPUs the exposed share falls, the step gets
    faster, and nothing else changes."""
    job = TrainingJob(catalog.model("mixtral-8x7b"), 4096, 256)
    grid = PlanGrid.from_plans([Plan(dp=32, ep=8, micro_batch=1)])
    cluster = build_cluster(catalog, "h100-sxm", 32)
    plain = evaluate_training(job, cluster, grid)
    paired = evaluate_training(
        dataclasses.replace(job, software=SoftwareOptions(ep_comm_overlap=True)), cluster, grid
    )
    assert 0 <= paired.ep_comm_s[0] < plain.ep_comm_s[0]
    assert paired.step_s[0] < plain.step_s[0]
    assert paired.compute_s[0] == pytest.approx(plain.compute_s[0])


def test_bf16_gradients_halve_the_data_parallel_traffic(catalog: Catalog) -> None:
    """Without overlap the whole reduce-scatter and all-gather show: bf16 gradients make the
    reduce-scatter half as long, so the exposed DP time falls by a quarter to a half."""
    plain = _run(catalog, SoftwareOptions(overlap_grad_reduce=False))
    bf16 = _run(catalog, SoftwareOptions(overlap_grad_reduce=False, grad_reduce_fp32=False))
    assert 0.5 * plain.dp_comm_s[0] < bf16.dp_comm_s[0] < 0.8 * plain.dp_comm_s[0]
    assert bf16.memory_bytes[0] < plain.memory_bytes[0]


def test_tuned_attention_is_faster_only_where_a_gain_is_catalogued(catalog: Catalog) -> None:
    """Hopper's tuned kernels (cuDNN, FlashAttention-3) run attention 1.6x FlashAttention-2's
    rate (FA3 README figure); A100 has no catalogued gain, so the switch changes nothing."""
    job = TrainingJob(catalog.model("llama3-8b"), 8192, 64)
    tuned = dataclasses.replace(job, software=SoftwareOptions(tuned_attention=True))
    grid = PlanGrid.from_plans([Plan(dp=8, micro_batch=1)])
    for chip, faster in (("h100-sxm", True), ("h200-sxm", True), ("a100-sxm-80gb", False)):
        cluster = build_cluster(catalog, chip, 8)
        plain_s = float(evaluate_training(job, cluster, grid).step_s[0])
        tuned_s = float(evaluate_training(tuned, cluster, grid).step_s[0])
        assert (tuned_s < plain_s) == faster
        assert tuned_s <= plain_s
    gain = catalog.efficiency_for(catalog.chip("h100-sxm")).attention_tuned_gain.require()
    assert gain == pytest.approx(539 / 335, rel=0.01)


def test_interleaved_pipeline_sends_hide_behind_the_next_chunk(catalog: Catalog) -> None:
    """Megatron-LM overlaps the interleaved schedule's point-to-point sends with the next
    chunk (overlap_p2p_comm, on by default, forced off for plain 1F1B): on Meta's 405B plan a
    33.5 MB activation send over one 400 Gb/s NIC takes less than a layer's forward, so
    nothing shows; without interleaving every send is exposed."""
    job = TrainingJob(catalog.model("llama3-405b"), 8192, 2048)
    cluster = build_cluster(catalog, "h100-sxm", 16384)
    common = {"tp": 8, "pp": 16, "dp": 128, "micro_batch": 1, "recompute": "partial"}
    plans = [Plan(vp=8, schedule="interleaved", **common), Plan(schedule="1f1b", **common)]
    arrays = evaluate_training(job, cluster, PlanGrid.from_plans(plans))
    assert arrays.pp_comm_s[0] == 0.0 < arrays.pp_comm_s[1]


def test_activation_offload_frees_memory_and_hides_behind_compute(catalog: Catalog) -> None:
    """NeMo's GB200 Llama 3 70B FSDP recipe offloads 40 of 80 layers' activations to Grace
    memory: the device keeps half the layers' activations. Over NVLink-C2C (225 GB/s a
    direction per GPU) a layer's 3.9 GB take 17 ms against its 11 ms forward, so a little
    shows (under 5% of the step); over a link a hundred times slower the copies dominate."""
    cluster = build_cluster(catalog, "gb200", 64)
    grid = PlanGrid.from_plans([Plan(dp=64, micro_batch=2, zero=3)])
    job = TrainingJob(catalog.model("llama3-70b"), 8192, 256, "fp8")
    kept = evaluate_training(job, cluster, grid)
    offload = dataclasses.replace(job, software=SoftwareOptions(activation_offload_layers=40))
    moved = evaluate_training(offload, cluster, grid)
    logits = 2.0 * 2 * 8192 * 128256 * 4.0  # fp32 logits and their gradient, 2 x 8K tokens
    layers = kept.activation_bytes[0] - logits
    assert kept.activation_bytes[0] - moved.activation_bytes[0] == pytest.approx(layers / 2)
    assert kept.step_s[0] < moved.step_s[0] < 1.05 * kept.step_s[0]
    host = catalog.chip("gb200").host_bandwidth
    assert host is not None
    slow_chip = catalog.chip("gb200").model_copy(
        update={"host_bandwidth": host.model_copy(update={"value": host.require() / 100})}
    )
    slow = dataclasses.replace(cluster, chip=slow_chip)
    assert evaluate_training(offload, slow, grid).step_s[0] > 2 * kept.step_s[0]


def test_activation_offload_needs_a_known_host_link(catalog: Catalog) -> None:
    cluster = build_cluster(catalog, "ascend-910b", 8)
    job = TrainingJob(
        catalog.model("llama3-8b"), 4096, 64, software=SoftwareOptions(activation_offload_layers=4)
    )
    with pytest.raises(ValueError, match="host bandwidth"):
        evaluate_training(job, cluster, PlanGrid.from_plans([Plan(dp=8)]))


def test_unfused_loss_moves_40_bytes_per_logit_against_24(catalog: Catalog) -> None:
    """Plain `cross_entropy` over fp32 logits (torchtitan, calibrate's training step) moves 16
    bytes more per logit than a fused kernel: on calibrate's GPT-2 small step (16 x 1024
    tokens, vocab 50,304) on one H100 that is 16 x 16384 x 50304 B at its streaming rate."""
    model = catalog.model("llama3-8b").model_copy(update={"vocab": 50304})
    job = TrainingJob(model, 1024, 16)
    plain = dataclasses.replace(job, software=SoftwareOptions(fused_loss=False))
    cluster = build_cluster(catalog, "h100-sxm", 1)
    grid = PlanGrid.from_plans([Plan(micro_batch=16)])
    extra = (
        evaluate_training(plain, cluster, grid).step_s[0]
        - evaluate_training(job, cluster, grid).step_s[0]
    )
    stream = cluster.chip.memory_bandwidth.require() * cluster.efficiency.memory.require()
    assert extra == pytest.approx(16 * 16384 * 50304 / stream, rel=1e-6)


def test_autocast_over_fp32_weights_costs_casts_and_an_fp32_residual_stream(
    catalog: Catalog,
) -> None:
    """Under `torch.autocast` with fp32 weights (calibrate's step) every weight is cast each
    forward and the residual stream stays fp32: more memory traffic, same GEMMs. On a small
    model at a short sequence that is a visible share of the step, far from doubling it."""
    model = catalog.model("llama3-8b").model_copy(
        update={"layers": 12, "d_model": 768, "heads": 12, "kv_heads": 12, "ffn_hidden": 3072}
    )
    job = TrainingJob(model, 1024, 16, software=SoftwareOptions(eager=True))
    cast = dataclasses.replace(job, software=SoftwareOptions(eager=True, autocast=True))
    cluster = build_cluster(catalog, "h100-sxm", 1)
    grid = PlanGrid.from_plans([Plan(micro_batch=16)])
    plain_s = evaluate_training(job, cluster, grid).step_s[0]
    cast_s = evaluate_training(cast, cluster, grid).step_s[0]
    assert 1.02 * plain_s < cast_s < 1.5 * plain_s


def test_tensor_parallel_ranks_share_the_expert_work(catalog: Catalog) -> None:
    """Megatron-core routes each TP rank's sequence-parallel shard of the tokens, so with TP 2
    a rank does half of a micro-batch's expert GEMMs and dispatches half its tokens (before
    the fix every TP rank repeated all of them): a TP 2 rank's compute is near half a TP 1
    rank's for the same micro-batch."""
    cluster = build_cluster(catalog, "h100-sxm", 8)
    plans = [Plan(tp=1, dp=8, ep=8, micro_batch=1), Plan(tp=2, dp=4, ep=4, micro_batch=1)]
    for precision in ("bf16", "fp8"):  # fp8 also shares the routed copies' casts
        job = TrainingJob(catalog.model("mixtral-8x7b"), 4096, 64, precision)  # type: ignore[arg-type]
        arrays = evaluate_training(job, cluster, PlanGrid.from_plans(plans))
        per_micro_batch = arrays.compute_s / np.array([64 / 8, 64 / 4])
        assert 0.45 < per_micro_batch[1] / per_micro_batch[0] < 0.6


def test_nvfp4_training_runs_at_the_fp4_peak_with_its_own_casts(catalog: Catalog) -> None:
    """NVFP4 training on GB200 multiplies at the 10 PFLOPS FP4 peak and casts to 0.5625 B per
    element (4 bits plus a scale per 16), so it outruns FP8 at the same plan; a chip without
    an FP4 unit cannot train at it."""
    cluster = build_cluster(catalog, "gb200", 64)
    grid = PlanGrid.from_plans([Plan(dp=64, micro_batch=1, zero=3)])
    model = catalog.model("llama3-70b")
    fp8 = evaluate_training(TrainingJob(model, 8192, 256, "fp8"), cluster, grid)
    fp4 = evaluate_training(TrainingJob(model, 8192, 256, "fp4"), cluster, grid)
    assert fp4.step_s[0] < fp8.step_s[0]
    assert fp4.activation_bytes[0] < fp8.activation_bytes[0]
    with pytest.raises(UnknownValueError, match="no fp4 unit"):
        evaluate_training(
            TrainingJob(model, 8192, 256, "fp4"), build_cluster(catalog, "h100-sxm", 64), grid
        )


def test_folded_expert_layers_span_the_tensor_parallel_ranks(catalog: Catalog) -> None:
    """Megatron-core's MoE parallel folding (expert tensor parallelism 1) lays the expert group
    over tp x cp x dp ranks: ep 8 with tp 2 and dp 4 runs only when folded (NeMo's Qwen3-235B
    on 256 H100: tp 2, dp 16, ep 32), and each expert's optimizer state then shards over
    tp x dp / ep ranks, so at tp 2, dp 8, ep 8 a rank keeps half the expert optimizer state it
    keeps unfolded: 12 B x 5.64e9 expert parameters (Mixtral 8x7B, one expert per rank) / 2."""
    cluster = build_cluster(catalog, "h100-sxm", 16)
    model = catalog.model("mixtral-8x7b")
    plain = TrainingJob(model, 4096, 64)
    folded = dataclasses.replace(plain, software=SoftwareOptions(moe_parallel_folding=True))
    narrow = PlanGrid.from_plans([Plan(tp=2, pp=2, dp=4, ep=8, micro_batch=1)])
    assert not evaluate_training(plain, cluster, narrow).feasible[0]
    assert evaluate_training(folded, cluster, narrow).reason[0] in (0, OOM_CODE)
    wide = PlanGrid.from_plans([Plan(tp=2, dp=8, ep=8, micro_batch=1)])
    saved = (
        evaluate_training(plain, cluster, wide).optimizer_bytes[0]
        - evaluate_training(folded, cluster, wide).optimizer_bytes[0]
    )
    expert_params = 32 * 3 * 4096 * 14336
    assert saved == pytest.approx(12.0 * expert_params / 2, rel=0.01)
