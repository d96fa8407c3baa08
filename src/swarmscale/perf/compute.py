"""Kernel times from a roofline over a chip's peak, with named efficiencies.

A GEMM of shape (m, k) x (k, n) takes `2mkn / (peak * gemm)` when compute-bound and
`bytes / (bandwidth * memory)` when memory-bound. Real kernels blend the two near the ridge;
the `ROOFLINE_SHARPNESS` p-norm reproduces the H100 measurements in
shared/reference/h100-microbench.jsonl (m = 256..2048 at k = n = 8192) within about 10%,
where a hard max is up to 35% optimistic. All functions accept NumPy arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
ArrayLike = FloatArray | float

ROOFLINE_SHARPNESS = 2.5

# Backward of a fused attention kernel recomputes the scores: five matmuls against the forward's
# two (Dao, FlashAttention-2, arXiv:2307.08691 section 3.1).
ATTENTION_BACKWARD_RATIO = 2.5


def blend(compute_s: ArrayLike, memory_s: ArrayLike) -> FloatArray:
    """Smooth maximum of a compute time and a memory time (p-norm)."""
    p = ROOFLINE_SHARPNESS
    return np.asarray((np.power(compute_s, p) + np.power(memory_s, p)) ** (1.0 / p))


def gemm_time(
    m: ArrayLike,
    k: ArrayLike,
    n: ArrayLike,
    *,
    peak_flops: float,
    gemm_efficiency: float,
    mem_bw: float,
    mem_efficiency: float,
    bytes_per_element: float,
    overhead_s: float,
) -> FloatArray:
    """Seconds for one (m x k) @ (k x n) matrix multiply, including a launch overhead."""
    flops = 2.0 * np.asarray(m) * k * n
    traffic = bytes_per_element * (np.asarray(m) * k + np.asarray(k) * n + np.asarray(m) * n)
    compute_s = flops / (peak_flops * gemm_efficiency)
    memory_s = traffic / (mem_bw * mem_efficiency)
    return blend(compute_s, memory_s) + overhead_s


def stream_time(bytes_moved: ArrayLike, *, mem_bw: float, mem_efficiency: float) -> FloatArray:
    """Seconds for memory-bound elementwise work (norms, activations, residual adds, optimizer)."""
    return np.asarray(bytes_moved / (mem_bw * mem_efficiency))
