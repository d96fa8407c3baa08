"""`swarmscale report`: the HTML page and PNGs carry the run's own numbers and open offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

from swarmscale.report.run_report import run_charts
from swarmscale.store import ResultsStore
from tests.conftest import CliRunner


def _train(run_cli: CliRunner) -> dict[str, object]:
    code, out, _ = run_cli(
        ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "64", "--json"]
    )
    assert code == 0
    result: dict[str, object] = json.loads(out)
    return result


def test_train_report_html_and_png(run_cli: CliRunner, tmp_path: Path) -> None:
    result = _train(run_cli)
    run_id = str(result["run_id"])
    page, pngs = tmp_path / "out" / "report.html", tmp_path / "png"
    code, _, _ = run_cli(["report", run_id, "--html", str(page), "--png", str(pngs)])
    assert code == 0
    text = page.read_text(encoding="utf-8")
    # Offline: plotly.js is inside the page and nothing is loaded from elsewhere.
    assert "Plotly.newPlot" in text and not re.search(r"<script[^>]+src=", text)
    assert text.count("Plotly.newPlot") == 2  # plan Pareto and step breakdown
    best = result["best"]
    assert isinstance(best, dict)
    assert best["plan_text"] in text
    assert f"{best['totals']['time_days']:.6g}" in text  # the outputs table shows the run's figure
    assert sorted(p.name for p in pngs.iterdir()) == [f"{run_id}-pareto.png", f"{run_id}-step.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs.iterdir())


def test_train_charts_plot_the_stored_numbers(run_cli: CliRunner, results_store: Path) -> None:
    result = _train(run_cli)
    run = ResultsStore(results_store).get(str(result["run_id"]))
    pareto, step = run_charts(run)
    top = run.outputs["top"]
    assert [s.y[0] for s in pareto.series] == [plan["totals"]["cost_usd"] for plan in top]
    breakdown = run.outputs["best"]["breakdown"]
    assert (
        dict(zip(step.series[0].x, step.series[0].y, strict=True))["compute"]
        == breakdown["compute_s"]
    )


def test_unknown_run_and_missing_output_are_errors(run_cli: CliRunner, tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    code, _, err = run_cli(["report", "nope", "--html", str(page)])
    assert code == 2 and "no run 'nope'" in err and not page.exists()
    assert not list(tmp_path.iterdir())  # nothing half-written
    run_id = str(_train(run_cli)["run_id"])
    code, _, err = run_cli(["report", run_id])
    assert code == 2 and "--html" in err


def test_sweep_charts_carry_percentile_bands() -> None:
    import datetime as dt

    from swarmscale.store import Run

    def band(p50: float) -> dict[str, float]:
        return {"p10": 0.9 * p50, "p50": p50, "p90": 1.2 * p50}

    points = [
        {
            "point": {"chips": chips},
            "percentiles": {"time_days": band(days), "cost_usd": band(1e6)},
            "sensitivity": {"time_days": [{"input": "efficiency.gemm", "spearman": -0.8}]},
        }
        for chips, days in ((1024, 150.0), (2048, 80.0))
    ]
    run = Run("r", dt.datetime(2026, 1, 1), "sweep", "h", "c", "v", 0.1, {}, {"points": points})
    charts = {chart.slug: chart for chart in run_charts(run)}
    assert set(charts) == {"sweep-time_days", "sweep-cost_usd", "sensitivity"}
    days = charts["sweep-time_days"].series[0]
    assert days.x == ["chips=1024", "chips=2048"] and days.y == [150.0, 80.0]
    assert days.low == [135.0, 72.0] and days.high == [180.0, 96.0]
    assert charts["sensitivity"].series[0].y == [-0.8]


def test_simulate_report_has_utilisation_and_jct_cdf(
    run_cli: CliRunner, results_store: Path, tmp_path: Path
) -> None:
    code, out, _ = run_cli(
        ["simulate", "--network", "test-3-sites", "--trace", "philly", "--jobs", "150", "--json"]
    )
    assert code == 0
    result = json.loads(out)
    run = ResultsStore(results_store).get(result["run_id"])
    charts = {chart.slug: chart for chart in run_charts(run)}
    cdf = charts["jct-cdf"].series[0]
    assert cdf.x == sorted(cdf.x) and cdf.y[0] == 0.0 and cdf.y[-1] == 1.0
    assert cdf.x[cdf.y.index(0.99)] == result["summary"]["p99_jct_h"]
    utilisation = charts["utilisation"].series[0]
    assert dict(zip(utilisation.x, utilisation.y, strict=True)) == result["summary"]["utilisation"]
    code, _, _ = run_cli(["report", run.id, "--png", str(tmp_path)])
    assert code == 0 and {p.name for p in tmp_path.iterdir()} == {
        f"{run.id}-utilisation.png",
        f"{run.id}-jct-cdf.png",
    }
