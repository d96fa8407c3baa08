"""Training step time, memory and FLOPs for a grid of parallel plans, all as NumPy arrays.

One micro-batch on one pipeline stage is built bottom-up from kernels (GEMMs, fused attention,
memory-bound elementwise work, launch overheads) and the communication each parallelism adds:
tensor (all-reduce per block, exposed), context (ring K/V exchange, hidden behind attention
when it can be), expert (all-to-all dispatch and combine), pipeline (point-to-point per
micro-batch) and data (gradient reduce-scatter and parameter all-gather, overlapped with the
last micro-batch's backward and the first one's forward). Pipeline bubbles follow Narayanan
et al. 2021 (arXiv:2104.04473, section 2.2); activation memory follows Korthikanti et al. 2022
(arXiv:2205.05198) for a fused-attention kernel that stores no score matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmscale.catalog import UnknownValueError
from swarmscale.hardware import Cluster
from swarmscale.perf.comm import (
    all_gather_time,
    all_reduce_time,
    all_to_all_time,
    group_links,
    p2p_time,
)
from swarmscale.perf.compute import (
    ATTENTION_BACKWARD_RATIO,
    FloatArray,
    GemmRates,
    compute_precision,
    gemm_rates,
    gemm_set_time,
    stream_time,
)
from swarmscale.perf.layers import Gemm, LayerShapes, layer_shapes
from swarmscale.perf.memory import (
    ACT_BYTES,
    MAIN_GRAD_BYTES,
    USABLE_MEMORY_FRACTION,
    WEIGHT_BYTES,
    layer_activations,
    training_memory,
)
from swarmscale.perf.plans import RECOMPUTE_CODES, SCHEDULE_CODES, PlanGrid
from swarmscale.perf.validity import (
    NO_NIC_CODE,
    OOM_CODE,
    batch_scale,
    micro_batches,
    rule_codes,
    stage_layers,
)
from swarmscale.workload import TrainingJob

# Adam update traffic per parameter: read master, grad, m, v (16 B); write master, m, v (12 B)
# and the bf16 copy (2 B).
OPTIMIZER_TRAFFIC_BYTES = 30.0
# Elementwise kernels (norms, residual adds, rotary, activation, casts) per layer forward.
ELEMENTWISE_KERNELS = 8


@dataclass(frozen=True)
class TrainingArrays:
    """Per-plan results; every field is an array with one element per plan."""

    step_s: FloatArray
    compute_s: FloatArray
    tp_comm_s: FloatArray
    cp_comm_s: FloatArray
    ep_comm_s: FloatArray
    pp_comm_s: FloatArray
    dp_comm_s: FloatArray
    bubble_s: FloatArray
    optimizer_s: FloatArray
    weights_bytes: FloatArray
    grads_bytes: FloatArray
    optimizer_bytes: FloatArray
    activation_bytes: FloatArray
    memory_bytes: FloatArray
    model_flops: float
    hardware_flops: FloatArray
    reason: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        return np.asarray(self.reason == 0)


def _gemm_rates(job: TrainingJob, cluster: Cluster) -> GemmRates:
    """Training GEMMs run at the job's precision (fp8 casts the bf16 weights per GEMM); a chip
    without that unit cannot train at it."""
    chip, eff = cluster.chip, cluster.efficiency
    if compute_precision(chip, job.precision) != job.precision:
        raise UnknownValueError(f"{chip.id} has no {job.precision} unit to train with")
    weight_bytes = 1.0 if job.precision in ("fp8", "fp4") else WEIGHT_BYTES
    overhead = eff.kernel_overhead.require()
    return gemm_rates(chip, eff, job.precision, weight_bytes, ACT_BYTES, overhead)


def _sharded_params(gemms: tuple[Gemm, ...], tp: FloatArray) -> FloatArray:
    total = np.zeros_like(tp)
    for gemm in gemms:
        total = total + (gemm.params / tp if gemm.split != "none" else gemm.params)
    return total


@dataclass(frozen=True)
class _LayerTimes:
    fwd: FloatArray
    bwd: FloatArray
    compute: FloatArray
    tp: FloatArray
    cp: FloatArray
    ep: FloatArray
    params: FloatArray
    act_stored_per_token: FloatArray
    act_full_per_token: FloatArray


def _layer_times(
    shapes: LayerShapes,
    moe: bool,
    job: TrainingJob,
    cluster: Cluster,
    grid: PlanGrid,
) -> _LayerTimes:
    """Forward and backward seconds of one layer for one micro-batch on one device."""
    chip, eff = cluster.chip, cluster.efficiency
    tp = grid.tp.astype(float)
    cp = grid.cp.astype(float)
    ep = grid.ep.astype(float)
    # Sequence parallelism shards norms and residual adds over the TP ranks.
    sp = np.where(tp > 1, tp, 1.0) if job.software.sequence_parallel else np.ones_like(tp)
    tokens = grid.micro_batch * job.seq_len / cp
    d = shapes.d_model
    rates = _gemm_rates(job, cluster)
    gemm = gemm_set_time(shapes.attention, tokens, tp, rates)
    params = _sharded_params(shapes.attention, tp)
    act_width = shapes.dense_act_width / tp
    activations = layer_activations(shapes, job, tp, moe)
    if moe:
        k = shapes.active_experts
        experts_here = np.maximum(shapes.experts / ep, 1.0)
        tokens_per_expert = tokens * k * ep / shapes.experts
        per_expert = gemm_set_time(shapes.expert, tokens_per_expert, np.ones_like(tp), rates)
        grouped_overhead = (experts_here - 1) * len(shapes.expert) * eff.kernel_overhead.require()
        gemm = gemm + experts_here * per_expert - grouped_overhead
        if shapes.shared_experts:
            shared = tuple(
                Gemm(g.k, g.n * shapes.shared_experts if g.split == "n" else g.n, g.split)
                for g in shapes.expert
            )
            gemm = gemm + gemm_set_time(shared, tokens, tp, rates)
            params = params + _sharded_params(shared, tp)
        router = (Gemm(d, shapes.experts, "none"),)
        gemm = gemm + gemm_set_time(router, tokens, tp, rates)
        params = params + experts_here * sum(g.params for g in shapes.expert) + d * shapes.experts
        act_width = k * (shapes.expert_act_width + d) + shapes.shared_experts * (
            shapes.expert_act_width / tp
        )
    else:
        gemm = gemm + gemm_set_time(shapes.dense_mlp, tokens, tp, rates)
        params = params + _sharded_params(shapes.dense_mlp, tp)

    attn_f = _attention_forward_s(shapes, job, cluster, tokens, tp)

    stream_elems = 10.0 * d / sp + 2.0 * (shapes.qk_width + shapes.kv_width / 2.0) / tp
    stream_elems = stream_elems + act_width
    mem_bw, mem_eff = chip.memory_bandwidth.require(), eff.memory.require()
    elem_f = stream_time(tokens * stream_elems * ACT_BYTES, mem_bw=mem_bw, mem_efficiency=mem_eff)
    overhead_f = ELEMENTWISE_KERNELS * eff.kernel_overhead.require()

    tp_links = group_links(cluster, tp, 1.0)
    tp_f = 2.0 * all_reduce_time(tokens * d * ACT_BYTES, tp, tp_links)

    cp_links = group_links(cluster, cp, tp)
    kv_bytes = tokens * shapes.kv_width * ACT_BYTES / np.where(tp > 1, np.minimum(tp, 8.0), 1.0)
    cp_step = np.where(cp > 1, (cp - 1) * p2p_time(kv_bytes, cp_links), 0.0)
    cp_f = np.maximum(0.0, cp_step - attn_f)
    cp_b = np.maximum(0.0, 2.0 * cp_step - ATTENTION_BACKWARD_RATIO * attn_f)

    ep_f = np.zeros_like(tp)
    if moe:
        ep_links = group_links(cluster, ep, tp * cp)
        # Node-limited routing sends a token to at most `limit` nodes across the scale-out
        # network; copies for experts on the same node are forwarded over scale-up links.
        limit = shapes.routed_node_limit or shapes.active_experts
        cross_node = tp * cp * ep > cluster.domain_size
        copies = np.where(cross_node, min(limit, shapes.active_experts), shapes.active_experts)
        dispatch_bytes = tokens * copies * d * (1.0 if job.precision == "fp8" else 2.0)
        combine_bytes = tokens * copies * d * ACT_BYTES
        a2a = eff.all_to_all.require()
        ep_f = all_to_all_time(dispatch_bytes, ep, ep_links, a2a) + all_to_all_time(
            combine_bytes, ep, ep_links, a2a
        )
    compute_f = gemm + attn_f + elem_f + overhead_f
    compute_b = 2.0 * gemm + ATTENTION_BACKWARD_RATIO * attn_f + 2.0 * (elem_f + overhead_f)
    dualpipe = grid.schedule == SCHEDULE_CODES["dualpipe"]
    # DualPipe overlaps one micro-batch's all-to-all with another's compute (arXiv:2412.19437).
    ep_exposed_f = np.where(dualpipe, np.maximum(0.0, ep_f - compute_f), ep_f)
    ep_exposed_b = np.where(dualpipe, np.maximum(0.0, 2.0 * ep_f - compute_b), 2.0 * ep_f)

    fwd = compute_f + tp_f + cp_f + ep_exposed_f
    recompute = grid.recompute
    extra = np.where(
        recompute == RECOMPUTE_CODES["full"],
        fwd,
        np.where(recompute == RECOMPUTE_CODES["selective"], attn_f, 0.0),
    )
    bwd = compute_b + tp_f + cp_b + ep_exposed_b + extra
    compute = (
        compute_f
        + compute_b
        + np.where(
            recompute == RECOMPUTE_CODES["full"], compute_f, np.where(recompute == 1, attn_f, 0.0)
        )
    )
    tp_total = tp_f * np.where(recompute == RECOMPUTE_CODES["full"], 3.0, 2.0)
    ep_total = ep_exposed_f + ep_exposed_b + np.where(recompute == 2, ep_exposed_f, 0.0)

    return _LayerTimes(
        fwd=fwd,
        bwd=bwd,
        compute=compute,
        tp=tp_total,
        cp=cp_f + cp_b,
        ep=ep_total,
        params=params,
        act_stored_per_token=activations.stored(recompute),
        act_full_per_token=activations.none,
    )


def _attention_forward_s(
    shapes: LayerShapes, job: TrainingJob, cluster: Cluster, tokens: FloatArray, tp: FloatArray
) -> FloatArray:
    """Forward seconds of the attention core (scores, softmax, weighted sum) for one layer.

    Fused kernels skip the masked half of a causal square; unfused ones run two batched GEMMs
    over the full square and stream the score matrix through memory about four times (write
    scores, read and write softmax, read for the weighted sum).
    """
    chip, eff = cluster.chip, cluster.efficiency
    widths = (shapes.qk_width + shapes.v_width) / tp
    if job.software.fused_attention:
        flops = 2.0 * tokens * (job.seq_len / 2.0) * widths
        return np.asarray(flops / (chip.peak_flops("bf16") * eff.attention.require()))
    flops = 2.0 * tokens * job.seq_len * widths
    gemm_s = flops / (chip.peak_flops("bf16") * eff.gemm.require())
    scores = tokens * job.seq_len * job.model.heads / tp
    traffic_s = stream_time(
        4.0 * scores * ACT_BYTES,
        mem_bw=chip.memory_bandwidth.require(),
        mem_efficiency=eff.memory.require(),
    )
    return np.asarray(gemm_s + traffic_s)


def model_flops_per_token(job: TrainingJob, shapes: LayerShapes | None = None) -> float:
    """Forward + backward FLOPs per token as MFU counts them (PaLM, arXiv:2204.02311 app. B):
    6 x matmul parameters a token touches, plus 6 x L x S x (q.k + a.v widths), attention
    counted over the full square as the PaLM and Megatron-LM papers do."""
    shapes = shapes or layer_shapes(job.model)
    attention = 2.0 * job.seq_len * (shapes.qk_width + shapes.v_width) * shapes.layers
    return 6.0 * shapes.model_flops_params + 3.0 * attention


def evaluate_training(job: TrainingJob, cluster: Cluster, grid: PlanGrid) -> TrainingArrays:
    """Step time, its breakdown, memory per device and FLOPs for every plan in `grid`.

    Plans whose groups cross an unknown NIC get infinite times (inf - inf and 0 x inf appear
    on the way, hence the silenced warnings) and are rejected with NO_NIC_CODE.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return _evaluate_training(job, cluster, grid)


