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
from swarmscale.perf.checkpoint import rerun_params_per_token, rerun_share
from swarmscale.perf.comm import (
    all_gather_time,
    all_reduce_time,
    expert_dispatch_time,
    group_links,
    p2p_time,
)
from swarmscale.perf.compute import (
    ATTENTION_BACKWARD_RATIO,
    EAGER_ELEMENTWISE_PASSES,
    QUANTISED_BYTES,
    FloatArray,
    GemmRates,
    attended_keys,
    attention_plateau,
    attention_share,
    compute_precision,
    gemm_rates,
    gemm_set_time,
    stream_time,
    sustained,
)
from swarmscale.perf.layers import Gemm, LayerShapes, layer_shapes
from swarmscale.perf.memory import (
    ACT_BYTES,
    OPTIMIZER_BYTES,
    USABLE_MEMORY_FRACTION,
    WEIGHT_BYTES,
    TrainingMemory,
    in_flight_micro_batches,
    layer_activations,
    training_memory,
)
from swarmscale.perf.plans import RECOMPUTE_CODES, SCHEDULE_CODES, PlanGrid
from swarmscale.perf.validity import (
    NO_NIC_CODE,
    OOM_CODE,
    batch_scale,
    expert_ranks,
    micro_batches,
    rank_layers,
    rule_codes,
)
from swarmscale.workload import TrainingJob

# Megatron-core's default DDP bucket: max(40M, 1M x data-parallel size) parameters.
BUCKET_MIN_PARAMS = 40e6
BUCKET_PARAMS_PER_RANK = 1e6
# Adam update traffic per parameter: read master, grad, m, v (16 B); write master, m, v (12 B)
# and the bf16 copy (2 B).
OPTIMIZER_TRAFFIC_BYTES = 30.0
# Elementwise kernels (norms, residual adds, rotary, activation, casts) per layer forward.
ELEMENTWISE_KERNELS = 8
# Bytes the loss moves per logit, forward and backward. A fused cross-entropy (Megatron's
# vocab-parallel one, flash-attn's xentropy) reads and writes fp32 logits in each direction:
# 24 B. Plain PyTorch (`cross_entropy(logits.float(), ...)`) moves about 40: the cast (read 2,
# write 4), log-softmax (two reads of 4 for the row's max and sum, a write of 4), the loss
# gradient written dense (4), log-softmax's backward (read 4 + 4, write 4) and the cast back
# (read 4, write 2).
LOSS_BYTES_PER_LOGIT = 24.0
UNFUSED_LOSS_BYTES_PER_LOGIT = 40.0


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
    rebuilt_layers: FloatArray  # layers of the largest stage rebuilt in the backward
    model_flops: float
    hardware_flops: FloatArray
    reason: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        return np.asarray(self.reason == 0)


