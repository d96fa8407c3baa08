"""Kernel times from a roofline over a chip's peak, with named efficiencies.

A GEMM of shape (m, k) x (k, n) takes `2mkn / (peak * gemm)` when compute-bound and
`bytes / (bandwidth * memory)` when memory-bound. Real kernels blend the two near the ridge;
the `ROOFLINE_SHARPNESS` p-norm reproduces the H100 measurements in
shared/reference/h100-microbench.jsonl (m = 256..2048 at k = n = 8192) within about 10%,
where a hard max is up to 35% optimistic. All functions accept NumPy arrays.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from swarmscale.catalog import Chip, Efficiency, Precision
from swarmscale.perf.layers import Gemm

FloatArray = NDArray[np.float64]
ArrayLike = FloatArray | float

ROOFLINE_SHARPNESS = 2.5

# Unfused PyTorch moves each elementwise tensor about twice as often as fused kernels: an RMSNorm
# written as pow, mean, rsqrt-multiply and scale reads or writes the row 7 times against 2, a
# SwiGLU as silu then multiply 5 times against 3, a residual add 3 times either way.
EAGER_ELEMENTWISE_PASSES = 2.0

# Bytes per element of a quantised GEMM operand: FP8 one; NVFP4 and MXFP4 half a byte plus one
# scale per 16 or 32 values, about 4.5 bits.
QUANTISED_BYTES: dict[str, float] = {"fp8": 1.0, "fp4": 0.5625}

# Backward of a fused attention kernel recomputes the scores: five matmuls against the forward's
# two (Dao, FlashAttention-2, arXiv:2307.08691 section 3.1).
ATTENTION_BACKWARD_RATIO = 2.5

# A fused attention kernel reaches its plateau rate only when each query row attends many keys:
# the FlashAttention-2 forward+backward benchmarks (Dao-AILab/flash-attention README figures
# assets/flash2_a100_fwd_bwd_benchmark.png and flash2_h100_fwd_bwd_benchmark.png) follow
# plateau x k / (k + 256) in k, the keys per query (half the sequence when causal): causal head
# dim 128 on A100 reaches 99, 155 and 189 TFLOP/s at 512, 2k and 16k tokens (curve: 97, 156,
# 189 with a 195 plateau), on H100 163, 265 and 328 (curve: 170, 272, 335 with 340). Head dim
# 64 reaches 0.87 of head dim 128 on both chips (A100 171 vs 189, H100 284 vs 328 at 16k).
ATTENTION_HALF_KEYS = 256.0
ATTENTION_FULL_HEAD_DIM = 128.0
ATTENTION_HEAD_DIM_EXPONENT = 0.2


def blend(compute_s: ArrayLike, memory_s: ArrayLike) -> FloatArray:
    """Smooth maximum of a compute time and a memory time (p-norm)."""
    p = ROOFLINE_SHARPNESS
    return np.asarray((np.power(compute_s, p) + np.power(memory_s, p)) ** (1.0 / p))


@dataclass(frozen=True)
class GemmRates:
    """What the roofline of one chip's GEMMs at one precision needs, efficiencies applied:
    reachable FLOP/s and bytes/s, bytes per activation and per weight element, and the fixed
    cost of one kernel."""

    flops_per_s: float
    bytes_per_s: float
    act_bytes: float
    weight_bytes: float
    overhead_s: float


def gemm_time(m: ArrayLike, k: ArrayLike, n: ArrayLike, rates: GemmRates) -> FloatArray:
    """Seconds for one (m x k) @ (k x n) matrix multiply: tokens m times a k x n weight."""
    m = np.asarray(m, dtype=float)
    flops = 2.0 * m * k * n
    traffic = rates.act_bytes * (m * k + m * n) + rates.weight_bytes * np.asarray(k) * n
    return blend(flops / rates.flops_per_s, traffic / rates.bytes_per_s) + rates.overhead_s


def gemm_set_time(
    gemms: tuple[Gemm, ...], tokens: ArrayLike, tp: ArrayLike, rates: GemmRates
) -> FloatArray:
    """Seconds for `tokens` tokens through each weight of `gemms`, split over `tp` ranks along
    the dimension each weight names. The one GEMM path of training and serving."""
    tokens = np.asarray(tokens, dtype=float)
    total = np.zeros_like(tokens)
    for gemm in gemms:
        k = gemm.k / np.asarray(tp) if gemm.split == "k" else gemm.k
        n = gemm.n / np.asarray(tp) if gemm.split == "n" else gemm.n
        total = total + gemm_time(tokens, k, n, rates)
    return total


def compute_precision(chip: Chip, precision: str) -> Precision:
    """The tensor-core precision GEMMs run at: the requested one where the chip has that unit
    (int4 weights always dequantise to bf16: W4A16), else bf16 with weights dequantised on the
    fly (W8A16, as chips without FP8 serve FP8 checkpoints)."""
    wanted = "bf16" if precision == "int4" else precision
    quantity = getattr(chip.peak, wanted, None)
    return wanted if quantity is not None and quantity.value is not None else "bf16"  # type: ignore[return-value]


def gemm_efficiency(efficiency: Efficiency, precision: Precision) -> float:
    """The fraction of peak a large GEMM reaches at `precision`: fp8 and int8 use the 8-bit
    factor, block-scaled fp4 its own (it reaches less of its doubled peak)."""
    if precision == "fp4":
        return efficiency.gemm_fp4.require()
    if precision in ("fp8", "int8"):
        return efficiency.gemm_fp8.require()
    return efficiency.gemm.require()


def gemm_rates(
    chip: Chip,
    efficiency: Efficiency,
    precision: str,
    weight_bytes: float,
    act_bytes: float,
    overhead_s: float,
) -> GemmRates:
    """GEMM rates of `chip` running `precision` GEMMs (see `compute_precision`)."""
    unit = compute_precision(chip, precision)
    return GemmRates(
        flops_per_s=chip.peak_flops(unit) * gemm_efficiency(efficiency, unit),
        bytes_per_s=chip.memory_bandwidth.require() * efficiency.gemm_memory.require(),
        act_bytes=act_bytes,
        weight_bytes=weight_bytes,
        overhead_s=overhead_s,
    )


def sustained(rates: GemmRates, share: float) -> GemmRates:
    """`rates` at the `share` of the kernel benchmarks' tensor rate a whole step sustains
    (`training_sustained` or `serving_sustained`), where `gemm_rates` alone describes an
    isolated kernel."""
    return dataclasses.replace(rates, flops_per_s=rates.flops_per_s * share)


def attention_plateau(efficiency: Efficiency, tuned: bool) -> float:
    """The fused-attention plateau as a fraction of bf16 peak: FlashAttention-2-class kernels
    reach `attention`; the vendor's tuned kernels `attention_tuned_gain` times that."""
    gain = efficiency.attention_tuned_gain.require() if tuned else 1.0
    return efficiency.attention.require() * gain


