"""Parameter counts of a transformer from its architecture, per block and in total.

The same per-block counts drive FLOPs and memory, so a model whose totals match the published
figure (tested per catalog model) has its bytes and FLOPs grounded too.
"""

from __future__ import annotations

from dataclasses import dataclass

from swarmscale.catalog.schemas import Model


@dataclass(frozen=True)
class ParamCounts:
    """Parameters by where they live; `active` counts what one token passes through."""

    embedding: int
    lm_head: int
    attention_per_layer: int
    dense_mlp_per_layer: int
    expert_mlp: int
    shared_expert_mlp: int
    router_per_layer: int
    norms_per_layer: int
    final_norm: int
    dense_layers: int
    moe_layers: int
    active_experts: int
    experts: int
    mtp: int

    @property
    def total(self) -> int:
        """Every parameter of the main model (multi-token-prediction modules excluded)."""
        moe_block = self.experts * self.expert_mlp + self.shared_expert_mlp + self.router_per_layer
        return (
            self.embedding
            + self.lm_head
            + self.final_norm
            + (self.dense_layers + self.moe_layers)
            * (self.attention_per_layer + self.norms_per_layer)
            + self.dense_layers * self.dense_mlp_per_layer
            + self.moe_layers * moe_block
        )

    @property
    def active(self) -> int:
        """Parameters one token uses: only the routed experts it is sent to."""
        inactive = (self.experts - self.active_experts) * self.expert_mlp * self.moe_layers
        return self.total - inactive

    @property
    def layers_total(self) -> int:
        return self.dense_layers + self.moe_layers

    @property
    def non_embedding(self) -> int:
        return self.total - self.embedding


def mlp_params(d_model: int, hidden: int, activation: str, bias: bool) -> int:
    """Weights of one feed-forward block: SwiGLU has three matrices, GELU two."""
    matrices = 3 if activation == "swiglu" else 2
    biases = (hidden * (matrices - 1) + d_model) if bias else 0
    return matrices * d_model * hidden + biases


def attention_params(model: Model) -> int:
    """Q, K, V and output projections; MLA (DeepSeek-V2/V3) uses low-rank down/up projections."""
    d, heads = model.d_model, model.heads
    if model.mla is not None:
        mla = model.mla
        qk_head = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        if mla.q_lora_rank is None:
            q = d * heads * qk_head
        else:
            q = d * mla.q_lora_rank + mla.q_lora_rank + mla.q_lora_rank * heads * qk_head
        kv_down = d * (mla.kv_lora_rank + mla.qk_rope_head_dim) + mla.kv_lora_rank
        kv_up = mla.kv_lora_rank * heads * (mla.qk_nope_head_dim + mla.v_head_dim)
        out = heads * mla.v_head_dim * d
        return q + kv_down + kv_up + out
    head_dim = model.attention_head_dim
    q = d * heads * head_dim
    kv = 2 * d * model.kv_heads * head_dim
    out = heads * head_dim * d
    bias = (heads * head_dim + 2 * model.kv_heads * head_dim + d) if model.linear_bias else 0
    return q + kv + out + bias


def norm_params(model: Model) -> int:
    """One normalisation layer: LayerNorm has a scale and a bias, RMSNorm a scale only."""
    return (2 if model.norm == "layernorm" else 1) * model.d_model


def count_params(model: Model) -> ParamCounts:
    """Break a catalog model into its parameter blocks."""
    d = model.d_model
    embedding = model.vocab * d + (model.max_seq_len * d if model.position == "learned" else 0)
    lm_head = 0 if model.tied_embeddings else model.vocab * d
    attention = attention_params(model)
    norms = 2 * norm_params(model)
    dense_mlp = mlp_params(d, model.ffn_hidden, model.activation, model.linear_bias)
    moe = model.moe
    if moe is None:
        dense_layers, moe_layers = model.layers, 0
        expert = shared = router = experts = active = 0
    else:
        dense_layers, moe_layers = moe.dense_layers, model.layers - moe.dense_layers
        dense_mlp = mlp_params(
            d, moe.dense_ffn_hidden or model.ffn_hidden, model.activation, model.linear_bias
        )
        expert = mlp_params(d, moe.expert_ffn_hidden, model.activation, False)
        shared = moe.shared_experts * expert
        router = d * moe.experts
        experts, active = moe.experts, moe.active_experts
    last_layer = dense_mlp if moe is None else experts * expert + shared + router
    # DeepSeek-V3 MTP module: one more block plus a 2d->d projection and two norms; it shares
    # the embedding and head (arXiv:2412.19437 section 2.2).
    mtp = model.mtp_layers * (attention + norms + last_layer + 2 * d * d + 2 * norm_params(model))
    return ParamCounts(
        embedding=embedding,
        lm_head=lm_head,
        attention_per_layer=attention,
        dense_mlp_per_layer=dense_mlp,
        expert_mlp=expert,
        shared_expert_mlp=shared,
        router_per_layer=router,
        norms_per_layer=norms,
        final_norm=norm_params(model),
        dense_layers=dense_layers,
        moe_layers=moe_layers,
        active_experts=active,
        experts=experts,
        mtp=mtp,
    )