def _gemm_rates(job: TrainingJob, cluster: Cluster) -> GemmRates:
    """Training GEMMs run at the job's precision (fp8 casts the bf16 weights per GEMM), at the
    share of the kernel benchmarks' rate a whole step sustains; a chip without that unit cannot
    train at it."""
    chip, eff = cluster.chip, cluster.efficiency
    if compute_precision(chip, job.precision) != job.precision:
        can = [p for p in ("bf16", "fp8", "fp4") if compute_precision(chip, p) == p]
        raise UnknownValueError(
            f"precision {job.precision}: {chip.id} has no {job.precision} unit to train with "
            f"(it trains at {', '.join(can)})"
        )
    weight_bytes = QUANTISED_BYTES.get(job.precision, WEIGHT_BYTES)
    overhead = eff.kernel_overhead.require()
    rates = gemm_rates(chip, eff, job.precision, weight_bytes, ACT_BYTES, overhead)
    return sustained(rates, eff.training_sustained.require())


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
    expert_params: FloatArray
    act_stored_per_token: FloatArray
    act_full_per_token: FloatArray
    # What rebuilding the layer in the backward adds besides rerunning `fwd` (full and partial
    # recompute scale these by the share of layers they rebuild), and the bytes per token a
    # rebuilt layer keeps.
    rebuild_compute: FloatArray
    rebuild_tp: FloatArray
    rebuild_ep: FloatArray
    act_rebuilt_per_token: FloatArray


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
        # Each TP rank routes its sequence-parallel shard of the tokens (Megatron-core needs
        # sequence parallelism for MoE with TP), so the TP group shares the expert work instead
        # of repeating it: the same FLOPs whether experts are tensor-parallel or not.
        tokens_per_expert = tokens / tp * k * ep / shapes.experts
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
        expert_params = experts_here * sum(g.params for g in shapes.expert)
        params = params + expert_params + d * shapes.experts
        act_width = k * (shapes.expert_act_width + d) + shapes.shared_experts * (
            shapes.expert_act_width / tp
        )
    else:
        gemm = gemm + gemm_set_time(shapes.dense_mlp, tokens, tp, rates)
        params = params + _sharded_params(shapes.dense_mlp, tp)
        expert_params = np.zeros_like(tp)

    attn_f = _attention_forward_s(shapes, job, cluster, tokens, tp)

    # The residual stream (norms, residual adds: 10 d) is fp32 under autocast over fp32
    # weights, bf16 otherwise; the attention and activation tensors are bf16 either way.
    residual_bytes = 4.0 if job.software.autocast else ACT_BYTES
    stream_bytes = 10.0 * d / sp * residual_bytes + ACT_BYTES * (
        2.0 * (shapes.qk_width + shapes.kv_width / 2.0) / tp + act_width
    )
    mem_bw, mem_eff = chip.memory_bandwidth.require(), eff.memory.require()
    passes = EAGER_ELEMENTWISE_PASSES if job.software.eager else 1.0
    elem_f = stream_time(passes * tokens * stream_bytes, mem_bw=mem_bw, mem_efficiency=mem_eff)
    quant_f, quant_b = _quantise_cast_s(shapes, job, cluster, tokens, tp, sp, moe)
    if job.software.autocast:
        # Autocast casts each fp32 weight to bf16 once per forward (read 4, write 2), and the
        # backward casts the bf16 weight gradient into the fp32 one (read 2, write 4).
        weight_cast = stream_time(params * 6.0, mem_bw=mem_bw, mem_efficiency=mem_eff)
        quant_f, quant_b = quant_f + weight_cast, quant_b + weight_cast
    overhead_f = ELEMENTWISE_KERNELS * eff.kernel_overhead.require()

    tp_links = group_links(cluster, tp, 1.0)
    tp_f = 2.0 * all_reduce_time(tokens * d * ACT_BYTES, tp, tp_links)
    tp_b = tp_f
    if job.software.tp_comm_overlap and job.software.sequence_parallel:
        neighbours = _tp_neighbours(shapes, moe, tokens, tp, rates)
        tp_f = _overlapped_tp(tp_f, neighbours, tp)
        tp_b = _overlapped_tp(tp_b, 2.0 * neighbours, tp)

    cp_links = group_links(cluster, cp, tp)
    kv_bytes = tokens * shapes.kv_width * ACT_BYTES / np.where(tp > 1, np.minimum(tp, 8.0), 1.0)
    cp_step = np.where(cp > 1, (cp - 1) * p2p_time(kv_bytes, cp_links), 0.0)
    cp_f = np.maximum(0.0, cp_step - attn_f)
    cp_b = np.maximum(0.0, 2.0 * cp_step - ATTENTION_BACKWARD_RATIO * attn_f)

    ep_f = np.zeros_like(tp)
    if moe:
        # Folded expert layers (Megatron-core MoE parallel folding) group consecutive ranks;
        # otherwise the expert group runs over the data-parallel ranks, one per tp x cp block.
        stride = np.ones_like(tp) if job.software.moe_parallel_folding else tp * cp
        ep_links = group_links(cluster, ep, stride)
        routed = tokens / tp  # each TP rank dispatches its own shard, as above
        dispatch_bytes = routed * d * (1.0 if job.precision == "fp8" else 2.0)
        a2a = eff.all_to_all.require()
        copies, limit = float(shapes.active_experts), shapes.routed_node_limit
        ep_f = expert_dispatch_time(dispatch_bytes, copies, ep, ep_links, a2a, limit) + (
            expert_dispatch_time(routed * d * ACT_BYTES, copies, ep, ep_links, a2a, limit)
        )
    compute_f = gemm + attn_f + elem_f + quant_f + overhead_f
    compute_b = (
        2.0 * gemm + ATTENTION_BACKWARD_RATIO * attn_f + 2.0 * (elem_f + overhead_f) + quant_b
    )
    # DualPipe (arXiv:2412.19437) and Megatron-core's EP overlap run one micro-batch's
    # all-to-all while another computes.
    paired = (grid.schedule == SCHEDULE_CODES["dualpipe"]) | job.software.ep_comm_overlap
    ep_exposed_f = np.where(paired, np.maximum(0.0, ep_f - compute_f), ep_f)
    ep_exposed_b = np.where(paired, np.maximum(0.0, 2.0 * ep_f - compute_b), 2.0 * ep_f)

    fwd = compute_f + tp_f + cp_f + ep_exposed_f
    # Selective recompute reruns the attention core in the backward; per-operator
    # checkpointing reruns every second matmul and all elementwise work; rebuilding whole
    # layers (full and partial recompute) is added per plan by `_evaluate_training`.
    op_rerun = rerun_share(job.model, moe) * (gemm + quant_f) + elem_f + overhead_f
    rerun = np.where(grid.recompute == RECOMPUTE_CODES["selective"], attn_f, 0.0)
    rerun = np.where(grid.recompute == RECOMPUTE_CODES["op"], op_rerun, rerun)

    return _LayerTimes(
        fwd=fwd,
        bwd=compute_b + tp_b + cp_b + ep_exposed_b + rerun,
        compute=compute_f + compute_b + rerun,
        tp=tp_f + tp_b,
        cp=cp_f + cp_b,
        ep=ep_exposed_f + ep_exposed_b,
        params=params,
        expert_params=np.asarray(expert_params),
        act_stored_per_token=activations.stored(grid.recompute),
        act_full_per_token=activations.none,
        rebuild_compute=compute_f,
        rebuild_tp=tp_f,
        rebuild_ep=ep_exposed_f,
        act_rebuilt_per_token=activations.full,
    )