def _evaluate_training(job: TrainingJob, cluster: Cluster, grid: PlanGrid) -> TrainingArrays:
    shapes = layer_shapes(job.model)
    eff = cluster.efficiency
    chip = cluster.chip
    tp = grid.tp.astype(float)
    pp = grid.pp.astype(float)
    dp = grid.dp.astype(float)
    cp = grid.cp.astype(float)
    vp = grid.vp.astype(float)
    tokens = grid.micro_batch * job.seq_len / cp
    layers = float(shapes.layers)
    micro = micro_batches(job, grid).astype(float)

    parts = []
    if shapes.dense_layers:
        parts.append(
            (shapes.dense_layers / layers, _layer_times(shapes, False, job, cluster, grid))
        )
    if shapes.moe_layers:
        parts.append((shapes.moe_layers / layers, _layer_times(shapes, True, job, cluster, grid)))

    def mix(field: str) -> FloatArray:
        return np.asarray(sum(share * getattr(times, field) for share, times in parts))

    layer_fwd, layer_bwd = mix("fwd"), mix("bwd")
    # The largest stage sets the pace; the last one, which also runs the LM head and the loss,
    # holds at most an even share of the layers (see `largest_stage`).
    per_stage = stage_layers(shapes.layers, grid.pp).astype(float)
    last_stage = np.minimum(per_stage, np.floor(layers / pp))

    head = (Gemm(shapes.d_model, shapes.vocab, "n"),)
    head_f = gemm_set_time(head, tokens, tp, _gemm_rates(job, cluster))
    loss_bytes = 3.0 * tokens * shapes.vocab / tp * 4.0
    loss_s = stream_time(
        loss_bytes, mem_bw=chip.memory_bandwidth.require(), mem_efficiency=eff.memory.require()
    )
    head_s = 3.0 * head_f + 2.0 * loss_s

    layer_s = layer_fwd + layer_bwd
    stage_s = np.where(
        pp > 1,
        np.maximum(per_stage * layer_s, last_stage * layer_s + head_s),
        layers * layer_s + head_s,
    )
    pp_links = group_links(cluster, pp, tp * cp * dp)
    p2p_bytes = tokens * shapes.d_model * ACT_BYTES / tp
    chunks = np.where(grid.schedule == SCHEDULE_CODES["interleaved"], vp, 1.0)
    p2p_s = np.where(pp > 1, 2.0 * chunks * p2p_time(p2p_bytes, pp_links), 0.0)
    microbatch_s = stage_s + p2p_s

    schedule = grid.schedule
    bubble_stages = np.where(
        schedule == SCHEDULE_CODES["interleaved"],
        (pp - 1) / vp,
        np.where(schedule == SCHEDULE_CODES["dualpipe"], np.maximum(pp / 2 - 1, 0.0), pp - 1),
    )
    pipeline_s = (micro + bubble_stages) * microbatch_s
    bubble_s = bubble_stages * microbatch_s

    # Parameters held by one device (the stage with the embedding or the head).
    embed = shapes.vocab * shapes.d_model / tp
    local_params = per_stage * mix("params") + embed
    dp_group = dp * cp
    dp_links = group_links(cluster, dp_group, tp)
    zero = grid.zero
    grad_sync = all_gather_time(local_params * MAIN_GRAD_BYTES, dp_group, dp_links)
    param_sync = all_gather_time(local_params * WEIGHT_BYTES, dp_group, dp_links)
    stage_fwd = per_stage * layer_fwd
    stage_bwd = per_stage * layer_bwd
    all_reduce = all_reduce_time(local_params * MAIN_GRAD_BYTES, dp_group, dp_links)
    # ZeRO-3 gathers the weights for every micro-batch's forward and backward and scatters its
    # gradients; under pipeline parallelism it keeps them gathered through the step instead.
    per_micro_batch = (zero == 3) & (pp == 1)
    dp_exposed = np.where(
        zero == 0,
        np.maximum(0.0, all_reduce - stage_bwd),
        np.where(
            per_micro_batch,
            micro
            * (
                np.maximum(0.0, param_sync - stage_fwd)
                + np.maximum(0.0, param_sync + grad_sync - stage_bwd)
            ),
            np.maximum(0.0, grad_sync - stage_bwd) + np.maximum(0.0, param_sync - stage_fwd),
        ),
    )
    if not job.software.overlap_grad_reduce:
        dp_exposed = np.where(zero == 0, all_reduce, grad_sync + param_sync)
    dp_exposed = np.where(dp_group > 1, dp_exposed, 0.0)
    shard = np.where(zero >= 1, dp_group, 1.0)
    optimizer_s = stream_time(
        local_params / shard * OPTIMIZER_TRAFFIC_BYTES,
        mem_bw=chip.memory_bandwidth.require(),
        mem_efficiency=eff.memory.require(),
    )
    step_s = pipeline_s + dp_exposed + optimizer_s

    logits = 2.0 * tokens * shapes.vocab / tp * 4.0
    memory = training_memory(
        grid,
        local_params,
        dp_group,
        mix("act_stored_per_token") * tokens,
        mix("act_full_per_token") * tokens,
        micro,
        per_stage,
        last_stage,
        logits,
    )

    reason = rule_codes(job, cluster, grid)
    capacity = chip.memory.require() * USABLE_MEMORY_FRACTION
    reason = np.where((reason == 0) & (memory.total > capacity), OOM_CODE, reason)
    reason = np.where((reason == 0) & ~np.isfinite(step_s), NO_NIC_CODE, reason)

    model_flops = model_flops_per_token(job, shapes) * job.tokens_per_step
    recompute_flops = np.where(
        grid.recompute == RECOMPUTE_CODES["full"],
        model_flops / 3.0,
        np.where(
            grid.recompute == RECOMPUTE_CODES["selective"],
            2.0 * job.seq_len * (shapes.qk_width + shapes.v_width) * layers * job.tokens_per_step,
            0.0,
        ),
    )

    # Times are for the job's global batch (see `batch_scale`). A group over an unknown NIC has
    # infinite time; keep it infinite (never NaN) so that comparisons stay meaningful and the
    # plan is rejected with NO_NIC_CODE.
    scale = batch_scale(job, grid)

    def finite_or_inf(values: FloatArray) -> FloatArray:
        cleaned: FloatArray = np.nan_to_num(np.asarray(values, dtype=float) * scale, nan=np.inf)
        return cleaned

    step_s = finite_or_inf(step_s)
    return TrainingArrays(
        step_s=step_s,
        compute_s=finite_or_inf(micro * per_stage * mix("compute")),
        tp_comm_s=finite_or_inf(micro * per_stage * mix("tp")),
        cp_comm_s=finite_or_inf(micro * per_stage * mix("cp")),
        ep_comm_s=finite_or_inf(micro * per_stage * mix("ep")),
        pp_comm_s=finite_or_inf(micro * p2p_s),
        dp_comm_s=finite_or_inf(dp_exposed),
        bubble_s=finite_or_inf(bubble_s),
        optimizer_s=finite_or_inf(optimizer_s),
        weights_bytes=memory.weights,
        grads_bytes=memory.grads,
        optimizer_bytes=memory.optimizer,
        activation_bytes=memory.activations,
        memory_bytes=memory.total,
        model_flops=model_flops,
        hardware_flops=model_flops + recompute_flops,
        reason=reason,
    )
