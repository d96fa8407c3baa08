"""Device memory of a training plan: weights, gradients, optimizer state and activations.

Activations follow Korthikanti et al. 2022 (arXiv:2205.05198, section 4), per token and layer,
written out tensor by tensor for today's blocks (pre-norm, SwiGLU or GeLU FFN, grouped-query
or latent attention, a fused attention kernel that stores Q, K, V and its output but no score
matrix):
- norm inputs (two per layer) and the inputs of the QKV and first FFN GEMMs are sharded over
  the TP ranks with sequence parallelism (stored sharded, gathered again in the backward);
- Q, K, V and the attention output are split by the heads over the TP ranks;
- the FFN's activation-function inputs (gate and up for SwiGLU, the first GEMM's output for
  GeLU) and its output (the second GEMM's input);
- without a fused attention kernel (Megatron-LM 2021), the softmax output (2 B) and dropout
  mask (1 B) of every score, 5as/h per token (eq. 1), and the two dropout masks (1 B each);
- FP8 and FP4 training keep the GEMM inputs they save for the backward quantised (Transformer
  Engine caches the cast copies), 1 or 0.5625 bytes instead of 2.
Recompute: `selective` recomputes the attention core (stores no score terms: 34 sbh / t in
Korthikanti's Table 2, and nothing saved over a fused kernel); `full` stores each layer's input
(sharded with sequence parallelism) and rebuilds one layer at a time in the backward; `partial`
does that for the fewest of each stage's layers that make the plan fit (Megatron-LM's
`--recompute-method block --recompute-num-layers N`, which NeMo's recipes set); `op` keeps
what torchtitan's per-operator policy keeps (`perf/checkpoint.py`).
Pipelining keeps activations of the micro-batches in flight on the first stage: pp for 1F1B,
pp (1 + (pp - 1) / (pp vp)) interleaved (Korthikanti eq. 3 with Narayanan et al. 2021),
pp + 1 for DualPipe's two directions.
State per parameter (Megatron-LM's distributed-optimizer table): bf16 weights (2 B), fp32
gradients (4 B; 2 B where the run reduces them in bf16), fp32 master weights and Adam moments
(12 B); ZeRO-1 shards the 12 B over the data-parallel ranks, ZeRO-2 also the gradients,
ZeRO-3 also the weights, except that ZeRO-3 (FSDP) under pipeline parallelism keeps a
stage's weights gathered and its gradients whole through the step: torchtitan does not
reshard after forward under PP (`get_fsdp_reshard_after_forward_policy`), and PyTorch's
pipeline schedules turn FSDP's gradient sync off for every micro-batch but the last
(`backward_maybe_with_nosync`), so the stage's gradients accumulate whole, in the reduce dtype
(fp32 unless the run reduces in bf16), until one reduce-scatter at the end of the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmscale.perf.checkpoint import saved_elements_per_token
from swarmscale.perf.compute import QUANTISED_BYTES, FloatArray
from swarmscale.perf.layers import LayerShapes
from swarmscale.perf.plans import RECOMPUTE_CODES, SCHEDULE_CODES, PlanGrid
from swarmscale.workload import TrainingJob

ACT_BYTES = 2.0  # bf16 activations
WEIGHT_BYTES = 2.0  # bf16 weights (fp8 training keeps bf16 weights and casts per GEMM)
OPTIMIZER_BYTES = 12.0  # Adam: fp32 master weights, first and second moments
# Memory a framework cannot give to tensors: CUDA context, communicator buffers, GEMM workspace
# and allocator fragmentation. Estimate; PyTorch reserves 0.5-2 GB beyond its live tensors.
RESERVED_BYTES = 2.0e9
USABLE_MEMORY_FRACTION = 0.95


@dataclass(frozen=True)
class LayerActivations:
    """Bytes one token leaves stored in one layer, by recompute level (arrays over plans)."""

    none: FloatArray
    selective: FloatArray
    full: FloatArray
    op: FloatArray

    def stored(self, recompute: np.ndarray) -> FloatArray:
        stored = self.none
        for name in ("selective", "full", "op"):
            stored = np.where(recompute == RECOMPUTE_CODES[name], getattr(self, name), stored)
        return np.asarray(stored)


def layer_activations(
    shapes: LayerShapes, job: TrainingJob, tp: FloatArray, moe: bool
) -> LayerActivations:
    """Stored activation bytes per token of one dense or MoE layer on one device."""
    d = shapes.d_model
    sp = np.where(tp > 1, tp, 1.0) if job.software.sequence_parallel else np.ones_like(tp)
    gemm_input_bytes = QUANTISED_BYTES.get(job.precision, ACT_BYTES)
    gated = 1.0 if job.model.activation == "swiglu" else 0.0  # SwiGLU keeps gate and up
    if moe:
        assert job.model.moe is not None
        k, hidden = shapes.active_experts, float(job.model.moe.expert_ffn_hidden)
        # Each routed copy of a token is an expert GEMM input, shared out among the TP ranks
        # (each routes its sequence-parallel shard); shared experts run on the norm's output
        # (already counted) with TP-split hidden units.
        copies = (k + shapes.shared_experts) / tp
        act_inputs = copies * (1.0 + gated) * hidden
        ffn_out = copies * hidden
        ffn_gemm_inputs = d / sp + k * d / tp
    else:
        hidden = shapes.dense_act_width / (2.0 + gated)
        act_inputs = (1.0 + gated) * hidden / tp
        ffn_out = hidden / tp
        ffn_gemm_inputs = d / sp
    norms = 2.0 * d / sp * ACT_BYTES
    gemm_inputs = (d / sp + shapes.v_width / tp + ffn_gemm_inputs) * gemm_input_bytes
    qkv = (shapes.qk_width + shapes.kv_width) / tp * ACT_BYTES
    scores, masks = np.zeros_like(tp), np.zeros_like(tp)
    if not job.software.fused_attention:
        # Scores, softmax output and its dropout mask (5as/h bytes per token, eq. 1), and the
        # attention and FFN dropout masks (1 B per element).
        scores = 2.5 * job.model.heads * job.seq_len / tp * ACT_BYTES
        masks = 2.0 * d / sp
    activation = act_inputs * ACT_BYTES
    output = ffn_out * gemm_input_bytes
    none = norms + gemm_inputs + qkv + scores + masks + activation + output
    selective = none - scores
    full = d / sp * ACT_BYTES + np.zeros_like(tp)
    op = saved_elements_per_token(job.model, moe, shapes.v_width, tp, sp) * ACT_BYTES
    return LayerActivations(
        np.asarray(none), np.asarray(selective), np.asarray(full), np.minimum(op, none)
    )


def in_flight_micro_batches(grid: PlanGrid, micro_batches: FloatArray) -> FloatArray:
    """Micro-batches whose activations the first pipeline stage holds at once."""
    pp, vp = grid.pp.astype(float), grid.vp.astype(float)
    schedule = grid.schedule
    flight = np.where(
        schedule == SCHEDULE_CODES["interleaved"],
        pp * (1.0 + (pp - 1.0) / (pp * vp)),
        np.where(schedule == SCHEDULE_CODES["dualpipe"], pp + 1.0, pp),
    )
    return np.asarray(np.minimum(flight, np.maximum(micro_batches, 1.0)))


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes per device, arrays over plans; `total` includes the reserved memory."""

    weights: FloatArray
    grads: FloatArray
    optimizer: FloatArray
    activations: FloatArray
    total: FloatArray


