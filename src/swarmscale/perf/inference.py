"""Prefill and decode step times, weight and KV-cache memory for one serving replica.

The same roofline as training (`perf/compute.py`): a decode step at small batch streams every
weight once and is memory-bound; a prefill multiplies thousands of tokens through the same
weights and is compute-bound. A replica spans `tp x pp` chips (`ep x pp` for an MoE model whose
experts spread over more chips than its attention, which then runs data-parallel, as DeepSeek
serves V3). All step functions take NumPy arrays of batch sizes or token counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmscale.hardware import Cluster
from swarmscale.perf.comm import all_reduce_time, expert_dispatch_time, group_links
from swarmscale.perf.compute import (
    EAGER_ELEMENTWISE_PASSES,
    QUANTISED_BYTES,
    ArrayLike,
    FloatArray,
    attended_keys,
    attention_plateau,
    attention_share,
    blend,
    gemm_rates,
    gemm_set_time,
    stream_time,
    sustained,
)
from swarmscale.perf.layers import Gemm, LayerShapes, layer_shapes
from swarmscale.perf.params import count_params
from swarmscale.workload import InferenceJob

WEIGHT_BYTES: dict[str, float] = {"bf16": 2.0, **QUANTISED_BYTES, "int8": 1.0, "int4": 0.5}
ACT_BYTES = 2.0
# Memory a serving engine keeps for itself (CUDA graphs, activations of the largest step,
# communicator buffers); TensorRT-LLM and vLLM give the KV cache 90% of what remains.
RESERVED_BYTES = 3.0e9
KV_CACHE_FRACTION = 0.9
ELEMENTWISE_KERNELS = 8


@dataclass(frozen=True)
class ServingPlan:
    """How one replica is split. `ep > tp` runs attention data-parallel over ep / tp groups."""

    tp: int = 1
    pp: int = 1
    ep: int = 1

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "ep"):
            if getattr(self, name) < 1:
                raise ValueError(f"serving plan field {name} must be at least 1")
        if self.ep > 1 and self.ep % self.tp:
            raise ValueError("serving plan: ep must be a multiple of tp")

    @property
    def chips(self) -> int:
        return max(self.tp, self.ep) * self.pp

    @property
    def attention_groups(self) -> int:
        return max(self.ep // self.tp, 1)

    def describe(self) -> str:
        parts = [f"tp={self.tp}", f"pp={self.pp}"]
        return " ".join([*parts, f"ep={self.ep}"] if self.ep > 1 else parts)


class ReplicaModel:
    """Step-time and memory functions of one replica, with everything per plan precomputed."""

    def __init__(self, job: InferenceJob, cluster: Cluster, plan: ServingPlan) -> None:
        model = job.model
        if model.moe is None and plan.ep > 1:
            raise ValueError(f"serving plan: ep={plan.ep} needs an MoE model, {model.id} is dense")
        if model.heads % plan.tp:
            raise ValueError(f"serving plan: tp={plan.tp} does not divide {model.heads} heads")
        if plan.pp > model.layers:
            raise ValueError(f"serving plan: pp={plan.pp} exceeds {model.layers} layers")
        if model.moe is not None and plan.ep > model.moe.experts:
            raise ValueError(f"serving plan: ep={plan.ep} exceeds the {model.moe.experts} experts")
        self.job, self.cluster, self.plan = job, cluster, plan
        self.shapes: LayerShapes = layer_shapes(model)
        chip, eff = cluster.chip, cluster.efficiency
        self.weight_bytes = WEIGHT_BYTES[job.precision]
        # Serving engines replay decode as CUDA/HIP graphs: no host launch per kernel; eager
        # PyTorch launches each kernel from the host and runs elementwise work unfused.
        eager = job.eager
        self.overhead = (eff.kernel_overhead if eager else eff.graph_kernel_overhead).require()
        self.elementwise_passes = EAGER_ELEMENTWISE_PASSES if eager else 1.0
        # A step's compute runs at the share of the kernel rates a serving step sustains.
        rates = gemm_rates(chip, eff, job.precision, self.weight_bytes, ACT_BYTES, self.overhead)
        share = eff.serving_sustained.require()
        self.rates = sustained(rates, share)
        plateau = attention_plateau(eff, job.tuned_attention)
        self.attn_peak = chip.peak_flops("bf16") * plateau * share
        self.mem_bw = chip.memory_bandwidth.require()
        self.mem_eff = eff.memory.require()
        # An engine's host work per step (scheduling, sampling); a bare graph replay has none.
        self.step_overhead = eff.serving_step_overhead.require() if job.serving_engine else 0.0
        self.kv_split = self._kv_split()
        self.kv_reads = self._kv_reads()
        self.tp_links = group_links(cluster, plan.tp, 1)
        self.ep_links = group_links(cluster, plan.ep, 1)
        self.stage_layers = int(np.ceil(model.layers / plan.pp))

    # ----- memory -------------------------------------------------------------------------

    def _kv_split(self) -> float:
        """How many TP ranks share one token's KV cache: GQA heads split up to kv_heads; the
        MLA latent is one vector per token, so every rank holds all of it."""
        if self.job.model.mla is not None:
            return 1.0
        return float(min(self.plan.tp, self.job.model.kv_heads))

    def _kv_reads(self) -> float:
        """Times a decode step reads each cached K and V element: once with a grouped kernel,
        once per query head sharing it with a per-head kernel (MLA's latent is shared by
        every head)."""
        model = self.job.model
        if not self.job.per_head_decode_attention or model.mla is not None:
            return 1.0
        return max(model.heads / self.plan.tp / (model.kv_heads / self.kv_split), 1.0)

    @property
    def local_experts(self) -> float:
        """Experts on one chip: an even share, rounded up where ep does not divide them (serving
        engines fill the spare slots with redundant copies of busy experts, as DeepSeek's EPLB
        places 288 expert slots for 256 experts on 144 GPUs)."""
        moe = self.job.model.moe
        if moe is None:
            return 0.0
        return float(-(-moe.experts // max(self.plan.ep, self.plan.tp)))

    @property
    def weights_bytes_per_chip(self) -> float:
        """Weights on the fullest chip of the replica."""
        counts = count_params(self.job.model)
        plan = self.plan
        if counts.experts == 0:
            return counts.total / plan.tp / plan.pp * self.weight_bytes
        expert = counts.experts * counts.expert_mlp * counts.moe_layers
        per_chip = (counts.total - expert) / plan.tp + counts.expert_mlp * counts.moe_layers * (
            self.local_experts
        )
        return per_chip / plan.pp * self.weight_bytes

    @property
    def kv_bytes_per_token(self) -> float:
        """KV-cache bytes one token of context takes on one chip of its stage."""
        return self.stage_layers * self.shapes.kv_width * self.job.kv_bytes / self.kv_split

    @property
    def kv_capacity_tokens(self) -> float:
        """Tokens of context the replica can hold, per attention group (0 when weights alone
        overflow the chips)."""
        free = self.cluster.chip.memory.require() - self.weights_bytes_per_chip - RESERVED_BYTES
        return max(free * KV_CACHE_FRACTION, 0.0) / self.kv_bytes_per_token

    def cached_tokens(self, context_tokens: ArrayLike) -> FloatArray:
        """Tokens of a sequence's context its KV cache holds: all of them, or the last
        `sliding_window` (TensorRT-LLM's cyclic KV cache, vLLM's sliding-window blocks)."""
        context = np.asarray(context_tokens, dtype=float)
        window = self.job.model.sliding_window
        return context if window is None else np.minimum(context, float(window))

    def max_batch(self, context_tokens: float) -> int:
        """Most sequences of `context_tokens` each the replica can hold at once."""
        per_group = self.kv_capacity_tokens / max(float(self.cached_tokens(context_tokens)), 1.0)
        return int(per_group) * self.plan.attention_groups

    # ----- time ---------------------------------------------------------------------------

    def _gemms(self, gemms: tuple[Gemm, ...], tokens: FloatArray, tp: int) -> FloatArray:
        return gemm_set_time(gemms, tokens, tp, self.rates)

    def _ffn(self, tokens: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Dense and MoE feed-forward compute of one layer for `tokens` tokens on one chip
        (the MoE layer's token exchange is `expert_exchange_s`)."""
        shapes, plan = self.shapes, self.plan
        dense = self._gemms(shapes.dense_mlp, tokens, plan.tp)
        if not shapes.experts:
            return dense, dense
        k, experts = shapes.active_experts, shapes.experts
        routed = tokens * plan.attention_groups * k  # expert inputs across the whole replica
        touched = self.local_experts * (
            1.0 - (1.0 - k / experts) ** (tokens * plan.attention_groups)
        )
        per_expert = (
            routed
            / experts
            / np.maximum(1.0 - (1.0 - k / experts) ** (tokens * plan.attention_groups), 1e-9)
        )
        expert_s = touched * self._gemms(shapes.expert, np.maximum(per_expert, 1.0), 1)
        shared = tuple(
            Gemm(g.k, g.n * shapes.shared_experts if g.split == "n" else g.n, g.split)
            for g in shapes.expert
        )
        moe = expert_s + (self._gemms(shared, tokens, plan.tp) if shapes.shared_experts else 0.0)
        moe = moe + self._gemms((Gemm(shapes.d_model, experts, "none"),), tokens, 1)
        return dense, moe

    def expert_exchange_s(self, tokens: FloatArray) -> FloatArray:
        """Dispatch and combine of one MoE layer's `tokens` over the ep ranks, as training
        charges them (`expert_dispatch_time`): the dispatch carries the quantised tokens the
        expert GEMMs take (DeepEP's FP8 dispatch), the combine the activations."""
        shapes, plan = self.shapes, self.plan
        if plan.ep == 1:
            return np.zeros_like(tokens)
        a2a = self.cluster.efficiency.all_to_all.require()
        k, limit = float(shapes.active_experts), shapes.routed_node_limit
        token = tokens * shapes.d_model
        dispatch_bytes = 1.0 if self.job.precision in ("fp8", "fp4") else self.job.act_bytes
        return expert_dispatch_time(
            token * dispatch_bytes, k, plan.ep, self.ep_links, a2a, limit
        ) + expert_dispatch_time(token * self.job.act_bytes, k, plan.ep, self.ep_links, a2a, limit)

    def _layer_common(self, tokens: FloatArray) -> FloatArray:
        """Attention projections, elementwise work, overheads and TP all-reduces of a layer."""
        shapes, plan = self.shapes, self.plan
        projections = self._gemms(shapes.attention, tokens, plan.tp)
        elems = tokens * (10.0 * shapes.d_model + 2.0 * shapes.qk_width / plan.tp)
        elementwise = stream_time(
            self.elementwise_passes * elems * ACT_BYTES,
            mem_bw=self.mem_bw,
            mem_efficiency=self.mem_eff,
        )
        tp_comm = 2.0 * all_reduce_time(tokens * shapes.d_model * ACT_BYTES, plan.tp, self.tp_links)
        return projections + elementwise + ELEMENTWISE_KERNELS * self.overhead + tp_comm

    def _stage_time(
        self, tokens: FloatArray, attention_s: FloatArray, head_tokens: FloatArray
    ) -> FloatArray:
        """One pipeline stage: its layers (dense and MoE in proportion) for `tokens` tokens,
        plus its share of the LM head for the `head_tokens` that need logits."""
        shapes = self.shapes
        common = self._layer_common(tokens)
        dense, moe = self._ffn(tokens)
        moe = moe + self.expert_exchange_s(tokens)
        share_moe = shapes.moe_layers / shapes.layers
        per_layer = common + attention_s + (1.0 - share_moe) * dense + share_moe * moe
        head = self._gemms((Gemm(shapes.d_model, shapes.vocab, "n"),), head_tokens, self.plan.tp)
        return self.stage_layers * per_layer + head / self.plan.pp

    def decode_attention_widths(self) -> float:
        """Multiply-adds per cached token and query token of a decode step's attention, over
        this rank's heads. MLA decodes in the absorbed form (DeepSeek-V2, arXiv:2405.04434
        sec. 2.1.2; FlashMLA): each head scores the 576-wide latent-plus-rope cache and sums
        the 512-wide latent, so its width is kv_lora + rope + kv_lora, not the decompressed
        q.k and v widths a prefill uses."""
        mla, heads = self.job.model.mla, self.job.model.heads / self.plan.tp
        if mla is None:
            return (self.shapes.qk_width + self.shapes.v_width) / self.plan.tp
        return heads * (2 * mla.kv_lora_rank + mla.qk_rope_head_dim)

    def decode_step_s(self, batch: ArrayLike, context_tokens: ArrayLike) -> FloatArray:
        """Seconds for every one of `batch` sequences to produce one token, when the batch holds
        `context_tokens` tokens of context in total (sum over its sequences)."""
        plan = self.plan
        groups = plan.attention_groups
        b = np.maximum(np.asarray(batch, dtype=float), 1.0) / groups / plan.pp
        # A sliding window caps the context each sequence reads at the window.
        ctx = b * self.cached_tokens(np.asarray(context_tokens, dtype=float) / groups / plan.pp / b)
        widths = self.decode_attention_widths()
        kv_read = stream_time(
            ctx * self.shapes.kv_width * self.job.kv_bytes / self.kv_split * self.kv_reads,
            mem_bw=self.mem_bw,
            mem_efficiency=self.mem_eff,
        )
        attention = blend(2.0 * ctx * widths / self.attn_peak, kv_read) + self.overhead
        return np.asarray(plan.pp * self._stage_time(b, attention, b) + self.step_overhead)

    def prefill_s(
        self, tokens: ArrayLike, sum_sq_tokens: ArrayLike, prompts: ArrayLike = 1.0
    ) -> FloatArray:
        """Seconds to prefill `prompts` prompts holding `tokens` tokens in total, whose lengths
        squared sum to `sum_sq_tokens`; prefix-cache hits skip the cached leading share."""
        plan = self.plan
        hit = self.job.prefix_hit
        groups = plan.attention_groups
        new = np.maximum(np.asarray(tokens, dtype=float) * (1.0 - hit), 1.0) / groups
        squares = np.asarray(sum_sq_tokens, dtype=float) * (1.0 - hit**2) / groups
        widths = (self.shapes.qk_width + self.shapes.v_width) / plan.tp
        # Causal attention of a prompt of length s costs about s^2 x widths FLOPs (2 x s^2/2);
        # its queries attend s/2 keys on average, sum(s^2) / sum(s) / 2 over the prompts.
        prompt = np.asarray(sum_sq_tokens, dtype=float) / np.maximum(tokens, 1.0)
        keys = np.maximum(prompt / 2.0, 1.0)
        # A sliding window leaves each query min(position, window) keys: the square's share.
        windowed = np.maximum(attended_keys(prompt, self.job.model.sliding_window), 1.0)
        share = attention_share(windowed, self.shapes.qk_width / self.job.model.heads)
        attention = squares * (windowed / keys) * widths / (self.attn_peak * share)
        # Serving engines compute logits for each prompt's last token; a plain forward for all.
        heads = new if self.job.all_prompt_logits else np.asarray(prompts, dtype=float) / groups
        heads = np.maximum(heads, 1.0)
        # A prompt batch crosses the stages one after the other (no pipelining within it).
        return np.asarray(plan.pp * self._stage_time(new, attention, heads) + self.step_overhead)