def _tp_neighbours(
    shapes: LayerShapes, moe: bool, tokens: FloatArray, tp: FloatArray, rates: GemmRates
) -> FloatArray:
    """Forward seconds of the GEMM beside each of a layer's four sequence-parallel collectives,
    stacked: the QKV projection after the attention all-gather, the output projection before
    its reduce-scatter, and the MLP's first and last GEMMs (its experts, half each, in a MoE
    layer)."""
    attention = shapes.attention
    times = [gemm_set_time((attention[0],), tokens, tp, rates)]
    times.append(gemm_set_time((attention[-1],), tokens, tp, rates))
    if moe:
        experts = gemm_set_time(shapes.expert, tokens * shapes.active_experts, tp, rates)
        times += [experts / 2.0, experts / 2.0]
    else:
        mlp = shapes.dense_mlp
        times.append(gemm_set_time((mlp[0],), tokens, tp, rates))
        times.append(gemm_set_time((mlp[-1],), tokens, tp, rates))
    return np.stack(times)


def _overlapped_tp(comm: FloatArray, neighbours: FloatArray, tp: FloatArray) -> FloatArray:
    """Exposed seconds of a layer's TP collectives (`comm` in all, a quarter each) when each
    runs in tp ring steps behind the one GEMM beside it (Transformer Engine userbuffers, PyTorch
    async TP): what outlasts that GEMM shows, and the first step never hides."""
    each = comm / 4.0
    return np.asarray(np.sum(np.maximum(each - neighbours, each / tp), axis=0))


