"""One stored run as a self-contained HTML page (Plotly, embedded) and PNGs of its key plots.

Each chart is described once as a `Chart` and drawn twice: Plotly for the page, Matplotlib for
the PNG, so the picture in a slide matches the one in the browser.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import plotly.graph_objects as go

from swarmscale.files import atomic_path, write_text_atomic
from swarmscale.store import Run, flatten

SWEEP_OUTPUTS = ("time_days", "cost_usd", "energy_mwh", "mfu")


@dataclass(frozen=True)
class Series:
    name: str
    x: list[Any]
    y: list[float]
    low: list[float] | None = None  # error bar ends (P10), absolute values
    high: list[float] | None = None  # (P90)


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    kind: str  # "bar", "line" or "scatter"
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)


def run_charts(run: Run) -> list[Chart]:
    """The key plots a run of this verb supports; verbs without plottable output get none."""
    outputs = run.outputs
    if run.verb == "train" and outputs.get("top"):
        return _train_charts(outputs)
    if run.verb == "serve" and outputs.get("designs"):
        return _serve_charts(outputs["designs"])
    if run.verb == "sweep" and outputs.get("points"):
        return _sweep_charts(outputs["points"])
    if run.verb == "fleet" and outputs.get("pareto"):
        front = sorted(outputs["pareto"], key=lambda p: p["days"])
        days = [p["days"] for p in front]
        cost = [p["cost_usd"] for p in front]
        return [
            Chart(
                "pareto",
                "Cost against days to train",
                "line",
                "days",
                "USD",
                [Series("Pareto front", days, cost)],
            )
        ]
    if run.verb == "simulate" and outputs.get("utilisation"):
        return _simulate_charts(outputs)
    return []


def _train_charts(outputs: dict[str, Any]) -> list[Chart]:
    plans = outputs["top"]
    labels = [plan["plan_text"] for plan in plans]
    pareto = Chart(
        "pareto",
        "Candidate plans: cost against days",
        "scatter",
        "days",
        "USD",
        [
            Series(label, [plan["totals"]["time_days"]], [plan["totals"]["cost_usd"]])
            for label, plan in zip(labels, plans, strict=True)
        ],
    )
    breakdown = outputs["best"]["breakdown"]
    parts = {
        key.removesuffix("_s"): value for key, value in breakdown.items() if key.endswith("_s")
    }
    step = Chart(
        "step",
        f"Step time of the best plan ({outputs['best']['plan_text']})",
        "bar",
        "part",
        "seconds per step",
        [Series("step", list(parts), list(parts.values()))],
    )
    return [pareto, step]


def _simulate_charts(outputs: dict[str, Any]) -> list[Chart]:
    pools = outputs["utilisation"]
    charts = [
        Chart(
            "utilisation",
            "Mean utilisation per pool",
            "bar",
            "site:chip",
            "share of chips busy",
            [Series("utilisation", list(pools), list(pools.values()))],
        )
    ]
    cdf = outputs.get("jct_cdf_h") or {}
    if cdf:
        shares = [float(key.removeprefix("p")) / 100 for key in cdf]
        charts.append(
            Chart(
                "jct-cdf",
                "Job completion time CDF",
                "line",
                "hours",
                "share of finished jobs",
                [Series("JCT", list(cdf.values()), shares)],
            )
        )
    return charts


def _serve_charts(all_designs: list[dict[str, Any]]) -> list[Chart]:
    """Chips needed and cost per chip kind; kinds that could not be sized have no numbers."""
    designs = [design for design in all_designs if design.get("feasible", True)]
    chips = [design["chip"] for design in designs]
    needed = Chart(
        "chips",
        "Chips needed for the load",
        "bar",
        "chip",
        "chips",
        [Series("chips", chips, [float(design["chips"]) for design in designs])],
    )
    priced = [d for d in designs if d["usd_per_million_output_tokens"] is not None]
    if not priced:
        return [needed]
    cost = Chart(
        "cost",
        "Cost per million output tokens",
        "bar",
        "chip",
        "USD",
        [
            Series(
                "USD",
                [d["chip"] for d in priced],
                [d["usd_per_million_output_tokens"] for d in priced],
            )
        ],
    )
    return [needed, cost]


def _sweep_charts(points: list[dict[str, Any]]) -> list[Chart]:
    labels = [
        ", ".join(f"{k}={v}" for k, v in point["point"].items()) or "base" for point in points
    ]
    charts = []
    for output in SWEEP_OUTPUTS:
        bands = [point["percentiles"][output] for point in points if output in point["percentiles"]]
        if len(bands) != len(points):
            continue
        charts.append(
            Chart(
                f"sweep-{output}",
                f"{output}: P50 with P10-P90 band",
                "line",
                "grid point",
                output,
                [
                    Series(
                        "P50",
                        labels,
                        [b["p50"] for b in bands],
                        [b["p10"] for b in bands],
                        [b["p90"] for b in bands],
                    )
                ],
            )
        )
    ranking = points[0]["sensitivity"].get("time_days", [])
    if ranking:
        charts.append(
            Chart(
                "sensitivity",
                f"What moves time_days ({labels[0]}): Spearman rank correlation",
                "bar",
                "uncertain input",
                "Spearman rho",
                [Series("rho", [r["input"] for r in ranking], [r["spearman"] for r in ranking])],
            )
        )
    return charts


def _plotly(chart: Chart) -> go.Figure:
    figure = go.Figure()
    for series in chart.series:
        error = None
        if series.low is not None and series.high is not None:
            error = {
                "type": "data",
                "symmetric": False,
                "array": [h - y for h, y in zip(series.high, series.y, strict=True)],
                "arrayminus": [y - lo for lo, y in zip(series.low, series.y, strict=True)],
            }
        if chart.kind == "bar":
            figure.add_trace(go.Bar(x=series.x, y=series.y, name=series.name, error_y=error))
        else:
            mode = "markers" if chart.kind == "scatter" else "lines+markers"
            figure.add_trace(
                go.Scatter(
                    x=series.x,
                    y=series.y,
                    name=series.name,
                    mode=mode,
                    error_y=error,
                    marker={"size": 10},
                )
            )
    figure.update_layout(
        title=chart.title,
        xaxis_title=chart.x_label,
        yaxis_title=chart.y_label,
        template="plotly_white",
        height=420,
    )
    return figure


def save_png(chart: Chart, path: Path) -> Path:
    """The same chart as a PNG (Matplotlib: no browser needed)."""
    figure, axis = plt.subplots(figsize=(9, 5), constrained_layout=True)
    for series in chart.series:
        x = [str(value) for value in series.x] if chart.kind == "bar" else series.x
        if chart.kind == "bar":
            axis.bar(x, series.y, label=series.name)
            axis.tick_params(axis="x", labelrotation=30)
        else:
            style = "o" if chart.kind == "scatter" else "o-"
            axis.plot(x, series.y, style, label=series.name)
        if series.low is not None and series.high is not None:
            axis.fill_between(x, series.low, series.high, alpha=0.25, label="P10-P90")
    axis.set_title(chart.title)
    axis.set_xlabel(chart.x_label)
    axis.set_ylabel(chart.y_label)
    axis.grid(True, alpha=0.3)
    if len(chart.series) > 1 or chart.series[0].low is not None:
        axis.legend(fontsize=8)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110)
    plt.close(figure)
    return path


def _table(title: str, data: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(_cell(value))}</td></tr>"
        for key, value in flatten(data).items()
    )
    return f"<h2>{html.escape(title)}</h2><table><tr><th>key</th><th>value</th></tr>{rows}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def charts_html(run: Run, plotly_js: str | bool) -> str:
    """The run's charts as HTML fragments; plotly.js comes with the first: True inlines it, a
    .js URL links to it, False leaves it to the page."""
    return "".join(
        _plotly(chart).to_html(full_html=False, include_plotlyjs=plotly_js if index == 0 else False)
        for index, chart in enumerate(run_charts(run))
    )


def render_html(run: Run, plotly_js: str | bool = True) -> str:
    """A whole page; by default plotly.js is inlined once so that the file opens offline."""
    heading = f"{run.verb} run {run.id}"
    meta = (
        f"created {run.created:%Y-%m-%d %H:%M:%S}, catalog {run.catalog_version}, "
        f"swarmscale {run.swarmscale_version}, input hash {run.input_hash}, {run.wall_s:.3g} s"
    )
    body = (
        charts_html(run, plotly_js) + _table("Inputs", run.inputs) + _table("Outputs", run.outputs)
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(heading)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
        "text-align:left;font-size:13px}</style></head><body>"
        f"<h1>{html.escape(heading)}</h1><p>{html.escape(meta)}</p>{body}</body></html>"
    )


def write_report(run: Run, html_path: Path | None, png_dir: Path | None) -> list[Path]:
    """Write the page (atomically: a failed run leaves no half-written file) and the PNGs."""
    written = []
    if html_path is not None:
        write_text_atomic(html_path, render_html(run))
        written.append(html_path)
    if png_dir is not None:
        written += [
            save_png(chart, png_dir / f"{run.id}-{chart.slug}.png") for chart in run_charts(run)
        ]
    return written
