"""`swarmscale runs`: the results store (list, show, compare, export), and recording runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmscale.catalog import default_catalog
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.files import OutputPathError, check_folder, check_output_path
from swarmscale.store import ResultsStore, StoreError, flatten

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
runs_app = typer.Typer(help="Past runs in the results store.", no_args_is_help=True)


def record_run(
    verb: str, inputs: dict[str, Any], outputs: dict[str, Any], started: float
) -> str | None:
    """Store a finished run; a store that cannot be written warns but never fails the run."""
    try:
        return ResultsStore().record(
            verb, inputs, outputs, time.perf_counter() - started, default_catalog().version
        )
    except (StoreError, OSError) as exc:
        error_console.print(f"warning: run not stored: {exc}")
        return None


@runs_app.command("list")
def runs_list(
    verb: Annotated[str | None, typer.Option(help="Only runs of this verb.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Most recent N.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Recent runs, newest first."""
    runs = ResultsStore().list(verb, limit)
    if as_json:
        print_json({"runs": [run.as_dict() for run in runs]})
        return
    table = Table(title=f"{len(runs)} runs")
    for header in ("id", "created", "verb", "input hash", "catalog", "wall s"):
        table.add_column(header)
    for run in runs:
        table.add_row(
            run.id,
            run.created.strftime("%Y-%m-%d %H:%M:%S"),
            run.verb,
            run.input_hash,
            run.catalog_version,
            fmt(run.wall_s),
        )
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: str, as_json: JsonFlag = False) -> None:
    """One run's inputs and outputs."""
    run = ResultsStore().get(run_id)
    if as_json:
        print_json(run.as_dict())
        return
    console.print(
        f"[bold]{run.id}[/bold] {run.verb} at {run.created:%Y-%m-%d %H:%M:%S}, "
        f"catalog {run.catalog_version}, {fmt(run.wall_s)} s"
    )
    for section, data in (("inputs", run.inputs), ("outputs", run.outputs)):
        table = Table(title=section)
        table.add_column("key")
        table.add_column("value", overflow="fold")
        for key, value in flatten(data).items():
            table.add_row(key, fmt(value) if isinstance(value, float) else str(value))
        console.print(table)


@runs_app.command("compare")
def runs_compare(run_ids: list[str], as_json: JsonFlag = False) -> None:
    """Inputs and outputs of several runs side by side (keys that differ first)."""
    if len(run_ids) < 2:
        raise ValueError("runs compare needs at least two run ids")
    store = ResultsStore()
    runs = [store.get(run_id) for run_id in run_ids]
    flat = [
        {
            **{f"inputs.{k}": v for k, v in flatten(r.inputs).items()},
            **{f"outputs.{k}": v for k, v in flatten(r.outputs).items()},
        }
        for r in runs
    ]
    keys = sorted(
        {key for row in flat for key in row},
        key=lambda key: (len({str(row.get(key)) for row in flat}) == 1, key),
    )
    if as_json:
        print_json(
            {
                "runs": run_ids,
                "rows": [{"key": key, "values": [row.get(key) for row in flat]} for key in keys],
            }
        )
        return
    table = Table(title="runs compared")
    table.add_column("key")
    for run in runs:
        table.add_column(f"{run.id} ({run.verb})", overflow="fold")
    for key in keys:
        table.add_row(
            key,
            *[
                fmt(row.get(key)) if isinstance(row.get(key), float) else str(row.get(key, ""))
                for row in flat
            ],
        )
    console.print(table)


@runs_app.command("export")
def runs_export(
    out: Annotated[Path, typer.Option(help="File to write.")],
    file_format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Every run as CSV or Parquet."""
    count = ResultsStore().export(out, file_format)
    console.print(f"{count} runs written to {out}")


def report(
    run_id: str,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Self-contained HTML page (opens offline).")
    ] = None,
    png_dir: Annotated[
        Path | None, typer.Option("--png", help="Folder for PNGs of the key plots.")
    ] = None,
) -> None:
    """A stored run as an HTML page with tables and Plotly charts, and PNGs of its key plots."""
    from swarmscale.report.run_report import write_report

    if html_path is None and png_dir is None:
        raise typer.BadParameter("give --html FILE, --png DIR or both")
    if html_path is not None:
        check_output_path(html_path, "--html", (".html", ".htm"))
    if png_dir is not None:
        if png_dir.exists() and not png_dir.is_dir():
            raise OutputPathError(f"--png: {png_dir} is a file; give a folder")
        check_folder(png_dir, "--png")
    for path in write_report(ResultsStore().get(run_id), html_path, png_dir):
        console.print(f"wrote {path}")