def _quantise_cast_s(
    shapes: LayerShapes,
    job: TrainingJob,
    cluster: Cluster,
    tokens: FloatArray,
    tp: FloatArray,
    sp: FloatArray,
    moe: bool,
) -> tuple[FloatArray, FloatArray]:
    """Forward and backward seconds of low-precision training's casts: Transformer Engine
    quantises every GEMM input in the forward and every output gradient in the backward,
    reading the bf16 tensor and writing quantised copies in both layouts the two backward
    GEMMs need (read 2 B, write 2 x 1 B per element for FP8, 2 x 0.5625 B for FP4); zero for
    bf16 training."""
    if job.precision not in QUANTISED_BYTES:
        return np.zeros_like(tp), np.zeros_like(tp)
    d = shapes.d_model
    act_width = shapes.expert_act_width if moe else shapes.dense_act_width
    hidden = act_width / (3.0 if job.model.activation == "swiglu" else 2.0)
    up = act_width - hidden
    if moe:
        # Routed copies are shared out among the TP ranks, as in `layer_activations`.
        copies = (shapes.active_experts + shapes.shared_experts) / tp
        ffn_in, ffn_grads = d / sp + copies * (d + hidden), copies * (up + d)
    else:
        ffn_in, ffn_grads = (d / sp + hidden / tp), (up / tp + d / sp)
    inputs = d / sp + shapes.v_width / tp + ffn_in
    grads = (shapes.qk_width + shapes.kv_width) / tp + d / sp + ffn_grads
    per_element = ACT_BYTES + 2.0 * QUANTISED_BYTES[job.precision]

    def cast_s(elements: FloatArray) -> FloatArray:
        return stream_time(
            tokens * elements * per_element,
            mem_bw=cluster.chip.memory_bandwidth.require(),
            mem_efficiency=cluster.efficiency.memory.require(),
        )

    return cast_s(inputs), cast_s(grads)


def _attention_forward_s(
    shapes: LayerShapes, job: TrainingJob, cluster: Cluster, tokens: FloatArray, tp: FloatArray
) -> FloatArray:
    """Forward seconds of the attention core (scores, softmax, weighted sum) for one layer.

    Fused kernels skip the masked half of a causal square (and whatever a sliding window
    masks: `attended_keys`); unfused ones run two batched GEMMs
    over the full square and stream the score matrix through memory about four times (write
    scores, read and write softmax, read for the weighted sum).
    """
    chip, eff = cluster.chip, cluster.efficiency
    widths = (shapes.qk_width + shapes.v_width) / tp
    tensor_rate = chip.peak_flops("bf16") * eff.training_sustained.require()
    if job.software.fused_attention:
        keys = float(attended_keys(job.seq_len, job.model.sliding_window))
        flops = 2.0 * tokens * keys * widths
        share = attention_share(keys, shapes.qk_width / job.model.heads)
        plateau = attention_plateau(eff, job.software.tuned_attention)
        return np.asarray(flops / (tensor_rate * plateau * share))
    flops = 2.0 * tokens * job.seq_len * widths
    gemm_s = flops / (tensor_rate * eff.gemm.require())
    scores = tokens * job.seq_len * job.model.heads / tp
    traffic_s = stream_time(
        4.0 * scores * ACT_BYTES,
        mem_bw=chip.memory_bandwidth.require(),
        mem_efficiency=eff.memory.require(),
    )
    return np.asarray(gemm_s + traffic_s)


def _offload_exposed_s(
    job: TrainingJob,
    cluster: Cluster,
    offloaded: FloatArray,
    stored: FloatArray,
    layer_fwd: FloatArray,
    layer_bwd: FloatArray,
) -> FloatArray:
    """Seconds per micro-batch that activation offloading adds: each offloaded layer's stored
    bytes go out over the host link behind the next layer's forward and come back behind the
    previous layer's backward; only what outlasts that compute shows."""
    if not job.software.activation_offload_layers:
        return np.zeros_like(stored)
    link = cluster.chip.host_bandwidth
    if link is None or link.value is None:
        raise UnknownValueError(
            f"activation offloading needs the host bandwidth of {cluster.chip.id}, which the "
            "catalog does not give"
        )
    move = stored / link.value
    return np.asarray(
        offloaded * (np.maximum(0.0, move - layer_fwd) + np.maximum(0.0, move - layer_bwd))
    )