def attention_share(keys_per_query: ArrayLike, head_dim: float) -> FloatArray:
    """The share of a fused attention kernel's plateau rate (the catalog's `attention`, long
    sequences at head dim 128) reached when each query attends `keys_per_query` keys."""
    keys = np.asarray(keys_per_query, dtype=float)
    width = min(1.0, head_dim / ATTENTION_FULL_HEAD_DIM) ** ATTENTION_HEAD_DIM_EXPONENT
    return np.asarray(keys / (keys + ATTENTION_HALF_KEYS) * width)


def attended_keys(seq_len: ArrayLike, window: int | None) -> FloatArray:
    """Keys a query attends on average in a causal sequence of `seq_len` tokens: half of it,
    or with a sliding window of W tokens, where a query at position p sees min(p, W) keys,
    W - W^2 / (2 s) once s > W (the continuous count, as s / 2 is without a window)."""
    seq = np.asarray(seq_len, dtype=float)
    if window is None:
        return np.asarray(seq / 2.0)
    w = float(window)
    return np.asarray(np.where(seq > w, w - w * w / (2.0 * np.maximum(seq, 1.0)), seq / 2.0))


def stream_time(bytes_moved: ArrayLike, *, mem_bw: float, mem_efficiency: float) -> FloatArray:
    """Seconds for memory-bound elementwise work (norms, activations, residual adds, optimizer)."""
    return np.asarray(bytes_moved / (mem_bw * mem_efficiency))
