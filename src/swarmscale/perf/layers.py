"""The shapes inside one transformer layer: which GEMMs it runs and how wide its tensors are.

Training and inference both start here, so a model's FLOPs, bytes and parameter counts all
come from one description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from swarmscale.catalog import Model
from swarmscale.perf.params import count_params

Split = Literal["n", "k", "none"]


@dataclass(frozen=True)
class Gemm:
    """A weight matrix (k x n) applied to every token; `split` is the dimension TP divides."""

    k: int
    n: int
    split: Split

    @property
    def params(self) -> int:
        return self.k * self.n


@dataclass(frozen=True)
class LayerShapes:
    """Per-layer geometry of a model, with the attention and FFN parts kept apart."""

    d_model: int
    attention: tuple[Gemm, ...]
    dense_mlp: tuple[Gemm, ...]
    expert: tuple[Gemm, ...]
    shared_experts: int
    experts: int
    active_experts: int
    moe_layers: int
    dense_layers: int
    qk_width: int
    v_width: int
    kv_width: int
    dense_act_width: int
    expert_act_width: int
    vocab: int
    model_flops_params: int
    routed_node_limit: int | None

    @property
    def layers(self) -> int:
        return self.moe_layers + self.dense_layers


def _mlp(d_model: int, hidden: int, activation: str) -> tuple[Gemm, ...]:
    up_width = 2 * hidden if activation == "swiglu" else hidden
    return (Gemm(d_model, up_width, "n"), Gemm(hidden, d_model, "k"))


def _attention(model: Model) -> tuple[tuple[Gemm, ...], int, int, int]:
    d, heads = model.d_model, model.heads
    if model.mla is not None:
        mla = model.mla
        qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        q: tuple[Gemm, ...] = (
            (Gemm(d, mla.q_lora_rank, "none"), Gemm(mla.q_lora_rank, heads * qk, "n"))
            if mla.q_lora_rank
            else (Gemm(d, heads * qk, "n"),)
        )
        gemms = (
            *q,
            Gemm(d, mla.kv_lora_rank + mla.qk_rope_head_dim, "none"),
            Gemm(mla.kv_lora_rank, heads * (mla.qk_nope_head_dim + mla.v_head_dim), "n"),
            Gemm(heads * mla.v_head_dim, d, "k"),
        )
        kv_width = mla.kv_lora_rank + mla.qk_rope_head_dim
        return gemms, heads * qk, heads * mla.v_head_dim, kv_width
    hd = model.attention_head_dim
    gemms = (Gemm(d, (heads + 2 * model.kv_heads) * hd, "n"), Gemm(heads * hd, d, "k"))
    return gemms, heads * hd, heads * hd, 2 * model.kv_heads * hd


def _unfused_mlp(d_model: int, hidden: int, activation: str) -> tuple[Gemm, ...]:
    """The FFN as a framework writes it: SwiGLU's gate (w1), up (w3) and down (w2)."""
    ups = (Gemm(d_model, hidden, "n"),) * (2 if activation == "swiglu" else 1)
    return (*ups, Gemm(hidden, d_model, "k"))


def block_linears(model: Model, moe_layer: bool) -> tuple[tuple[Gemm, float], ...]:
    """A block's matmuls one by one, in forward order, each with the inputs a token brings to
    it (the top-k for routed experts): Q, K, V and output projections (MLA's own chain), then
    the router, routed and shared experts of an MoE block or the dense FFN. Per-operator
    checkpointing (`perf/checkpoint.py`) counts them in this order."""
    attention, _, _, kv_width = _attention(model)
    if model.mla is None:
        qkv, out = attention
        kv = kv_width // 2
        attention = (Gemm(qkv.k, qkv.n - 2 * kv, "n"), Gemm(qkv.k, kv, "n"),
                     Gemm(qkv.k, kv, "n"), out)  # fmt: skip
    linears = [(gemm, 1.0) for gemm in attention]
    d, moe = model.d_model, model.moe
    if not moe_layer or moe is None:
        hidden = (moe.dense_ffn_hidden or model.ffn_hidden) if moe else model.ffn_hidden
        return (*linears, *((g, 1.0) for g in _unfused_mlp(d, hidden, model.activation)))
    expert = _unfused_mlp(d, moe.expert_ffn_hidden, model.activation)
    shared = _unfused_mlp(d, moe.expert_ffn_hidden * moe.shared_experts, model.activation)
    return (
        *linears,
        (Gemm(d, moe.experts, "none"), 1.0),
        *((g, float(moe.active_experts)) for g in expert),
        *((g, 1.0) for g in (shared if moe.shared_experts else ())),
    )


def layer_shapes(model: Model) -> LayerShapes:
    """Describe `model` layer by layer for the performance model."""
    attention, qk_width, v_width, kv_width = _attention(model)
    act_per_hidden = 3 if model.activation == "swiglu" else 2
    moe = model.moe
    counts = count_params(model)
    # The output projection is a vocab x d_model matmul whether or not it shares its weights
    # with the input embedding (a lookup, no FLOPs): tied models still pay for it.
    matmul_params = counts.active - counts.embedding - counts.lm_head - counts.final_norm
    matmul_params += model.vocab * model.d_model - counts.layers_total * counts.norms_per_layer
    if moe is None:
        dense_hidden = model.ffn_hidden
        expert: tuple[Gemm, ...] = ()
        experts = active = shared = moe_layers = 0
        expert_act = 0
        dense_layers = model.layers
    else:
        dense_hidden = moe.dense_ffn_hidden or model.ffn_hidden
        expert = _mlp(model.d_model, moe.expert_ffn_hidden, model.activation)
        experts, active, shared = moe.experts, moe.active_experts, moe.shared_experts
        moe_layers, dense_layers = model.layers - moe.dense_layers, moe.dense_layers
        expert_act = act_per_hidden * moe.expert_ffn_hidden
    return LayerShapes(
        d_model=model.d_model,
        attention=attention,
        dense_mlp=_mlp(model.d_model, dense_hidden, model.activation),
        expert=expert,
        shared_experts=shared,
        experts=experts,
        active_experts=active,
        moe_layers=moe_layers,
        dense_layers=dense_layers,
        qk_width=qk_width,
        v_width=v_width,
        kv_width=kv_width,
        dense_act_width=act_per_hidden * dense_hidden,
        expert_act_width=expert_act,
        vocab=model.vocab,
        model_flops_params=matmul_params,
        routed_node_limit=moe.routed_node_limit if moe else None,
    )