def _partial_share(
    grid: PlanGrid,
    memory: TrainingMemory,
    capacity: float,
    micro_batches: FloatArray,
    per_stage: FloatArray,
    saved_per_layer: FloatArray,
) -> FloatArray:
    """Share of each stage's layers a `partial` plan rebuilds in the backward: the fewest (at
    least one, at most all) whose stored activations, `saved_per_layer` bytes per micro-batch
    each, bring the first stage's `memory` under `capacity`; zero for other plans."""
    saving = in_flight_micro_batches(grid, micro_batches) * saved_per_layer
    layers = np.ceil((memory.total - capacity) / np.maximum(saving, 1.0))
    share = np.clip(layers, 1.0, per_stage) / per_stage
    return np.asarray(np.where(grid.recompute == RECOMPUTE_CODES["partial"], share, 0.0))


def _dp_exposed(
    job: TrainingJob,
    cluster: Cluster,
    grid: PlanGrid,
    params: FloatArray,
    group: FloatArray,
    stride: FloatArray,
    layers: FloatArray,
    stage_fwd: FloatArray,
    stage_bwd: FloatArray,
) -> FloatArray:
    """Exposed data-parallel communication of `params` over a group of `group` ranks, on a
    rank holding `layers` layers.

    ZeRO 1-2 (Megatron's distributed optimizer) reduce-scatters the gradients during the last
    micro-batch's backward and all-gathers the updated weights during the next step's first
    forward, in buckets of max(40M, 1M x dp) parameters per model chunk, so at least one
    bucket shows each way (Megatron-Bridge "Communication Overlap" guide); ZeRO 0 all-reduces
    the gradients during the backward; ZeRO 3 gathers the weights for every micro-batch's
    forward and backward (under pipeline parallelism it keeps them gathered through the step
    instead)."""
    links = group_links(cluster, group, stride)
    zero, pp = grid.zero, grid.pp
    micro = micro_batches(job, grid).astype(float)
    grad_bytes = job.software.grad_bytes
    grad_sync = all_gather_time(params * grad_bytes, group, links)
    param_sync = all_gather_time(params * WEIGHT_BYTES, group, links)
    all_reduce = all_reduce_time(params * grad_bytes, group, links)
    model_chunks = np.where(pp > 1, grid.vp.astype(float), 1.0)
    chunks = np.where(pp > 1, model_chunks, layers)
    # Megatron-core's DDP syncs each model chunk's gradients in buckets of max(40M, 1M x dp)
    # parameters (`distributed_data_parallel.py`), each starting when its last gradient is
    # ready: the last bucket's reduce-scatter outlasts the backward, the first bucket's
    # all-gather precedes the forward.
    chunk_params = params / model_chunks
    bucket = np.minimum(chunk_params, np.maximum(BUCKET_MIN_PARAMS, BUCKET_PARAMS_PER_RANK * group))
    chunked = np.maximum(
        grad_sync - stage_bwd, all_gather_time(bucket * grad_bytes, group, links)
    ) + np.maximum(param_sync - stage_fwd, all_gather_time(bucket * WEIGHT_BYTES, group, links))
    per_micro_batch = (zero == 3) & (pp == 1)
    exposed = np.where(
        zero == 0,
        np.maximum(all_reduce / chunks, all_reduce - stage_bwd),
        np.where(
            per_micro_batch,
            micro
            * (
                np.maximum(0.0, param_sync - stage_fwd)
                + np.maximum(0.0, param_sync + grad_sync - stage_bwd)
            ),
            chunked,
        ),
    )
    if not job.software.overlap_grad_reduce:
        exposed = np.where(zero == 0, all_reduce, grad_sync + param_sync)
    return np.asarray(np.where(group > 1, exposed, 0.0))


def model_flops_per_token(job: TrainingJob, shapes: LayerShapes | None = None) -> float:
    """Forward + backward FLOPs per token as MFU counts them (PaLM, arXiv:2204.02311 app. B):
    6 x matmul parameters a token touches, plus 6 x L x S x (q.k + a.v widths), attention
    counted over the full square as the PaLM and Megatron-LM papers do."""
    shapes = shapes or layer_shapes(job.model)
    return 6.0 * shapes.model_flops_params + attention_flops_per_token(job, shapes)


