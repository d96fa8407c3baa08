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
    gemm_time,
    stream_time,
)
from swarmscale.perf.layers import Gemm, LayerShapes, layer_shapes
from swarmscale.perf.plans import RECOMPUTE_CODES, SCHEDULE_CODES, PlanGrid
from swarmscale.workload import TrainingJob

ACT_BYTES = 2.0  # bf16 activations
WEIGHT_BYTES = 2.0  # bf16 weights (fp8 training keeps bf16 weights and casts per GEMM)
MAIN_GRAD_BYTES = 4.0  # fp32 gradient accumulation and reduction (Megatron-LM default)
OPTIMIZER_BYTES = 12.0  # Adam: fp32 master weights, first and second moments
# Adam update traffic per parameter: read master, grad, m, v (16 B); write master, m, v (12 B)
# and the bf16 copy (2 B).
OPTIMIZER_TRAFFIC_BYTES = 30.0
# Memory a framework cannot give to tensors: CUDA context, communicator buffers, GEMM workspace
# and allocator fragmentation. Estimate; PyTorch reserves 0.5-2 GB beyond its live tensors.
RESERVED_BYTES = 2.0e9
USABLE_MEMORY_FRACTION = 0.95
# Elementwise kernels (norms, residual adds, rotary, activation, casts) per layer forward.
ELEMENTWISE_KERNELS = 8

REASONS = (
    "ok",
    "tp x pp x dp x cp exceeds the chips available",
    "global batch is not a multiple of dp x micro-batch",
    "tp does not divide the attention heads",
    "more pipeline stages than layers",
    "interleaving needs vp > 1, at least pp x vp layers and micro-batches divisible by pp",
    "expert parallelism must divide the experts and dp x cp (and needs an MoE model)",
    "sequence length is not divisible by 2 x cp",
    "ZeRO-3 is not combined with pipeline parallelism",
    "does not fit in device memory",
    "DualPipe needs an even pp of at least 2 and at least pp micro-batches",
    "spans scale-up domains, but the chip's scale-out bandwidth is unknown",
)
REASON_NO_NIC = len(REASONS) - 1
REASON_OOM = REASONS.index("does not fit in device memory")


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


