"""PNG plots of results (Matplotlib, headless backend; nothing fetched, nothing shown)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from swarmscale.files import atomic_path
from swarmscale.plan.swarm import SwarmPoint


def _positive(value: float, logscale: bool) -> float:
    """Zero has no place on a log axis: leave a gap instead of a cliff."""
    return value if value > 0 or not logscale else float("nan")


def plot_swarm(series: dict[str, list[SwarmPoint]], path: Path, title: str) -> Path:
    """Throughput, goodput-adjusted throughput, power and cost against chip count."""
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    panels: tuple[tuple[str, Callable[[SwarmPoint], float], Any], ...] = (
        ("tokens/s (dashed: after failures)", lambda p: p.tokens_per_s, axes[0][0]),
        ("goodput (share of time training)", lambda p: p.goodput, axes[0][1]),
        ("power, MW (chips, hosts, network, cooling)", lambda p: p.power_mw, axes[1][0]),
        ("cost, USD per hour", lambda p: p.cost_usd_per_hour or float("nan"), axes[1][1]),
    )
    for label, points in series.items():
        chips = [p.chips for p in points]
        for ylabel, value, axis in panels:
            logscale = axis is not axes[0][1]
            line = axis.plot(
                chips, [_positive(value(p), logscale) for p in points], marker="o", label=label
            )
            if axis is axes[0][0]:
                axis.plot(
                    chips,
                    [_positive(p.effective_tokens_per_s, True) for p in points],
                    linestyle="--",
                    color=line[0].get_color(),
                )
            axis.set_xscale("log")
            axis.set_xlabel("chips")
            axis.set_ylabel(ylabel)
            if axis is not axes[0][1]:
                axis.set_yscale("log")
            axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend()
    figure.suptitle(title)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110)
    plt.close(figure)
    return path


def plot_pareto(front: list[dict[str, float]], path: Path, title: str) -> Path:
    """Cost against days to train along the Pareto front."""
    figure, axis = plt.subplots(figsize=(7, 5), constrained_layout=True)
    axis.plot([p["days"] for p in front], [p["cost_usd"] / 1e6 for p in front], marker="o")
    for point in front:
        axis.annotate(
            f"{int(point['chips']):,}",
            (point["days"], point["cost_usd"] / 1e6),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    axis.set_xlabel("days to train")
    axis.set_ylabel("cost, million USD")
    axis.set_title(title)
    axis.grid(True, alpha=0.3)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110)
    plt.close(figure)
    return path


def plot_simulation(result: Any, path: Path, title: str) -> Path:
    """Chips in use over time, and the CDF of job completion times."""
    import numpy as np

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    times = np.asarray([t for t, _ in result.timeline]) / 86400.0
    used = np.asarray([n for _, n in result.timeline])
    capacity = sum(result.capacity.values())
    left.step(times, used / max(capacity, 1), where="post")
    left.set_xlabel("days")
    left.set_ylabel("share of chips in use")
    left.set_ylim(0, 1.05)
    jct = np.sort([(job.finish_s - job.arrival_s) / 3600.0 for job in result.jobs if job.started])
    right.plot(jct, np.arange(1, len(jct) + 1) / max(len(jct), 1))
    right.set_xscale("log")
    right.set_xlabel("job completion time, hours")
    right.set_ylabel("share of jobs")
    for axis in (left, right):
        axis.grid(True, alpha=0.3)
    figure.suptitle(title)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110)
    plt.close(figure)
    return path


def plot_validation(points: list[tuple[str, str, float, float]], path: Path, title: str) -> Path:
    """Predicted against measured on log axes, one colour per source group, training as
    circles and inference as triangles, with the y = x line and a band of +/- 25%.
    `points`: (group, kind, measured, predicted)."""
    figure, axis = plt.subplots(figsize=(11, 8), constrained_layout=True)
    groups = sorted({group for group, _, _, _ in points})
    palettes = (plt.get_cmap("tab20"), plt.get_cmap("tab20b"))
    for index, group in enumerate(groups):
        label: str | None = group
        for kind, marker in (("training", "o"), ("inference", "^")):
            chosen = [(m, p) for g, k, m, p in points if g == group and k == kind]
            if chosen:
                axis.scatter(
                    [m for m, _ in chosen],
                    [p for _, p in chosen],
                    s=18,
                    marker=marker,
                    color=palettes[index // 20 % 2](index % 20),
                    label=label,
                    alpha=0.8,
                )
                label = None
    values = [v for _, _, m, p in points for v in (m, p) if v > 0]
    low, high = min(values) / 2, max(values) * 2
    axis.plot([low, high], [low, high], color="black", linewidth=1)
    axis.fill_between([low, high], [low / 1.25, high / 1.25], [low * 1.25, high * 1.25],
                      color="grey", alpha=0.15, linewidth=0)  # fmt: skip
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("measured (each metric in its own unit)")
    axis.set_ylabel("predicted out of group")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.2)
    axis.legend(fontsize=7, ncol=2, loc="upper left")
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110)
    plt.close(figure)
    return path
