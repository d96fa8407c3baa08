"""`swarmscale sweep`: a scenario over a grid and Monte Carlo draws, locally or on Ray."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import Progress
from rich.table import Table

from swarmscale.api.inputs import InputError, SweepOverrides
from swarmscale.catalog import default_catalog
from swarmscale.catalog.loader import format_validation_error, load_scenario
from swarmscale.catalog.schemas import ScenarioSpec
from swarmscale.cli.options import option, parse_options
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.sweep.executors import run_local, run_ray
from swarmscale.sweep.scenarios import DEFAULT_UNCERTAIN, Scenario, point_tasks, summarise

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def run_sweep(
    scenario: Scenario, ray: bool, ray_address: str | None, workers: int
) -> list[dict[str, Any]]:
    tasks = point_tasks(default_catalog(), scenario)
    with Progress(console=error_console, transient=True) as bar:
        task = bar.add_task(f"{len(tasks)} points x {scenario.draws} draws", total=len(tasks))

        def advance(done: int) -> None:
            bar.update(task, completed=done)

        if ray or ray_address:
            results = run_ray(tasks, ray_address, advance)
        else:
            results = run_local(tasks, workers, advance)
    return [summarise(result) for result in results]


def with_overrides(spec: ScenarioSpec, overrides: SweepOverrides, path: Path) -> ScenarioSpec:
    """The scenario with the command line's draws and seed, held to the file's own limits."""
    changes = {
        key: value
        for key, value in (("draws", overrides.draws), ("seed", overrides.seed))
        if value is not None
    }
    try:
        return ScenarioSpec.model_validate({**spec.model_dump(), **changes})
    except ValidationError as exc:
        raise InputError(format_validation_error(path, "(scenario with overrides)", exc)) from exc


def sweep(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML.")],
    draws: Annotated[int | None, option(SweepOverrides, "draws")] = None,
    seed: Annotated[int | None, option(SweepOverrides, "seed")] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Run on a local Ray instance.")] = False,
    ray_address: Annotated[str | None, typer.Option(help="Run on this Ray cluster.")] = None,
    workers: Annotated[int, option(SweepOverrides, "workers")] = SweepOverrides.default("workers"),
    as_json: JsonFlag = False,
) -> None:
    """P10/P50/P90 of time, cost and energy per grid point, and which inputs matter most."""
    started = time.perf_counter()
    overrides = parse_options(SweepOverrides, locals())
    spec = with_overrides(load_scenario(scenario_file), overrides, scenario_file)
    fields = spec.model_dump()
    fields["uncertain"] = tuple(spec.uncertain) if spec.uncertain else DEFAULT_UNCERTAIN
    scenario = Scenario(**fields)
    summaries = run_sweep(scenario, ray, ray_address, overrides.workers)
    payload: dict[str, Any] = {"scenario": dataclasses.asdict(scenario), "points": summaries}
    payload["run_id"] = record_run("sweep", payload["scenario"], {"points": summaries}, started)
    if as_json:
        print_json(payload)
        return
    for summary in summaries:
        table = Table(title=f"{summary['point'] or 'base'}: {summary['plan']}")
        for header in ("output", "P10", "P50", "P90", "most sensitive to"):
            table.add_column(header)
        for name, row in summary["percentiles"].items():
            top = summary["sensitivity"].get(name, [])[:2]
            drivers = ", ".join(f"{d['input']} ({d['spearman']:+.2f})" for d in top)
            table.add_row(name, fmt(row["p10"]), fmt(row["p50"]), fmt(row["p90"]), drivers)
        console.print(table)
