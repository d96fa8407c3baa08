"""From step time to what a planner asks: tokens/s, days, chip-hours, energy and money.

Energy = chips x IT power per chip x time x PUE. Cost = chip-hours x price per chip-hour
(purchase price over its service life) + energy x energy price; where only a rental price is
known, chip-hours x rent, which already pays for power.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmscale.hardware import Cluster
from swarmscale.perf.compute import FloatArray
from swarmscale.workload import TrainingJob


@dataclass(frozen=True)
class TrainingTotals:
    """Arrays over plans. `time_s` and the totals need the job's token count; without it they
    describe one optimizer step. Cost is None when the chip's price is unknown."""

    step_s: FloatArray
    tokens_per_s: FloatArray
    steps: float
    time_s: FloatArray
    chip_hours: FloatArray
    power_w: FloatArray
    energy_kwh: FloatArray
    cost_usd: FloatArray | None
    cost_basis: str | None

    def at(self, index: int) -> dict[str, Any]:
        """Plain numbers for one plan, for tables and JSON."""
        return {
            "step_s": float(self.step_s[index]),
            "tokens_per_s": float(self.tokens_per_s[index]),
            "steps": self.steps,
            "time_s": float(self.time_s[index]),
            "time_days": float(self.time_s[index]) / 86400.0,
            "chip_hours": float(self.chip_hours[index]),
            "power_mw": float(self.power_w[index]) / 1e6,
            "energy_mwh": float(self.energy_kwh[index]) / 1e3,
            "cost_usd": None if self.cost_usd is None else float(self.cost_usd[index]),
            "cost_basis": self.cost_basis,
        }


def training_totals(
    job: TrainingJob, cluster: Cluster, step_s: FloatArray, chips: FloatArray
) -> TrainingTotals:
    """Totals for `job.tokens` tokens (one step when the job gives no token count)."""
    steps = job.steps if job.steps is not None else 1.0
    time_s = np.asarray(step_s * steps)
    chip_hours = chips * time_s / 3600.0
    power_w = chips * cluster.it_power_per_chip_w * cluster.assumptions.pue.require()
    energy_kwh = power_w * time_s / 3.6e6
    price = cluster.price_per_chip_hour_usd
    energy_price = cluster.assumptions.energy_price.require()
    energy_cost = 0.0 if cluster.cost_basis == "rent" else energy_kwh * energy_price
    cost = None if price is None else chip_hours * price + energy_cost
    return TrainingTotals(
        step_s=np.asarray(step_s),
        tokens_per_s=np.asarray(job.tokens_per_step / step_s),
        steps=steps,
        time_s=time_s,
        chip_hours=np.asarray(chip_hours),
        power_w=np.asarray(power_w),
        energy_kwh=np.asarray(energy_kwh),
        cost_usd=None if cost is None else np.asarray(cost),
        cost_basis=cluster.cost_basis,
    )
