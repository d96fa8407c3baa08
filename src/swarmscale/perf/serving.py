"""Steady-state serving of one replica with continuous batching, from its step times.

A replica alternates prefills (one per arriving request) and decode steps (one token for every
running sequence). At request rate `rate` with prompts of `input_len` and answers of
`output_len` tokens:
  - prefill keeps the replica busy a share rho = rate x t_prefill of the time;
  - the running batch B settles where decode keeps up: (1 - rho) B / t_decode(B) = rate x O;
  - time per output token TPOT = t_decode(B) / (1 - rho), since prefills pause decoding;
  - time to first token TTFT = t_prefill + the M/D/1 wait for the prefill server
    rho t_prefill / (2 (1 - rho)) + half a decode step for the one under way.
This is the analytical steady state the discrete-event simulator (`sim/serving.py`) is checked
against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmscale.perf.compute import ArrayLike, FloatArray
from swarmscale.perf.inference import ReplicaModel

MAX_SEARCH_BATCH = 8192
PREFILL_TOKEN_BUDGET = 2048  # prompt tokens per iteration (vLLM chunked-prefill default)


@dataclass(frozen=True)
class SteadyState:
    """One replica at one request rate."""

    rate: float
    batch: float
    ttft_s: float
    tpot_s: float
    prefill_share: float
    output_tokens_per_s: float
    feasible: bool
    limit: str


def _batch_grid(replica: ReplicaModel, context: float) -> np.ndarray:
    top = min(replica.max_batch(context), MAX_SEARCH_BATCH)
    if top < 1:
        return np.zeros(0)
    return np.unique(
        np.concatenate([np.arange(1, min(top, 64) + 1), np.geomspace(1, top, 200).round()])
    ).astype(float)


def steady_state(
    replica: ReplicaModel, rate: float, input_len: int, output_len: int, prefill_here: bool = True
) -> SteadyState:
    """The replica's batch, TTFT and TPOT when requests arrive at `rate` per second.

    `prefill_here=False` describes a decode-only replica of a disaggregated deployment: no
    prefill pauses its decoding, and its TTFT is left to the prefill pool."""
    prefill = float(replica.prefill_s(input_len, float(input_len) ** 2))
    rho = rate * prefill if prefill_here else 0.0
    context = input_len + output_len
    grid = _batch_grid(replica, context)
    if grid.size == 0:
        return SteadyState(rate, 0.0, np.inf, np.inf, rho, 0.0, False, "memory (weights)")
    if rho >= 1.0:
        return SteadyState(rate, 0.0, np.inf, np.inf, rho, 0.0, False, "prefill saturated")
    decode = replica.decode_step_s(grid, grid * (input_len + output_len / 2.0))
    supply = (1.0 - rho) * grid / decode
    enough = np.nonzero(supply >= rate * output_len)[0]
    if enough.size == 0:
        best = int(np.argmax(supply))
        return SteadyState(
            rate,
            float(grid[best]),
            np.inf,
            np.inf,
            rho,
            float(supply[best]),
            False,
            "decode saturated (memory or compute)",
        )
    index = int(enough[0])
    tpot = float(decode[index]) / (1.0 - rho)
    ttft = first_token_s(prefill, rho, float(decode[index])) if prefill_here else 0.0
    return SteadyState(rate, float(grid[index]), ttft, tpot, rho, rate * output_len, True, "")


def prefill_wait(prefill_s: float, utilisation: float) -> float:
    """Time to first token from a prefill server busy `utilisation` of the time (M/D/1)."""
    return prefill_s + utilisation * prefill_s / (2.0 * (1.0 - utilisation))


def first_token_s(prefill_s: float, utilisation: float, step_s: float) -> float:
    """Time to first token at a replica whose prefills keep it busy `utilisation` of the time:
    the M/D/1 prefill wait plus half the `step_s` step under way when the request arrives."""
    return prefill_wait(prefill_s, utilisation) + step_s / 2.0


def prompts_per_chunk(input_len: int, queued: ArrayLike) -> FloatArray:
    """Queued prompts of `input_len` tokens one prefill pass takes: as many as fit in
    PREFILL_TOKEN_BUDGET tokens, at least one, at most the `queued` ones."""
    return np.asarray(np.clip(PREFILL_TOKEN_BUDGET // input_len, 1.0, queued), dtype=float)


def chunk_prefill_s(replica: ReplicaModel, input_len: int, prompts: ArrayLike) -> FloatArray:
    """Seconds to prefill `prompts` prompts of `input_len` tokens together."""
    prompts = np.asarray(prompts, dtype=float)
    return replica.prefill_s(prompts * input_len, prompts * float(input_len) ** 2, prompts)


def offline_throughput(
    replica: ReplicaModel,
    input_len: int,
    output_len: int,
    batch: int | None = None,
    tpot_limit_s: float | None = None,
) -> tuple[float, float, float]:
    """Output tokens/s of a replica kept full (all requests queued at once), the batch it runs,
    and its TPOT. Each finished sequence is replaced by a prefill, so per request the replica
    spends `output_len x t_decode(B) / B + t_prefill / prompts per chunk`: queued prompts are
    prefilled together up to PREFILL_TOKEN_BUDGET tokens, as the simulator does, so short
    prompts share one read of the weights. `tpot_limit_s` keeps only batches whose TPOT meets
    it (a latency-bound serving scenario)."""
    grid = (
        _batch_grid(replica, input_len + output_len)
        if batch is None
        else np.asarray([float(batch)])
    )
    if grid.size == 0:
        return 0.0, 0.0, float("inf")
    per_chunk = prompts_per_chunk(input_len, grid)
    prefill = chunk_prefill_s(replica, input_len, per_chunk) / per_chunk
    decode = replica.decode_step_s(grid, grid * (input_len + output_len / 2.0))
    throughput = output_len / (output_len * decode / grid + prefill)
    tpots = decode + grid * prefill / output_len
    if tpot_limit_s is not None:
        throughput = np.where(tpots <= tpot_limit_s, throughput, 0.0)
    best = int(np.argmax(throughput))
    return float(throughput[best]), float(grid[best]), float(tpots[best])


def max_rate(
    replica: ReplicaModel,
    input_len: int,
    output_len: int,
    ttft_s: float,
    tpot_s: float,
    prefill_here: bool = True,
) -> tuple[float, SteadyState | None, str]:
    """Highest request rate the replica serves within both latency targets, its steady state,
    and (when even a trickle misses them) which target binds."""
    low_state = steady_state(replica, 1e-6, input_len, output_len, prefill_here)
    if not low_state.feasible:
        return 0.0, None, low_state.limit
    if low_state.ttft_s > ttft_s:
        return 0.0, None, f"TTFT: even one request takes {low_state.ttft_s:.3g} s to first token"
    if low_state.tpot_s > tpot_s:
        return 0.0, None, f"TPOT: even batch 1 takes {low_state.tpot_s:.3g} s per token"

    def meets(rate: float) -> bool:
        state = steady_state(replica, rate, input_len, output_len, prefill_here)
        return state.feasible and state.ttft_s <= ttft_s and state.tpot_s <= tpot_s

    low, high = 1e-6, 1.0
    while meets(high) and high < 1e7:
        low, high = high, high * 2.0
    for _ in range(40):
        middle = (low + high) / 2.0
        low, high = (middle, high) if meets(middle) else (low, middle)
    return low, steady_state(replica, low, input_len, output_len, prefill_here), ""


def max_prefill_rate(replica: ReplicaModel, input_len: int, ttft_s: float) -> float:
    """Highest request rate a prefill-only replica serves within the TTFT target."""
    prefill = float(replica.prefill_s(input_len, float(input_len) ** 2))
    if prefill > ttft_s:
        return 0.0
    low, high = 0.0, 1.0 / prefill
    for _ in range(50):
        middle = (low + high) / 2.0
        ok = middle * prefill < 1.0 and prefill_wait(prefill, middle * prefill) <= ttft_s
        low, high = (middle, high) if ok else (low, middle)
    return low