def training_memory(
    grid: PlanGrid,
    dense_params: FloatArray,
    expert_params: FloatArray,
    dp_group: FloatArray,
    expert_dp: FloatArray,
    stored_per_layer: FloatArray,
    full_layer: FloatArray,
    micro_batches: FloatArray,
    per_stage: FloatArray,
    last_stage: FloatArray,
    logits: FloatArray,
    grad_bytes: float = 4.0,
    rebuilt_share: FloatArray | None = None,
    offloaded: FloatArray | float = 0.0,
) -> TrainingMemory:
    """Memory of the fullest device: the first stage's activations or the last stage's
    layers plus its logits, whichever is larger, over the state of the stage's parameters
    (`dense_params` shard over `dp_group`, `expert_params` over the expert data-parallel
    group `expert_dp`).

    `stored_per_layer` and `full_layer`: bytes one micro-batch leaves stored in a layer at the
    plan's recompute level, and without recompute (the working layer full recompute rebuilds);
    `logits`: the loss's logits and their gradient on the last stage; `grad_bytes`: 4 for fp32
    gradient buffers, 2 for bf16; `rebuilt_share`: the share of a stage's layers rebuilt in the
    backward (default: all under full recompute, none otherwise), which holds one working layer
    whenever it is above zero; `offloaded`: layers per stage whose stored activations wait in
    host memory instead."""
    zero, pp = grid.zero, grid.pp
    copies = np.where(grid.schedule == SCHEDULE_CODES["dualpipe"], 2.0, 1.0)
    fsdp_pipelined = (zero == 3) & (pp > 1)

    def sharded(bytes_per_param: float, from_stage: int) -> FloatArray:
        """State of `bytes_per_param` sharded over its data-parallel group from ZeRO stage
        `from_stage` on (experts over their expert data-parallel group)."""
        on = zero >= from_stage
        if from_stage >= 2:
            on = on & ~fsdp_pipelined
        dense = dense_params / np.where(on, dp_group, 1.0)
        expert = expert_params / np.where(on, expert_dp, 1.0)
        return np.asarray((dense + expert) * bytes_per_param)

    weights = sharded(WEIGHT_BYTES, 3) * copies
    grads = sharded(grad_bytes, 2) * copies
    optimizer = sharded(OPTIMIZER_BYTES, 1)
    in_flight = in_flight_micro_batches(grid, micro_batches)
    if rebuilt_share is None:
        rebuilt_share = np.where(grid.recompute == RECOMPUTE_CODES["full"], 1.0, 0.0)
    # The layer being rebuilt (or, under per-operator checkpointing, the part of it recomputed)
    # lives beside the stored activations during its backward.
    op = grid.recompute == RECOMPUTE_CODES["op"]
    working = np.where(
        rebuilt_share > 0, full_layer, np.where(op, full_layer - stored_per_layer, 0.0)
    )
    first = in_flight * (per_stage - offloaded) * stored_per_layer + working
    last = stored_per_layer * np.maximum(last_stage - offloaded, 0.0) + logits
    activations = np.maximum(first, last)
    total = weights + grads + optimizer + activations + RESERVED_BYTES
    return TrainingMemory(weights, grads, optimizer, np.asarray(activations), np.asarray(total))
