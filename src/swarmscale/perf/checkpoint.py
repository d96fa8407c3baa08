"""Per-operator selective activation checkpointing (`recompute=op`), as torchtitan runs it.

torchtitan's `selective_ac_option = "op"` (torchtitan/parallelisms/parallelize_llama.py at
commit 9dec370, `_apply_ac_to_transformer_block` and its `_save_list`) keeps, inside each
transformer block, the outputs of the fused attention kernel, of reduce-scatters and of every
odd-numbered matmul in forward order, and recomputes the rest in the backward: the even-numbered
matmuls, norms, rotary embeddings and activation functions. On a Llama block (wq, wk, wv, wo,
w1, w3, w2) it keeps wq, wv, w1 and w2 and reruns wk, wo and w3. The block's input is kept as
the checkpoint's own input.

This differs from Megatron-LM's selective recompute (`recompute=selective`: only the attention
core is rerun) in both directions: it stores less, and reruns a share of the GEMMs.
"""

from __future__ import annotations

import numpy as np

from swarmscale.catalog import Model
from swarmscale.perf.compute import FloatArray
from swarmscale.perf.layers import Gemm, block_linears


def _kept(index: int) -> bool:
    """Matmuls are counted from one; every second one is recomputed."""
    return (index + 1) % 2 == 1


def rerun_share(model: Model, moe_layer: bool) -> float:
    """Share of a block's matmul FLOPs the backward reruns."""
    linears = block_linears(model, moe_layer)
    flops = [copies * gemm.params for gemm, copies in linears]
    rerun = sum(f for i, f in enumerate(flops) if not _kept(i))
    return rerun / sum(flops)


def rerun_params_per_token(model: Model) -> float:
    """Weights a token is multiplied by again in the backward, summed over the blocks (so the
    rerun costs 2x this many FLOPs per token)."""
    moe = model.moe
    moe_layers = 0 if moe is None else model.layers - moe.dense_layers
    total = 0.0
    for moe_layer, count in ((False, model.layers - moe_layers), (True, moe_layers)):
        if count:
            linears = block_linears(model, moe_layer)
            rerun = sum(c * g.params for i, (g, c) in enumerate(linears) if not _kept(i))
            total += count * rerun
    return total


def _output_width(gemm: Gemm, tp: FloatArray, sp: FloatArray) -> FloatArray:
    """Elements of a matmul's output one device keeps per token: a column-parallel output is
    split over the TP ranks, a row-parallel one is reduce-scattered over the sequence-parallel
    ranks, a replicated one is whole."""
    if gemm.split == "n":
        return np.asarray(gemm.n / tp)
    if gemm.split == "k":
        return np.asarray(gemm.n / sp)
    return np.asarray(gemm.n + np.zeros_like(tp))


def saved_elements_per_token(
    model: Model, moe_layer: bool, v_width: int, tp: FloatArray, sp: FloatArray
) -> FloatArray:
    """Activation elements one token leaves kept in one block: the block's input, the kept
    matmuls' outputs and the attention kernel's output."""
    linears = block_linears(model, moe_layer)
    kept = sum(
        copies * _output_width(gemm, tp, sp) for i, (gemm, copies) in enumerate(linears) if _kept(i)
    )
    return np.asarray(model.d_model / sp + kept + v_width / tp)