def _gemm_set_time(
    gemms: tuple[Gemm, ...],
    tokens: FloatArray,
    tp: FloatArray,
    cluster: Cluster,
    peak: float,
    gemm_eff: float,
) -> FloatArray:
    eff = cluster.efficiency
    total = np.zeros_like(tokens)
    for gemm in gemms:
        k = gemm.k / tp if gemm.split == "k" else np.full_like(tp, gemm.k)
        n = gemm.n / tp if gemm.split == "n" else np.full_like(tp, gemm.n)
        total = total + gemm_time(
            tokens,
            k,
            n,
            peak_flops=peak,
            gemm_efficiency=gemm_eff,
            mem_bw=cluster.chip.memory_bandwidth.require(),
            mem_efficiency=eff.gemm_memory.require(),
            bytes_per_element=ACT_BYTES,
            overhead_s=eff.kernel_overhead.require(),
        )
    return total


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
    act_bytes_per_token: FloatArray
    full_act_bytes_per_token: FloatArray


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
    peak = chip.peak_flops(job.precision)
    gemm_eff = (
        (eff.gemm_fp8 or eff.gemm).require() if job.precision == "fp8" else eff.gemm.require()
    )
    gemm = _gemm_set_time(shapes.attention, tokens, tp, cluster, peak, gemm_eff)
    params = _sharded_params(shapes.attention, tp)
    act_width = shapes.dense_act_width / tp
    if moe:
        k = shapes.active_experts
        experts_here = np.maximum(shapes.experts / ep, 1.0)
        tokens_per_expert = tokens * k * ep / shapes.experts
        per_expert = _gemm_set_time(
            shapes.expert, tokens_per_expert, np.ones_like(tp), cluster, peak, gemm_eff
        )
        grouped_overhead = (experts_here - 1) * len(shapes.expert) * eff.kernel_overhead.require()
        gemm = gemm + experts_here * per_expert - grouped_overhead
        if shapes.shared_experts:
            shared = tuple(
                Gemm(g.k, g.n * shapes.shared_experts if g.split == "n" else g.n, g.split)
                for g in shapes.expert
            )
            gemm = gemm + _gemm_set_time(shared, tokens, tp, cluster, peak, gemm_eff)
            params = params + _sharded_params(shared, tp)
        router = (Gemm(d, shapes.experts, "none"),)
        gemm = gemm + _gemm_set_time(router, tokens, tp, cluster, peak, gemm_eff)
        params = params + experts_here * sum(g.params for g in shapes.expert) + d * shapes.experts
        act_width = k * (shapes.expert_act_width + d) + shapes.shared_experts * (
            shapes.expert_act_width / tp
        )
    else:
        gemm = gemm + _gemm_set_time(shapes.dense_mlp, tokens, tp, cluster, peak, gemm_eff)
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

    attn_internal = (shapes.qk_width + shapes.kv_width + shapes.v_width) / tp
    if not job.software.fused_attention:
        # Stored softmax output (2 B) and dropout mask (1 B) per score: the 5as/h term of
        # Korthikanti et al. (arXiv:2205.05198, eq. 1), per token.
        attn_internal = attn_internal + 2.5 * job.model.heads * job.seq_len / tp
    full_layer = 5.0 * d / sp + attn_internal + act_width
    act_elems = np.where(
        recompute == RECOMPUTE_CODES["full"],
        2.0 * d / sp,
        np.where(recompute == RECOMPUTE_CODES["selective"], full_layer - attn_internal, full_layer),
    )
    return _LayerTimes(
        fwd=fwd,
        bwd=bwd,
        compute=compute,
        tp=tp_total,
        cp=cp_f + cp_b,
        ep=ep_total,
        params=params,
        act_bytes_per_token=act_elems * ACT_BYTES,
        full_act_bytes_per_token=full_layer * ACT_BYTES,
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


def _validity(
    job: TrainingJob, cluster: Cluster, grid: PlanGrid, shapes: LayerShapes
) -> np.ndarray:
    model = job.model
    reason = np.zeros(len(grid), dtype=np.int64)
    micro_batches = job.global_batch // np.maximum(grid.dp * grid.micro_batch, 1)
    experts = shapes.experts
    checks = [
        grid.tp * grid.pp * grid.dp * grid.cp > cluster.count,
        job.global_batch % (grid.dp * grid.micro_batch) != 0,
        model.heads % grid.tp != 0,
        grid.pp > model.layers,
        (grid.schedule == SCHEDULE_CODES["interleaved"])
        & ((grid.vp < 2) | (model.layers < grid.pp * grid.vp) | (micro_batches % grid.pp != 0))
        | ((grid.schedule != SCHEDULE_CODES["interleaved"]) & (grid.vp > 1)),
        (grid.ep > 1)
        & ((experts == 0) | (experts % grid.ep != 0) | ((grid.dp * grid.cp) % grid.ep != 0)),
        job.seq_len % (2 * grid.cp) != 0,
        (grid.zero == 3) & (grid.pp > 1),
    ]
    for code, failed in enumerate(checks, start=1):
        reason = np.where((reason == 0) & failed, code, reason)
    dualpipe_bad = (grid.schedule == SCHEDULE_CODES["dualpipe"]) & (
        (grid.pp < 2) | (grid.pp % 2 != 0) | (micro_batches < grid.pp)
    )
    return np.where(
        (reason == 0) & dualpipe_bad,
        REASONS.index("DualPipe needs an even pp of at least 2 and at least pp micro-batches"),
        reason,
    )


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
    on the way, hence the silenced warnings) and are rejected with REASON_NO_NIC.
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
    micro_batches = job.global_batch / (dp * grid.micro_batch)

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
    per_stage = np.ceil(layers / pp)
    last_stage = np.floor(layers / pp)

    head = (Gemm(shapes.d_model, shapes.vocab, "n"),)
    peak = chip.peak_flops(job.precision)
    gemm_eff = (
        (eff.gemm_fp8 or eff.gemm).require() if job.precision == "fp8" else eff.gemm.require()
    )
    head_f = _gemm_set_time(head, tokens, tp, cluster, peak, gemm_eff)
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
    pipeline_s = (micro_batches + bubble_stages) * microbatch_s
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
    dp_exposed = np.where(
        zero == 0,
        np.maximum(0.0, all_reduce - stage_bwd),
        np.where(
            zero == 3,
            micro_batches
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

    copies = np.where(schedule == SCHEDULE_CODES["dualpipe"], 2.0, 1.0)
    weights = local_params * WEIGHT_BYTES * copies / np.where(zero == 3, dp_group, 1.0)
    grads = local_params * MAIN_GRAD_BYTES * copies / np.where(zero >= 2, dp_group, 1.0)
    optimizer = local_params * OPTIMIZER_BYTES / shard
    in_flight = np.where(
        schedule == SCHEDULE_CODES["interleaved"],
        np.minimum(pp * (1.0 + (pp - 1) / (pp * vp)), micro_batches * 1.0 + pp),
        np.where(schedule == SCHEDULE_CODES["dualpipe"], pp + 1.0, pp),
    )
    in_flight = np.minimum(in_flight, np.maximum(micro_batches, 1.0))
    act_per_layer = mix("act_bytes_per_token") * tokens
    # Full recompute rebuilds one layer's activations at a time during the backward pass.
    working_layer = np.where(
        grid.recompute == RECOMPUTE_CODES["full"], mix("full_act_bytes_per_token") * tokens, 0.0
    )
    activations = in_flight * per_stage * act_per_layer + working_layer
    logits = 2.0 * tokens * shapes.vocab / tp * 4.0
    memory = (
        weights + grads + optimizer + np.maximum(activations, act_per_layer * last_stage + logits)
    )
    memory = memory + RESERVED_BYTES

    reason = _validity(job, cluster, grid, shapes)
    capacity = chip.memory.require() * USABLE_MEMORY_FRACTION
    reason = np.where((reason == 0) & (memory > capacity), REASON_OOM, reason)
    reason = np.where((reason == 0) & ~np.isfinite(step_s), REASON_NO_NIC, reason)

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

    # A group over an unknown NIC has infinite time; keep it infinite (never NaN) so that
    # comparisons stay meaningful and the plan is rejected with REASON_NO_NIC.
    def finite_or_inf(values: FloatArray) -> FloatArray:
        cleaned: FloatArray = np.nan_to_num(np.asarray(values, dtype=float), nan=np.inf)
        return cleaned

    step_s = finite_or_inf(step_s)
    return TrainingArrays(
        step_s=step_s,
        compute_s=finite_or_inf(micro_batches * per_stage * mix("compute")),
        tp_comm_s=finite_or_inf(micro_batches * per_stage * mix("tp")),
        cp_comm_s=finite_or_inf(micro_batches * per_stage * mix("cp")),
        ep_comm_s=finite_or_inf(micro_batches * per_stage * mix("ep")),
        pp_comm_s=finite_or_inf(micro_batches * p2p_s),
        dp_comm_s=finite_or_inf(dp_exposed),
        bubble_s=finite_or_inf(bubble_s),
        optimizer_s=optimizer_s,
        weights_bytes=weights,
        grads_bytes=grads,
        optimizer_bytes=optimizer,
        activation_bytes=activations,
        memory_bytes=memory,
        model_flops=model_flops,
        hardware_flops=model_flops + recompute_flops,
        reason=reason,
    )
