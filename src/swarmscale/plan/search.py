"""Enumerate every plausible parallel plan as arrays, evaluate them at once, rank the feasible.

The space: tensor parallel degrees that divide the heads, context parallel degrees that divide
the sequence, pipeline depths that divide what is left of the chips, every micro-batch that
divides each data-parallel rank's share of the batch, expert parallel degrees for MoE models,
1F1B / interleaved / DualPipe schedules, four recompute levels and ZeRO stages 0-3. Fields the
caller fixes are held at their value. Plans may use fewer chips than offered (halves, quarters,
eighths) so that cost and energy objectives can prefer a smaller, better-scaling job.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from swarmscale.hardware import Cluster
from swarmscale.perf.plans import (
    PLAN_KEYS,
    RECOMPUTE_CODES,
    SCHEDULE_CODES,
    SCHEDULES,
    Plan,
    PlanGrid,
    Schedule,
)
from swarmscale.perf.totals import training_totals
from swarmscale.perf.training import TrainingArrays, evaluate_training
from swarmscale.perf.validity import (
    OOM_CODE,
    REASONS,
    balanced_pp,
    expert_ranks,
    largest_stage,
)
from swarmscale.workload import TrainingJob

Objective = Literal["time", "cost", "energy"]
OBJECTIVES: tuple[str, ...] = ("time", "cost", "energy")
MAX_MICRO_BATCH = 16
MAX_VP = 8  # virtual pipeline stages per device the search offers (a fixed vp may be larger)
# Context parallelism pays off for long sequences; below 2K tokens per rank the GEMMs shrink
# past what the validation cases cover (Llama 3 used CP only at 128K, arXiv:2407.21783).
MIN_CP_CHUNK = 2048
CHIP_FRACTIONS = (1, 2, 4, 8)
NEARBY_PROBES = 4  # layout-admitting counts an error message tries on each side


def _divisors(n: int, limit: int | None = None) -> list[int]:
    """Divisors of `n` up to `limit`, ascending, in O(min(limit, sqrt n)): batches reach 10^9
    sequences."""
    root = math.isqrt(n)
    if limit is not None and limit <= root:
        return [d for d in range(1, limit + 1) if n % d == 0]
    small = [d for d in range(1, root + 1) if n % d == 0]
    every = sorted({*small, *(n // d for d in small)})
    return every if limit is None else [d for d in every if d <= limit]


def _powers_of_two(limit: int) -> list[int]:
    values, value = [], 1
    while value <= limit:
        values.append(value)
        value *= 2
    return values


class NoPlanError(ValueError):
    """No (tp, cp, pp, dp) layout multiplies to the chip count under the batch and fixed fields."""


def _tp_options(job: TrainingJob, fixed: dict[str, Any]) -> list[int]:
    heads = job.model.heads
    return _pick(fixed, "tp", [t for t in _powers_of_two(min(heads, 64)) if heads % t == 0])


def _cp_options(job: TrainingJob, fixed: dict[str, Any]) -> list[int]:
    cps = [
        c
        for c in _powers_of_two(64)
        if job.seq_len % (2 * c) == 0 and job.seq_len // c >= MIN_CP_CHUNK
    ]
    return _pick(fixed, "cp", cps or [1])


def _pp_options(job: TrainingJob, fixed: dict[str, Any]) -> list[int]:
    """Balanced splits (see `balanced_pp`); a fixed pp may be uneven (up to one layer per
    stage in the layers)."""
    layers = job.model.layers
    return _pick(fixed, "pp", [p for p in range(1, layers + 1) if balanced_pp(layers, p)])


def _dp_allowed(job: TrainingJob, fixed: dict[str, Any], dp: int) -> bool:
    """dp divides the global batch (frameworks assert it); a fixed dp may leave a remainder,
    run as the framework rounds the batch (see `perf.validity.micro_batches`)."""
    if "dp" in fixed:
        return int(fixed["dp"]) == dp
    return job.global_batch % dp == 0


def _vp_options(job: TrainingJob, pp: int, coarse: bool) -> tuple[int, ...]:
    """Virtual stages per device that divide the layers of the largest stage (the stage the
    interleaving rule in `perf.validity` checks)."""
    per_stage = largest_stage(job.model.layers, pp)
    return tuple(v for v in ((2,) if coarse else range(2, MAX_VP + 1)) if per_stage % v == 0)


def enumerate_plans(
    job: TrainingJob,
    cluster: Cluster,
    fixed: dict[str, Any],
    coarse: bool = False,
    schedules: tuple[Schedule, ...] = SCHEDULES,
) -> PlanGrid:
    """Every structurally sensible plan for `job` on up to `cluster.count` chips, with one of
    `schedules` (those its framework runs).

    `coarse` keeps the choices that win in practice (micro-batch 1-4, ZeRO 1 or 3, interleaving
    by 2, DualPipe only for MoE), for sweeps that run many searches; about 10x fewer plans.
    """
    model = job.model
    moe = model.moe
    rows: list[tuple[int, ...]] = []
    counts = [cluster.count // f for f in CHIP_FRACTIONS if cluster.count % f == 0]
    if "chips" in fixed:
        counts = [int(fixed["chips"])]
    layouts = list(itertools.product(_tp_options(job, fixed), _cp_options(job, fixed)))
    pps = _pp_options(job, fixed)
    recomputes = [RECOMPUTE_CODES[r] for r in ("none", "selective", "full", "partial")]
    dualpipe = "dualpipe" in schedules and (moe is not None or not coarse)
    for count in counts:
        for tp, cp in layouts:
            if count % (tp * cp):
                continue
            rest = count // (tp * cp)
            for pp in pps:
                if rest % pp or not _dp_allowed(job, fixed, rest // pp):
                    continue
                dp = rest // pp
                per_rank = max(job.global_batch // dp, 1)
                mbs = _pick(
                    fixed, "micro_batch", _divisors(per_rank, 4 if coarse else MAX_MICRO_BATCH)
                )
                spanned = expert_ranks(job, tp, dp, cp)
                eps = (
                    [1]
                    if moe is None
                    else [e for e in _powers_of_two(moe.experts) if spanned % e == 0]
                )
                options: list[tuple[int, int]] = [(SCHEDULE_CODES["1f1b"], 1)]
                if pp > 1 and "interleaved" in schedules:
                    vps = (int(fixed["vp"]),) if "vp" in fixed else _vp_options(job, pp, coarse)
                    options += [(SCHEDULE_CODES["interleaved"], v) for v in vps if v > 1]
                if pp > 1 and pp % 2 == 0 and dualpipe:
                    options.append((SCHEDULE_CODES["dualpipe"], 1))
                options = [s for s in options if _schedule_allowed(fixed, s)]
                zeros = [1, 3] if coarse else [0, 1, 2, 3]
                for mb, ep, (schedule, vp), recompute, zero in itertools.product(
                    mbs,
                    _pick(fixed, "ep", eps),
                    options,
                    _pick(fixed, "recompute", recomputes),
                    _pick(fixed, "zero", zeros),
                ):
                    rows.append((tp, pp, dp, cp, ep, vp, mb, recompute, zero, schedule))
    if not rows:
        raise NoPlanError(_no_plan_text(job, counts[0], fixed))
    table = np.asarray(rows, dtype=np.int64)
    return PlanGrid(**{key: table[:, index] for index, key in enumerate(PLAN_KEYS)})


def _no_plan_text(job: TrainingJob, chips: int, fixed: dict[str, Any]) -> str:
    fields = ",".join(f"{k}={v}" for k, v in fixed.items() if k != "chips")
    return (
        f"no plan fits exactly {chips:,} chips for {job.model.id} with a global batch of "
        f"{job.global_batch:,} sequences" + (f" and the fixed fields {fields}" if fields else "")
    )


def plan_counts(job: TrainingJob, fixed: dict[str, Any], low: int, high: int) -> list[int]:
    """Chip counts in [low, high] that some tp x cp x pp x dp layout of `enumerate_plans` uses
    exactly; memory or the network may still reject every plan on one of them."""
    dps = [d for d in _divisors(job.global_batch) if _dp_allowed(job, fixed, d)]
    axes = [_tp_options(job, fixed), _cp_options(job, fixed), _pp_options(job, fixed), dps]
    products = np.ones(1, dtype=np.int64)
    for axis in axes:
        products = np.unique(np.multiply.outer(products, np.asarray(axis, dtype=np.int64)))
        products = products[products <= high]
    return [int(c) for c in products if c >= low]


def nearby_counts(
    job: TrainingJob, cluster: Cluster, fixed: dict[str, Any], probes: int = NEARBY_PROBES
) -> tuple[int | None, int | None]:
    """The nearest chip counts below and above `cluster.count` with a feasible plan, trying at
    most `probes` layout-admitting counts on each side (coarse searches): for error messages."""
    chips = cluster.count
    counts = plan_counts(job, fixed, 1, 2 * chips)
    below = [c for c in reversed(counts) if c < chips][:probes]
    above = [c for c in counts if c > chips][:probes]
    return _first_feasible(job, cluster, fixed, below), _first_feasible(job, cluster, fixed, above)


def _first_feasible(
    job: TrainingJob, cluster: Cluster, fixed: dict[str, Any], counts: list[int]
) -> int | None:
    for count in counts:
        resized = with_count(cluster, count)
        try:
            result = search(job, resized, "time", {**fixed, "chips": count}, top_k=1, coarse=True)
        except NoPlanError:  # a layout, but the other fixed fields leave no plan on it
            continue
        if result.best is not None:
            return count
    return None


def with_count(cluster: Cluster, count: int) -> Cluster:
    """`cluster` with `count` chips, its scale-up domain cut to them as `build_cluster` cuts it
    (exact for counts up to the one it was built with)."""
    return dataclasses.replace(cluster, count=count, domain_size=min(cluster.domain_size, count))


def no_plan_message(job: TrainingJob, cluster: Cluster, fixed: dict[str, Any]) -> str:
    """Why no plan runs on exactly `cluster.count` chips, and the nearest counts that do."""
    found = [c for c in nearby_counts(job, cluster, fixed) if c is not None]
    if not found:
        return (
            f"{_no_plan_text(job, cluster.count, fixed)}, nor on the {NEARBY_PROBES} nearest "
            "counts below and above that admit a layout"
        )
    works = "counts that work" if len(found) > 1 else "count that works"
    return f"{_no_plan_text(job, cluster.count, fixed)}; nearby {works}: " + ", ".join(
        f"{c:,}" for c in found
    )


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
    "memory_bytes", "rebuilt_layers",
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
    schedules: tuple[Schedule, ...] = SCHEDULES,
) -> SearchResult:
    """Evaluate every plan and rank the feasible ones by `objective` (time, cost or energy).

    `ignore_memory` also ranks plans that only fail the memory check (validation uses it to
    predict a published plan that the memory model would reject). `schedules`: the pipeline
    schedules the job's framework runs (all three by default).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    fixed = dict(fixed or {})
    try:
        grid = enumerate_plans(job, cluster, fixed, coarse, schedules)
    except NoPlanError:
        if "chips" in fixed:  # the caller is trying counts itself: no probes of its own
            raise
        raise NoPlanError(no_plan_message(job, cluster, fixed)) from None
    arrays = evaluate_training(job, cluster, grid)
    feasible = arrays.feasible | (ignore_memory & (arrays.reason == OOM_CODE))
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
