"""Scenario sweeps: a training job over a grid of inputs, each point under Monte Carlo draws of
the catalog's uncertain numbers, reported as P10/P50/P90 with a sensitivity ranking.

Every uncertain input is a catalog quantity with a range (`low`, `high`): a chip spec
(`chip.peak.bf16`, `chip.memory_bandwidth`, `chip.tdp`, `chip.price`), a software-stack
efficiency (`efficiency.gemm`, ...) or an assumption (`assumptions.pue`, ...). Draws are uniform
over each range and made up front from the seed, so every executor evaluates the same draws
and returns the same numbers. At each grid point the plan is searched once at the point values;
the draws then re-time that plan.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swarmscale.catalog import Catalog, Quantity
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.plan.search import evaluate_plan, search
from swarmscale.plan.swarm import batch_sequences
from swarmscale.workload import TrainingJob

OUTPUTS = ("time_days", "chip_hours", "energy_mwh", "cost_usd", "mfu")
DEFAULT_UNCERTAIN = (
    "chip.peak.bf16", "chip.memory_bandwidth", "chip.price", "efficiency.gemm",
    "efficiency.attention", "efficiency.scale_out", "assumptions.pue",
    "assumptions.energy_price", "assumptions.chip_load",
)  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """A training job and what varies: a grid of inputs and uncertain catalog numbers."""

    model: str
    chip: str
    chips: int
    tokens: float
    seq_len: int = 4096
    batch_tokens: float = 4e6
    system: str | None = None
    grid: dict[str, list[Any]] = field(default_factory=dict)
    uncertain: tuple[str, ...] = DEFAULT_UNCERTAIN
    draws: int = 200
    seed: int = 0

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid's values (one point when there is no grid)."""
        keys = sorted(self.grid)
        allowed = {"model", "chip", "chips", "tokens", "seq_len", "batch_tokens", "system"}
        unknown = set(keys) - allowed
        if unknown:
            raise ValueError(
                f"grid keys {sorted(unknown)} cannot vary; allowed: {', '.join(sorted(allowed))}"
            )
        return [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*(self.grid[k] for k in keys))
        ]


def _quantity(cluster: Cluster, path: str) -> Quantity | None:
    head, _, rest = path.partition(".")
    if head == "chip":
        obj: Any = cluster.chip
    elif head == "efficiency":
        obj = cluster.efficiency
    elif head == "assumptions":
        obj = cluster.assumptions
    else:
        raise ValueError(
            f"uncertain input {path!r}: must start with chip., efficiency. or assumptions."
        )
    for part in rest.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    if not isinstance(obj, Quantity):
        raise ValueError(f"uncertain input {path!r} is not a catalog number")
    return obj


def _with_value(cluster: Cluster, path: str, value: float) -> Cluster:
    """The cluster with one catalog number replaced."""
    head, _, rest = path.partition(".")
    parts = rest.split(".")

    def replaced(obj: Any, names: list[str]) -> Any:
        if len(names) == 1:
            quantity = getattr(obj, names[0])
            return obj.model_copy(update={names[0]: quantity.model_copy(update={"value": value})})
        return obj.model_copy(update={names[0]: replaced(getattr(obj, names[0]), names[1:])})

    if head == "chip":
        chip = replaced(cluster.chip, parts)
        purchase = value if parts == ["price"] else cluster.purchase_price_usd
        return dataclasses.replace(cluster, chip=chip, purchase_price_usd=purchase)
    if head == "efficiency":
        return dataclasses.replace(cluster, efficiency=replaced(cluster.efficiency, parts))
    return dataclasses.replace(cluster, assumptions=replaced(cluster.assumptions, parts))


@dataclass(frozen=True)
class PointTask:
    """One grid point and its draws: everything an executor needs, nothing global."""

    point: dict[str, Any]
    scenario: Scenario
    names: tuple[str, ...]
    values: np.ndarray  # draws x names


def point_tasks(catalog: Catalog, scenario: Scenario) -> list[PointTask]:
    """The grid points with their seeded draws (made here, so executors agree)."""
    rng = np.random.default_rng(scenario.seed)
    tasks = []
    for point in scenario.points():
        cluster = _cluster(catalog, scenario, point)
        ranged = [
            (path, q.range)
            for path in scenario.uncertain
            if (q := _quantity(cluster, path)) is not None
            and q.range is not None
            and q.range[1] > q.range[0]
        ]
        names = tuple(path for path, _ in ranged)
        low = np.asarray([r[0] for _, r in ranged])
        high = np.asarray([r[1] for _, r in ranged])
        values = rng.uniform(low, high, size=(scenario.draws, len(ranged)))
        tasks.append(PointTask(point, scenario, names, values))
    return tasks


def _cluster(catalog: Catalog, scenario: Scenario, point: dict[str, Any]) -> Cluster:
    settings = {**dataclasses.asdict(scenario), **point}
    return build_cluster(catalog, settings["chip"], int(settings["chips"]), settings["system"])


def evaluate_task(catalog: Catalog, task: PointTask) -> dict[str, Any]:
    """Search the plan at the point values, then re-time it under every draw."""
    settings = {**dataclasses.asdict(task.scenario), **task.point}
    seq = int(settings["seq_len"])
    job = TrainingJob(
        catalog.model(settings["model"]),
        seq,
        batch_sequences(float(settings["batch_tokens"]), seq),
        tokens=float(settings["tokens"]),
    )
    cluster = _cluster(catalog, task.scenario, task.point)
    found = search(job, cluster, "time", {"chips": cluster.count}, top_k=1, coarse=True)
    if found.best is None:
        raise ValueError(f"sweep point {task.point}: no feasible plan")
    plan = found.best.plan
    outputs = np.zeros((len(task.values), len(OUTPUTS)))
    for row, draw in enumerate(task.values):
        drawn = cluster
        for name, value in zip(task.names, draw, strict=True):
            drawn = _with_value(drawn, name, float(value))
        ranked = evaluate_plan(job, drawn, plan)
        totals = ranked.totals
        outputs[row] = (
            totals["time_days"],
            totals["chip_hours"],
            totals["energy_mwh"],
            totals["cost_usd"] if totals["cost_usd"] is not None else np.nan,
            ranked.mfu,
        )
    return {
        "point": task.point,
        "plan": plan.describe(),
        "names": list(task.names),
        "inputs": task.values,
        "outputs": outputs,
    }


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """P10/P50/P90 per output and, per output, the inputs ranked by |Spearman correlation|."""
    outputs, inputs = result["outputs"], result["inputs"]
    percentiles = {}
    sensitivity = {}
    for column, name in enumerate(OUTPUTS):
        values = outputs[:, column]
        finite = values[np.isfinite(values)]
        if not finite.size:
            continue
        p10, p50, p90 = np.percentile(finite, [10, 50, 90])
        percentiles[name] = {"p10": float(p10), "p50": float(p50), "p90": float(p90)}
        ranks = []
        for index, input_name in enumerate(result["names"]):
            rho = _spearman(inputs[:, index], values)
            if np.isfinite(rho):
                ranks.append((input_name, float(rho)))
        sensitivity[name] = [
            {"input": n, "spearman": r} for n, r in sorted(ranks, key=lambda item: -abs(item[1]))
        ]
    return {
        "point": result["point"],
        "plan": result["plan"],
        "percentiles": percentiles,
        "sensitivity": sensitivity,
    }


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    mask = np.isfinite(y)
    if mask.sum() < 3:
        return float("nan")
    rx = np.argsort(np.argsort(x[mask]))
    ry = np.argsort(np.argsort(y[mask]))
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])
