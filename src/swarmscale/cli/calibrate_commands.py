"""`swarmscale calibrate`: measure this machine's GPU (or import a microbenchmark) into a device
profile that `swarmscale --profile FILE <command>` uses in place of datasheet-derived factors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from swarmscale.calibrate.cases import cases_from_profile
from swarmscale.calibrate.measure import (
    FULL_SUITE,
    QUICK_SUITE,
    open_bench,
    run_suite,
)
from swarmscale.calibrate.profiles import (
    DeviceRun,
    build_profile,
    chip_for_device,
    import_microbench,
    write_profile,
    write_records,
)
from swarmscale.catalog import default_catalog
from swarmscale.catalog.schemas import EFFICIENCY_FACTORS, DeviceProfile
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.files import check_output_path


def _measure(quick: bool) -> DeviceRun:
    suite = QUICK_SUITE if quick else FULL_SUITE
    bench, device_name, software = open_bench("cuda", suite)
    with Progress(console=error_console, transient=True) as bar:
        task = bar.add_task("measuring", total=None)

        def advance(name: str, done: int, total: int) -> None:
            bar.update(task, description=f"measuring {name}", completed=done, total=total)

        result = run_suite(bench, suite, advance)
    for name in result.skipped:
        error_console.print(f"skipped {name}: out of device memory")
    return DeviceRun(
        device_name=device_name,
        software=software,
        measurements=result.measurements,
        source=f"swarmscale calibrate{' --quick' if quick else ''} on {device_name}",
        measured_on=dt.date.today().isoformat(),
    )


def _factor_rows(profile: DeviceProfile) -> list[dict[str, Any]]:
    catalog = default_catalog().without_profiles()
    datasheet = catalog.efficiency_for(catalog.chip(profile.chip))
    rows = []
    for factor in EFFICIENCY_FACTORS:
        measured = getattr(profile.efficiency, factor)
        if measured is None:
            continue
        rows.append({
            "factor": factor,
            "datasheet_estimate": getattr(datasheet, factor).value,
            "measured": measured.value,
            "low": measured.low,
            "high": measured.high,
        })  # fmt: skip
    return rows


def calibrate(
    out: Annotated[
        Path | None, typer.Option("--out", help="Profile file to write; default profile-CHIP.yaml.")
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Fewer sizes and repeats of each kind of work.")
    ] = False,
    import_file: Annotated[
        Path | None,
        typer.Option(
            "--import", help="Build the profile from a JSON-lines microbenchmark instead."
        ),
    ] = None,
    chip: Annotated[
        str | None, typer.Option(help="Catalog chip measured; default: from the device name.")
    ] = None,
    cases_out: Annotated[
        Path | None, typer.Option(help="Also write validation cases from the model-level runs.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Measure the GPU with PyTorch and write a device profile of measured efficiencies."""
    for path, name in ((out, "--out"), (cases_out, "--cases-out")):
        if path is not None:
            check_output_path(path, name, (".yaml", ".yml"))
    run = import_microbench(import_file) if import_file is not None else _measure(quick)
    catalog = default_catalog()
    measured_chip = catalog.chip(chip) if chip else chip_for_device(catalog, run.device_name)
    profile, derivation = build_profile(catalog, measured_chip, run)
    target = out or Path(f"profile-{measured_chip.id}.yaml")
    write_profile(profile, target)
    cases = cases_from_profile(profile)
    if cases_out is not None and cases:
        write_records(cases_out, "cases", cases)
    rows = _factor_rows(profile)
    if as_json:
        print_json({
            "profile": profile.id, "file": str(target), "chip": profile.chip,
            "device_name": profile.device_name, "factors": rows,
            "fits": [vars(fit) for fit in derivation.fits],
            "measurements": len(profile.measurements), "cases": len(cases),
        })  # fmt: skip
        return
    table = Table(
        title=f"{profile.device_name} as {profile.chip}: {len(profile.measurements)} measurements"
    )
    for header in ("factor", "datasheet estimate", "measured", "range"):
        table.add_column(header, justify="left" if header == "factor" else "right")
    for row in rows:
        table.add_row(row["factor"], fmt(row["datasheet_estimate"]), fmt(row["measured"]),
                      f"{fmt(row['low'])}-{fmt(row['high'])}")  # fmt: skip
    console.print(table)
    for fit in derivation.fits:
        console.print(
            f"{fit.family}: {fit.count} shapes, median error "
            f"{100 * fit.median_abs_error:.1f}%, max {100 * fit.max_abs_error:.1f}%"
        )
    console.print(f"wrote {target}; use it with: swarmscale --profile {target} <command>")