def attention_flops_per_token(job: TrainingJob, shapes: LayerShapes | None = None) -> float:
    """The attention-square share of `model_flops_per_token`: forward and backward of q.k and
    a.v over the full square of the sequence."""
    shapes = shapes or layer_shapes(job.model)
    return 6.0 * job.seq_len * (shapes.qk_width + shapes.v_width) * shapes.layers


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
    ep = grid.ep.astype(float)
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

    # The largest stage sets the pace; the last one, which also runs the LM head and the loss,
    # holds at most an even share of the layers (see `largest_stage`).
    per_stage = rank_layers(job, grid).astype(float)
    last_stage = np.minimum(per_stage, np.floor(layers / pp))

    # Parameters held by one device (the stage with the embedding or the head). Experts are
    # replicated only over the ranks that hold the same experts (the expert data-parallel
    # group: dp x cp / ep, or tp x dp x cp / ep when folded), so their gradients and optimizer
    # state shard over that group.
    embed = shapes.vocab * shapes.d_model / tp
    local_params = per_stage * mix("params") + embed
    expert_local = per_stage * mix("expert_params")
    dense_local = local_params - expert_local
    dp_group = dp * cp
    folding = job.software.moe_parallel_folding
    expert_dp = np.maximum(expert_ranks(job, tp, dp, cp) / ep, 1.0)
    logits = 2.0 * tokens * shapes.vocab / tp * 4.0
    capacity = chip.memory.require() * USABLE_MEMORY_FRACTION

    offloaded = np.minimum(float(job.software.activation_offload_layers), per_stage)

    def memory_with(stored: FloatArray, rebuilt: FloatArray) -> TrainingMemory:
        return training_memory(
            grid, dense_local, expert_local, dp_group, expert_dp, stored,
            mix("act_full_per_token") * tokens, micro, per_stage, last_stage, logits,
            job.software.grad_bytes, rebuilt, offloaded,
        )  # fmt: skip

    full_share = np.where(grid.recompute == RECOMPUTE_CODES["full"], 1.0, 0.0)
    stored = mix("act_stored_per_token") * tokens
    saved_per_layer = (mix("act_full_per_token") - mix("act_rebuilt_per_token")) * tokens
    partial = _partial_share(
        grid, memory_with(stored, full_share), capacity, micro, per_stage, saved_per_layer
    )
    rebuilt = full_share + partial  # share of each stage's layers rebuilt in the backward
    memory = memory_with(stored - partial * saved_per_layer, rebuilt)
    layer_fwd = mix("fwd")
    layer_bwd = mix("bwd") + rebuilt * layer_fwd
    layer_compute = mix("compute") + rebuilt * mix("rebuild_compute")
    layer_tp = mix("tp") + rebuilt * mix("rebuild_tp")
    layer_ep = mix("ep") + rebuilt * mix("rebuild_ep")

    head = (Gemm(shapes.d_model, shapes.vocab, "n"),)
    head_f = gemm_set_time(head, tokens, tp, _gemm_rates(job, cluster))
    per_logit = LOSS_BYTES_PER_LOGIT if job.software.fused_loss else UNFUSED_LOSS_BYTES_PER_LOGIT
    loss_s = stream_time(
        tokens * shapes.vocab / tp * per_logit,
        mem_bw=chip.memory_bandwidth.require(),
        mem_efficiency=eff.memory.require(),
    )
    head_s = 3.0 * head_f + loss_s

    layer_s = layer_fwd + layer_bwd
    stage_s = np.where(
        pp > 1,
        np.maximum(per_stage * layer_s, last_stage * layer_s + head_s),
        layers * layer_s + head_s,
    )
    pp_links = group_links(cluster, pp, tp * cp * dp)
    p2p_bytes = tokens * shapes.d_model * ACT_BYTES / tp
    interleaved = grid.schedule == SCHEDULE_CODES["interleaved"]
    chunks = np.where(interleaved, vp, 1.0)
    transfer = p2p_time(p2p_bytes, pp_links)
    # Megatron-LM overlaps the interleaved schedule's sends and receives with the neighbouring
    # chunk's forward or backward (overlap_p2p_comm, on unless --no-overlap-p2p-communication;
    # forced off without interleaving): only what outlasts the chunk shows.
    chunk_layers = per_stage / chunks
    hidden = np.maximum(0.0, transfer - chunk_layers * layer_fwd) + np.maximum(
        0.0, transfer - chunk_layers * layer_bwd
    )
    p2p_s = np.where(pp > 1, chunks * np.where(interleaved, hidden, 2.0 * transfer), 0.0)
    microbatch_s = (
        stage_s + p2p_s + _offload_exposed_s(job, cluster, offloaded, stored, layer_fwd, layer_bwd)
    )

    schedule = grid.schedule
    bubble_stages = np.where(
        schedule == SCHEDULE_CODES["interleaved"],
        (pp - 1) / vp,
        np.where(schedule == SCHEDULE_CODES["dualpipe"], np.maximum(pp / 2 - 1, 0.0), pp - 1),
    )
    pipeline_s = (micro + bubble_stages) * microbatch_s
    bubble_s = bubble_stages * microbatch_s

    stage_fwd, stage_bwd = per_stage * layer_fwd, per_stage * layer_bwd
    dp_exposed = _dp_exposed(
        job, cluster, grid, dense_local, dp_group, tp, per_stage, stage_fwd, stage_bwd
    ) + _dp_exposed(
        job, cluster, grid, expert_local, expert_dp, ep * (1.0 if folding else tp), per_stage,
        stage_fwd, stage_bwd,
    )  # fmt: skip
    # The Adam update touches the parameters whose state this device holds (sharded by ZeRO).
    optimizer_s = stream_time(
        memory.optimizer / OPTIMIZER_BYTES * OPTIMIZER_TRAFFIC_BYTES,
        mem_bw=chip.memory_bandwidth.require(),
        mem_efficiency=eff.memory.require(),
    )
    step_s = pipeline_s + dp_exposed + optimizer_s

    reason = rule_codes(job, cluster, grid)
    reason = np.where((reason == 0) & (memory.total > capacity), OOM_CODE, reason)
    reason = np.where((reason == 0) & ~np.isfinite(step_s), NO_NIC_CODE, reason)

    model_flops = model_flops_per_token(job, shapes) * job.tokens_per_step
    # A rebuilt layer reruns its forward (a third of its FLOPs); selective recompute reruns
    # the attention core's forward, per-operator checkpointing every second matmul.
    attention_forward = attention_flops_per_token(job, shapes) / 3.0 * job.tokens_per_step
    op_forward = 2.0 * rerun_params_per_token(job.model) * job.tokens_per_step
    recompute_flops = (
        rebuilt * model_flops / 3.0
        + np.where(grid.recompute == RECOMPUTE_CODES["selective"], attention_forward, 0.0)
        + np.where(grid.recompute == RECOMPUTE_CODES["op"], op_forward, 0.0)
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
        compute_s=finite_or_inf(micro * per_stage * layer_compute),
        tp_comm_s=finite_or_inf(micro * per_stage * layer_tp),
        cp_comm_s=finite_or_inf(micro * per_stage * mix("cp")),
        ep_comm_s=finite_or_inf(micro * per_stage * layer_ep),
        pp_comm_s=finite_or_inf(micro * p2p_s),
        dp_comm_s=finite_or_inf(dp_exposed),
        bubble_s=finite_or_inf(bubble_s),
        optimizer_s=finite_or_inf(optimizer_s),
        weights_bytes=memory.weights,
        grads_bytes=memory.grads,
        optimizer_bytes=memory.optimizer,
        activation_bytes=memory.activations,
        memory_bytes=memory.total,
        rebuilt_layers=np.asarray(rebuilt * per_stage),
        model_flops=model_flops,
        hardware_flops=model_flops + recompute_flops,
        reason=reason,
    )
