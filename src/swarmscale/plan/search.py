"""Enumerate every plausible parallel plan as arrays, evaluate them at once, rank the feasible.

The space: tensor parallel degrees that divide the heads, context parallel degrees that divide
the sequence, pipeline depths that divide what is left of the chips, every micro-batch that
divides each data-parallel rank's share of the batch, expert parallel degrees for MoE models,
1F1B / interleaved / DualPipe schedules, three recompute levels and ZeRO stages 0-3. Fields the
caller fixes are held at their value. Plans may use fewer chips than offered (halves, quarters,
eighths) so that cost and energy objectives can prefer a smaller, better-scaling job.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from swarmscale.hardware import Cluster
from swarmscale.perf.plans import PLAN_KEYS, RECOMPUTE_CODES, SCHEDULE_CODES, Plan, PlanGrid
from swarmscale.perf.totals import training_totals
from swarmscale.perf.training import REASON_OOM, REASONS, TrainingArrays, evaluate_training
from swarmscale.workload import TrainingJob

Objective = Literal["time", "cost", "energy"]
OBJECTIVES: tuple[str, ...] = ("time", "cost", "energy")
MAX_MICRO_BATCH = 16
# Context parallelism pays off for long sequences; below 2K tokens per rank the GEMMs shrink
# past what the validation cases cover (Llama 3 used CP only at 128K, arXiv:2407.21783).
MIN_CP_CHUNK = 2048
CHIP_FRACTIONS = (1, 2, 4, 8)


def _divisors(n: int, limit: int | None = None) -> list[int]:
    top = n if limit is None else min(n, limit)
    return [d for d in range(1, top + 1) if n % d == 0]


def _powers_of_two(limit: int) -> list[int]:
    values, value = [], 1
    while value <= limit:
        values.append(value)
        value *= 2
    return values


def enumerate_plans(
    job: TrainingJob, cluster: Cluster, fixed: dict[str, Any], coarse: bool = False
) -> PlanGrid:
    """Every structurally sensible plan for `job` on up to `cluster.count` chips.

    `coarse` keeps the choices that win in practice (micro-batch 1-4, ZeRO 1 or 3, interleaving
    by 2, DualPipe only for MoE), for sweeps that run many searches; about 10x fewer plans.
    """
    model = job.model
    moe = model.moe
    rows: list[tuple[int, ...]] = []
    counts = [cluster.count // f for f in CHIP_FRACTIONS if cluster.count % f == 0]
    if "chips" in fixed:
        counts = [int(fixed["chips"])]
    tps = [t for t in _powers_of_two(min(model.heads, 64)) if model.heads % t == 0]
    cps = [
        c
        for c in _powers_of_two(64)
        if job.seq_len % (2 * c) == 0 and job.seq_len // c >= MIN_CP_CHUNK
    ]
    recomputes = [RECOMPUTE_CODES[r] for r in ("none", "selective", "full")]
    for count in counts:
        for tp, cp in itertools.product(_pick(fixed, "tp", tps), _pick(fixed, "cp", cps or [1])):
            if count % (tp * cp):
                continue
            rest = count // (tp * cp)
            for pp in _pick(fixed, "pp", _divisors(rest, model.layers)):
                if rest % pp:
                    continue
                dp = rest // pp
                if "dp" in fixed and fixed["dp"] != dp:
                    continue
                if job.global_batch % dp:
                    continue
                per_rank = job.global_batch // dp
                mbs = _pick(
                    fixed, "micro_batch", _divisors(per_rank, 4 if coarse else MAX_MICRO_BATCH)
                )
                eps = (
                    [1]
                    if moe is None
                    else [e for e in _powers_of_two(moe.experts) if (dp * cp) % e == 0]
                )
                schedules: list[tuple[int, int]] = [(SCHEDULE_CODES["1f1b"], 1)]
                if pp > 1:
                    schedules += [
                        (SCHEDULE_CODES["interleaved"], v)
                        for v in ((2,) if coarse else (2, 4))
                        if model.layers >= pp * v
                    ]
                if pp > 1 and pp % 2 == 0 and (moe is not None or not coarse):
                    schedules.append((SCHEDULE_CODES["dualpipe"], 1))
                schedules = [s for s in schedules if _schedule_allowed(fixed, s)]
                zeros = [z for z in ((1, 3) if coarse else (0, 1, 2, 3)) if pp == 1 or z < 3]
                for mb, ep, (schedule, vp), recompute, zero in itertools.product(
                    mbs,
                    _pick(fixed, "ep", eps),
                    schedules,
                    _pick(fixed, "recompute", recomputes),
                    _pick(fixed, "zero", zeros),
                ):
                    rows.append((tp, pp, dp, cp, ep, vp, mb, recompute, zero, schedule))
    if not rows:
        raise ValueError(
            f"no plan fits {cluster.count} chips with the fixed fields {fixed or '{}'}; "
            "check that tp x pp x dp x cp equals the chip count and the batch divides"
        )
    table = np.asarray(rows, dtype=np.int64)
    return PlanGrid(**{key: table[:, index] for index, key in enumerate(PLAN_KEYS)})


def usable_counts(chips: int) -> list[int]:
    """Chip counts a planner would really run on `chips` chips: all of them, or the largest
    count below with a friendlier factorisation (a multiple of 8, 16 or 32, or a power of
    two), since 100 = 4 x 25 admits few parallel layouts."""
    counts = {chips, 1 << (chips.bit_length() - 1)}
    counts.update(unit * (chips // unit) for unit in (8, 16, 32) if chips >= unit)
    return sorted(counts, reverse=True)


def _pick(fixed: dict[str, Any], key: str, options: list[int]) -> list[int]:
    if key not in fixed:
        return options
    value = fixed[key]
    if key == "recompute":
        return [RECOMPUTE_CODES[value]]
    return [int(value)]


def _schedule_allowed(fixed: dict[str, Any], schedule: tuple[int, int]) -> bool:
    code, vp = schedule
    if "schedule" in fixed and SCHEDULE_CODES[fixed["schedule"]] != code:
        return False
    return "vp" not in fixed or int(fixed["vp"]) == vp


BREAKDOWN_FIELDS = (
    "compute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s", "pp_comm_s", "dp_comm_s", "bubble_s",
    "optimizer_s", "weights_bytes", "grads_bytes", "optimizer_bytes", "activation_bytes",
    "memory_bytes",
)  # fmt: skip


@dataclass(frozen=True)
class RankedPlan:
    """One evaluated plan: the plan, its step breakdown, utilisation and totals."""

    plan: Plan
    breakdown: dict[str, float]
    mfu: float
    hfu: float
    totals: dict[str, Any]
    feasible: bool
    reason: str


@dataclass(frozen=True)
class SearchResult:
    """The best plan, the runners-up, and why the rest were rejected."""

    best: RankedPlan | None
    top: list[RankedPlan]
    evaluated: int
    feasible: int
    rejected: dict[str, int]
    arrays: TrainingArrays
    grid: PlanGrid


def _objective_values(
    job: TrainingJob, cluster: Cluster, arrays: TrainingArrays, grid: PlanGrid, objective: str
) -> np.ndarray:
    chips = (grid.tp * grid.pp * grid.dp * grid.cp).astype(float)
    if objective == "time":
        return np.asarray(arrays.step_s)
    totals = training_totals(job, cluster, arrays.step_s, chips)
    if objective == "energy":
        return np.asarray(totals.energy_kwh)
    if totals.cost_usd is None:
        raise ValueError(
            f"the price of {cluster.chip.id} is unknown in the catalog; rank by time or energy"
        )
    return np.asarray(totals.cost_usd)


def search(
    job: TrainingJob,
    cluster: Cluster,
    objective: str = "time",
    fixed: dict[str, Any] | None = None,
    top_k: int = 5,
    ignore_memory: bool = False,
    coarse: bool = False,
) -> SearchResult:
    """Evaluate every plan and rank the feasible ones by `objective` (time, cost or energy).

    `ignore_memory` also ranks plans that only fail the memory check (validation uses it to
    predict a published plan that the memory model would reject).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    fixed = dict(fixed or {})
    grid = enumerate_plans(job, cluster, fixed, coarse)
    arrays = evaluate_training(job, cluster, grid)
    feasible = arrays.feasible | (ignore_memory & (arrays.reason == REASON_OOM))
    score = _objective_values(job, cluster, arrays, grid, objective)
    score = np.where(feasible & np.isfinite(score), score, np.inf)
    order = np.argsort(score, kind="stable")[: max(top_k, 1)]
    top = [_ranked(job, cluster, arrays, grid, int(i)) for i in order if np.isfinite(score[i])]
    rejected = Counter(REASONS[int(code)] for code in arrays.reason[~feasible])
    return SearchResult(
        best=top[0] if top else None,
        top=top,
        evaluated=len(grid),
        feasible=int(arrays.feasible.sum()),
        rejected=dict(rejected.most_common()),
        arrays=arrays,
        grid=grid,
    )


def _ranked(
    job: TrainingJob, cluster: Cluster, arrays: TrainingArrays, grid: PlanGrid, index: int
) -> RankedPlan:
    plan = grid.plan(index)
    step_s = arrays.step_s[index : index + 1]
    totals = training_totals(job, cluster, step_s, np.asarray([float(plan.chips)]))
    peak_s = float(step_s[0]) * plan.chips * cluster.chip.peak_flops("bf16")
    code = int(arrays.reason[index])
    return RankedPlan(
        plan=plan,
        breakdown={name: float(getattr(arrays, name)[index]) for name in BREAKDOWN_FIELDS},
        mfu=arrays.model_flops / peak_s,
        hfu=float(arrays.hardware_flops[index]) / peak_s,
        totals=totals.at(0),
        feasible=code == 0,
        reason=REASONS[code],
    )


def evaluate_plan(job: TrainingJob, cluster: Cluster, plan: Plan) -> RankedPlan:
    """Evaluate one fixed plan, feasible or not (validation predicts what was run)."""
    grid = PlanGrid.from_plans([plan])
    arrays = evaluate_training(job, cluster, grid)
    return _ranked(job, cluster, arrays, grid, 0)
