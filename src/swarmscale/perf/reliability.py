"""Goodput of a large job under chip failures, with periodic checkpoints (Young 1974).

A job on N chips that each fail at rate lambda per hour is interrupted every
MTBF = 1 / (N lambda) hours on average. Checkpointing every tau seconds costs delta / tau of
the time; each failure loses half an interval of work plus the restart time R. The interval
that minimises the total is Young's tau* = sqrt(2 delta MTBF), so
waste = delta / tau* + (tau* / 2 + R) / MTBF, and goodput = 1 - waste. It falls with N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmscale.perf.compute import ArrayLike, FloatArray


@dataclass(frozen=True)
class Goodput:
    """Arrays over chip counts."""

    fraction: FloatArray
    checkpoint_interval_s: FloatArray
    mtbf_s: FloatArray


def goodput(
    chips: ArrayLike, failure_rate_per_hour: float, checkpoint_s: float, restart_s: float
) -> Goodput:
    """Share of wall time that advances training, at the best checkpoint interval."""
    n = np.asarray(chips, dtype=float)
    mtbf_s = 3600.0 / (np.maximum(n, 1.0) * failure_rate_per_hour)
    interval = np.sqrt(2.0 * checkpoint_s * mtbf_s)
    waste = checkpoint_s / interval + (interval / 2.0 + restart_s) / mtbf_s
    return Goodput(np.clip(1.0 - waste, 0.0, 1.0), interval, mtbf_s)
