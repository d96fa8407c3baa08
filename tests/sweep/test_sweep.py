"""Sweeps: seeded draws give the same answer on every executor, and sensible summaries."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from swarmscale.catalog import Catalog
from swarmscale.sweep.executors import run_local, run_ray
from swarmscale.sweep.scenarios import Scenario, point_tasks, summarise
from tests.conftest import CliRunner

SCENARIO = Scenario(model="llama3-8b", chip="h100-sxm", chips=64, tokens=1e12, draws=1000, seed=11)


def test_same_p50_on_local_and_ray(catalog: Catalog) -> None:
    """Issue 8: 1,000 Monte Carlo draws, same seed, local processes and Ray (local instance)."""
    tasks = point_tasks(catalog, SCENARIO)
    local = [summarise(r) for r in run_local(tasks, workers=2)]
    ray = [summarise(r) for r in run_ray(tasks)]
    for name in ("time_days", "energy_mwh", "cost_usd"):
        assert local[0]["percentiles"][name]["p50"] == ray[0]["percentiles"][name]["p50"]


def test_seed_decides_the_draws(catalog: Catalog) -> None:
    first = point_tasks(catalog, SCENARIO)[0].values
    again = point_tasks(catalog, SCENARIO)[0].values
    other = point_tasks(catalog, dataclasses.replace(SCENARIO, seed=12))[0].values
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_percentiles_ordered_and_price_drives_cost(catalog: Catalog) -> None:
    small = dataclasses.replace(SCENARIO, draws=300)
    (summary,) = [summarise(r) for r in run_local(point_tasks(catalog, small), workers=1)]
    for row in summary["percentiles"].values():
        assert row["p10"] <= row["p50"] <= row["p90"]
    cost_drivers = [d["input"] for d in summary["sensitivity"]["cost_usd"][:2]]
    assert "chip.price" in cost_drivers
    energy_drivers = [d["input"] for d in summary["sensitivity"]["energy_mwh"][:3]]
    assert "assumptions.pue" in energy_drivers


def test_grid_points_and_bad_keys() -> None:
    grid = dataclasses.replace(SCENARIO, grid={"chips": [32, 64], "chip": ["h100-sxm", "b200"]})
    assert len(grid.points()) == 4
    with pytest.raises(ValueError, match="cannot vary"):
        dataclasses.replace(SCENARIO, grid={"colour": ["red"]}).points()


def test_sweep_cli(run_cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "model: llama3-8b\nchip: h100-sxm\nchips: 32\ntokens: 1.0e+11\n"
        "grid: {chips: [32, 64]}\ndraws: 50\nseed: 3\n"
    )
    code, out, _ = run_cli(["sweep", str(path), "--json", "--workers", "1"])
    assert code == 0
    payload = json.loads(out)
    assert len(payload["points"]) == 2 and payload["run_id"]
    path.write_text("model: llama3-8b\nchip: h100-sxm\nchips: -1\ntokens: 1\n")
    code, _, err = run_cli(["sweep", str(path)])
    assert code == 2 and "chips" in err
