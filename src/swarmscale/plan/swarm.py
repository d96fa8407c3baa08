"""Swarms: one training job swept from tens to a million chips of one kind.

At each size the best plan comes from the (coarse) plan search on the Llama 3 style fabric of
the catalog (full bisection within 3,072-chip pods, 1:7 above, 1:49 across buildings). The
global batch grows with the swarm, `tokens_per_chip` per chip per step at least, since a
fixed batch cannot keep a million chips busy (Llama 3 ran 16M-token batches on 16K GPUs, 1K
tokens per GPU). Goodput applies the chip failure rate and checkpoint costs; power splits into
chips, hosts and network, and cooling.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmscale.catalog import Catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.reliability import goodput
from swarmscale.plan.search import search
from swarmscale.workload import TrainingJob

DEFAULT_TOKENS_PER_CHIP = 1024


@dataclass(frozen=True)
class SwarmPoint:
    """One swarm size."""

    chip: str
    chips: int
    global_batch: int
    plan: str
    mfu: float
    tokens_per_s: float
    goodput: float
    effective_tokens_per_s: float
    chip_power_mw: float
    host_network_power_mw: float
    cooling_power_mw: float
    cost_usd_per_hour: float | None
    feasible: bool

    @property
    def power_mw(self) -> float:
        return self.chip_power_mw + self.host_network_power_mw + self.cooling_power_mw


def swarm_sizes(max_chips: int, min_chips: int = 64) -> list[int]:
    """Sizes from `min_chips` up by factors of 4, and `max_chips` itself."""
    sizes, size = [], min_chips
    while size < max_chips:
        sizes.append(size)
        size *= 4
    return [*sizes, max_chips]


def batch_sequences(batch_tokens: float, seq: int) -> int:
    """Sequences per step near `batch_tokens`, rounded to a multiple of a power of two so that
    data-parallel degrees can divide it (16e6 tokens at 8192 -> 2048, not 1953)."""
    exact = max(1.0, batch_tokens / seq)
    unit = 2 ** max(0, math.floor(math.log2(exact)) - 2)
    return int(max(unit, round(exact / unit) * unit))


def batch_for(chips: int, seq_len: int, base_batch: int, tokens_per_chip: int) -> int:
    """Sequences per step for a swarm of `chips`: at least the base batch and at least
    `tokens_per_chip` tokens per chip, with the chip count's odd factor in it so that data
    parallelism can use every chip."""
    target = max(base_batch, math.ceil(chips * tokens_per_chip / seq_len))
    odd = chips
    while odd % 2 == 0:
        odd //= 2
    power = max(0, math.ceil(math.log2(max(target / odd, 1.0))))
    return int(odd * 2**power)


def swarm_point(
    catalog: Catalog,
    job: TrainingJob,
    chip_id: str,
    chips: int,
    system_id: str | None,
    tokens_per_chip: int,
) -> SwarmPoint:
    cluster = build_cluster(catalog, chip_id, chips, system_id)
    batch = batch_for(chips, job.seq_len, job.global_batch, tokens_per_chip)
    sized = dataclasses.replace(job, global_batch=batch)
    result = search(sized, cluster, "time", {"chips": chips}, top_k=1, coarse=True)
    assumptions = cluster.assumptions
    load = assumptions.chip_load.require()
    chip_mw = chips * cluster.chip.tdp.require() * load / 1e6
    it_mw = chips * cluster.it_power_per_chip_w / 1e6
    cooling_mw = it_mw * (assumptions.pue.require() - 1.0)
    price = cluster.price_per_chip_hour_usd
    cost = (
        None
        if price is None
        else chips * price
        + (
            0.0
            if cluster.cost_basis == "rent"
            else (it_mw + cooling_mw) * 1e3 * assumptions.energy_price.require()
        )
    )
    fraction = float(
        goodput(
            chips,
            assumptions.failure_rate.require(),
            assumptions.checkpoint_write.require(),
            assumptions.restart.require(),
        ).fraction
    )
    best = result.best
    tokens = sized.tokens_per_step / float(best.totals["step_s"]) if best else 0.0
    return SwarmPoint(
        chip=cluster.chip.id, chips=chips, global_batch=batch,
        plan=best.plan.describe() if best else "no feasible plan: " + next(iter(result.rejected)),
        mfu=best.mfu if best else 0.0, tokens_per_s=tokens, goodput=fraction,
        effective_tokens_per_s=tokens * fraction, chip_power_mw=chip_mw,
        host_network_power_mw=it_mw - chip_mw, cooling_power_mw=cooling_mw,
        cost_usd_per_hour=cost, feasible=best is not None,
    )  # fmt: skip


def swarm_sweep(
    catalog: Catalog,
    job: TrainingJob,
    chip_id: str,
    max_chips: int,
    system_id: str | None = None,
    tokens_per_chip: int = DEFAULT_TOKENS_PER_CHIP,
    min_chips: int = 64,
) -> list[SwarmPoint]:
    """The swarm at every size of `swarm_sizes`."""
    if max_chips < 1:
        raise ValueError("max_chips must be at least 1")
    return [
        swarm_point(catalog, job, chip_id, size, system_id, tokens_per_chip)
        for size in swarm_sizes(max_chips, min(min_chips, max_chips))
    ]


def points_table(points: list[SwarmPoint]) -> list[dict[str, Any]]:
    return [{**dataclasses.asdict(p), "power_mw": p.power_mw} for p in points]


def scaling_efficiency(points: list[SwarmPoint]) -> np.ndarray:
    """Effective throughput per chip relative to the smallest swarm."""
    per_chip = np.asarray([p.effective_tokens_per_s / p.chips for p in points])
    return per_chip / per_chip[0] if per_chip[0] > 0 else per_chip
