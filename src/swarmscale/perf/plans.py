"""Parallel plans: one `Plan` for people, a `PlanGrid` of NumPy arrays for vectorised search.

Rank layout (innermost first): tensor (tp), context (cp), data (dp), pipeline (pp), as in
Megatron-LM; expert parallelism (ep) is carved out of the dp x cp ranks. So a TP group spans
`tp` adjacent chips, a CP group has stride `tp`, a DP group stride `tp * cp`, and pipeline
neighbours are `tp * cp * dp` chips apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from swarmscale.catalog.schemas import RECOMPUTE_NAMES, SCHEDULE_NAMES, plan_field_problem
from swarmscale.workload import key_value_items

Recompute = Literal["none", "selective", "full", "partial", "op"]
Schedule = Literal["1f1b", "interleaved", "dualpipe"]
SCHEDULES: tuple[Schedule, ...] = ("1f1b", "interleaved", "dualpipe")
RECOMPUTE_CODES: dict[str, int] = {name: code for code, name in enumerate(RECOMPUTE_NAMES)}
SCHEDULE_CODES: dict[str, int] = {name: code for code, name in enumerate(SCHEDULE_NAMES)}
PLAN_KEYS = ("tp", "pp", "dp", "cp", "ep", "vp", "micro_batch", "recompute", "zero", "schedule")


@dataclass(frozen=True)
class Plan:
    """How one training job is split over chips."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    vp: int = 1
    micro_batch: int = 1
    recompute: Recompute = "none"
    zero: int = 1
    schedule: Schedule = "1f1b"

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "dp", "cp", "ep", "vp", "micro_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"plan field {name} must be at least 1, got {getattr(self, name)}")
        if self.zero not in (0, 1, 2, 3):
            raise ValueError(f"plan field zero must be 0, 1, 2 or 3, got {self.zero}")
        if self.recompute not in RECOMPUTE_CODES:
            raise ValueError(f"plan field recompute must be one of {list(RECOMPUTE_CODES)}")
        if self.schedule not in SCHEDULE_CODES:
            raise ValueError(f"plan field schedule must be one of {list(SCHEDULE_CODES)}")

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.dp * self.cp

    def describe(self) -> str:
        parts = [f"tp={self.tp}", f"pp={self.pp}", f"dp={self.dp}"]
        parts += [f"{k}={getattr(self, k)}" for k in ("cp", "ep", "vp") if getattr(self, k) > 1]
        parts += [f"mb={self.micro_batch}", f"recompute={self.recompute}", f"zero={self.zero}"]
        if self.schedule != "1f1b":
            parts.append(f"schedule={self.schedule}")
        return " ".join(parts)


IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class PlanGrid:
    """Many plans as parallel integer arrays (one element per plan)."""

    tp: IntArray
    pp: IntArray
    dp: IntArray
    cp: IntArray
    ep: IntArray
    vp: IntArray
    micro_batch: IntArray
    recompute: IntArray
    zero: IntArray
    schedule: IntArray

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    @classmethod
    def from_plans(cls, plans: list[Plan]) -> PlanGrid:
        columns: dict[str, list[int]] = {name: [] for name in PLAN_KEYS}
        for plan in plans:
            for name in PLAN_KEYS:
                value = getattr(plan, name)
                if name == "recompute":
                    value = RECOMPUTE_CODES[value]
                elif name == "schedule":
                    value = SCHEDULE_CODES[value]
                columns[name].append(int(value))
        return cls(**{name: np.asarray(values, dtype=np.int64) for name, values in columns.items()})

    def plan(self, index: int) -> Plan:
        """The plan at `index`, back as a readable `Plan`."""
        recompute = {code: name for name, code in RECOMPUTE_CODES.items()}
        schedule = {code: name for name, code in SCHEDULE_CODES.items()}
        return Plan(
            tp=int(self.tp[index]),
            pp=int(self.pp[index]),
            dp=int(self.dp[index]),
            cp=int(self.cp[index]),
            ep=int(self.ep[index]),
            vp=int(self.vp[index]),
            micro_batch=int(self.micro_batch[index]),
            recompute=recompute[int(self.recompute[index])],  # type: ignore[arg-type]
            zero=int(self.zero[index]),
            schedule=schedule[int(self.schedule[index])],  # type: ignore[arg-type]
        )

    def take(self, mask: NDArray[np.bool_] | IntArray) -> PlanGrid:
        return PlanGrid(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})


def parse_plan(text: str) -> dict[str, int | str]:
    """Parse `tp=8,pp=16,recompute=full` into fixed plan fields, with errors naming the field."""
    fixed: dict[str, int | str] = {}
    for key, raw in key_value_items(text, "plan"):
        key = "micro_batch" if key == "mb" else key
        if key in fixed:
            raise ValueError(f"plan field {key} is given twice; give each field once")
        value: int | str = int(raw) if raw.isdigit() else raw
        problem = plan_field_problem(key, value)
        if problem:
            raise ValueError(f"plan field {problem}")
        fixed[key] = value
    return fixed
