"""`swarmscale validate` and `swarmscale fit`: predictions against published measurements."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from swarmscale.catalog import default_catalog
from swarmscale.catalog.loader import SHIPPED_CASES, load_cases
from swarmscale.catalog.schemas import Case
from swarmscale.cli.output import console, error_console, print_json
from swarmscale.files import check_output_path, write_text_atomic
from swarmscale.report.plots import plot_validation
from swarmscale.report.validation import logo_section, profile_section, validation_markdown
from swarmscale.validate.fit import (
    COARSE,
    FitTable,
    FittedFactor,
    fit_factor,
    fit_tables,
    fitted_factors,
)
from swarmscale.validate.groups import GroupResult, group_of, leave_one_group_out
from swarmscale.validate.runner import (
    CaseResult,
    Validation,
    predict_cases,
    profile_pairs,
    summarize,
)

CasesArg = Annotated[
    list[Path] | None,
    typer.Argument(help="Case files (YAML); default: every shipped case file.", show_default=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _load(paths: list[Path] | None) -> list[Case]:
    files = paths or sorted(SHIPPED_CASES.glob("*.yaml"))
    cases: list[Case] = []
    for path in files:
        cases.extend(load_cases(path))
    return cases


def _run_with_progress(cases: list[Case]) -> Validation:
    with Progress(console=error_console, transient=True) as progress:
        task = progress.add_task("validating", total=len(cases))

        def advance(case: Case) -> None:
            progress.update(task, description=case.id)
            progress.advance(task)

        return predict_cases(cases, default_catalog(), advance)


def validate(
    cases_files: CasesArg = None,
    as_json: JsonFlag = False,
    markdown: Annotated[
        Path | None, typer.Option(help="Also write the Markdown report (docs/validation.md).")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="With --markdown: a PNG of out-of-group predicted vs measured."),
    ] = None,
    by_group: Annotated[
        bool,
        typer.Option(
            "--by-group",
            help="Leave-one-source-group-out: each group predicted with every fitted factor "
            "refitted without it (the headline error).",
        ),
    ] = False,
) -> None:
    """Predict every case and print measured vs predicted with the signed error."""
    if markdown is not None:
        check_output_path(markdown, "--markdown", (".md",))
    if plot is not None:
        if markdown is None:
            raise typer.BadParameter("--plot needs --markdown", param_hint="--plot")
        check_output_path(plot, "--plot", (".png",))
    cases = _load(cases_files)
    if by_group:
        _print_by_group(_leave_one_group_out(cases)[0], as_json)
        return
    validation = _run_with_progress(cases)
    results = validation.results
    summary = {**summarize(results), "unpredicted": len(validation.unpredicted)}
    if markdown is not None:
        _write_report(cases, results, markdown, plot)
    if as_json:
        unpredicted = [{"id": case_id, "reason": why} for case_id, why in validation.unpredicted]
        print_json(
            {
                "cases": [result.as_dict() for result in results],
                "unpredicted": unpredicted,
                "summary": summary,
            }
        )
        return
    table = Table(title=f"{len(cases)} cases")
    for header in ("id", "kind", "metric", "measured", "predicted", "error", "split"):
        table.add_column(
            header, justify="right" if header in ("measured", "predicted", "error") else "left"
        )
    for result in results:
        table.add_row(
            result.id,
            result.kind,
            result.metric,
            f"{result.measured:.4g}",
            f"{result.predicted:.4g}",
            f"{100 * result.error:+.1f}%",
            result.split,
        )
    console.print(table)
    for case_id, why in validation.unpredicted:
        console.print(f"[yellow]not predicted[/yellow] {case_id}: {why}")
    median, worst = summary["median_abs_error"], summary["max_abs_error"]
    if median is not None and worst is not None:
        console.print(
            f"median |error| {100 * median:.1f}%, max |error| {100 * worst:.1f}% "
            f"over {summary['n']} measurements"
        )


def _write_report(
    cases: list[Case], results: list[CaseResult], markdown: Path, plot: Path | None
) -> None:
    command = f"swarmscale validate --markdown {markdown}" + (f" --plot {plot}" if plot else "")
    outcome, tables = _leave_one_group_out(cases)
    catalog = default_catalog()
    # A factor no fit-split case of these files depends on (serving's, for training files) has
    # nothing to report.
    fits = [fit_factor(cases, catalog, table.fitted, table) for table in tables if table.log_ratio]
    single = {case.id for case in cases if case.chips == 1}
    profile_lines = profile_section(profile_pairs(cases, results, catalog), single)
    headline = logo_section(outcome)
    if plot is not None:
        points = [(g.group, r.kind, r.measured, r.predicted) for g in outcome for r in g.results]
        plot_validation(points, plot, "Out-of-group predictions (leave one source group out)")
        link = _relative(plot, markdown)
        headline += ["", f"![predicted against measured, out of group]({link})"]
    text = validation_markdown(results, fits, command, profile_lines, headline)
    write_text_atomic(markdown, text)


def _relative(target: Path, document: Path) -> str:
    """`target` as a link from `document`'s folder."""
    return os.path.relpath(target.resolve(), document.resolve().parent)


def _leave_one_group_out(cases: list[Case]) -> tuple[list[GroupResult], list[FitTable]]:
    """The out-of-group results, and the fit tables they came from (the report's fits reuse
    them rather than predicting the fit cases over the grid again)."""
    with Progress(console=error_console, transient=True) as progress:
        catalog = default_catalog()
        steps = len({group_of(case) for case in cases}) + len(COARSE) * len(fitted_factors(catalog))
        task = progress.add_task("leave one group out", total=steps)

        def advance(step: str) -> None:
            progress.update(task, description=step)
            progress.advance(task)

        tables = fit_tables(cases, catalog, lambda key, value: advance(f"{key} = {value:.2f}"))
        return leave_one_group_out(cases, catalog, advance, tables), tables


def _print_by_group(outcome: list[GroupResult], as_json: bool) -> None:
    summary = {
        kind: summarize([r for g in outcome for r in g.results if r.kind == kind])
        for kind in ("training", "inference")
    }
    if as_json:
        print_json(
            {
                "groups": [
                    {
                        "group": g.group,
                        **g.summary(),
                        "refits": g.refits,
                        "cases": [r.as_dict() for r in g.results],
                    }
                    for g in outcome
                ],
                "summary": summary,
            }
        )
        return
    table = Table(title="Leave one source group out: each group predicted without its cases")
    for header in ("group", "kind", "n", "median |error|", "max |error|"):
        table.add_column(header, justify="left" if header in ("group", "kind") else "right")
    for g in outcome:
        row = g.summary()
        kinds = ",".join(sorted({r.kind for r in g.results}))
        table.add_row(
            g.group, kinds, str(row["n"]), _percent(row["median_abs_error"]),
            _percent(row["max_abs_error"]),
        )  # fmt: skip
    console.print(table)
    for kind, row in summary.items():
        console.print(
            f"{kind}: out-of-group median |error| {_percent(row['median_abs_error'])}, "
            f"max {_percent(row['max_abs_error'])} over {row['n']} measurements"
        )


def _percent(value: float | int | None) -> str:
    return "?" if value is None else f"{100 * value:.1f}%"


def fit(
    cases_files: CasesArg = None,
    layer: Annotated[
        str, typer.Option(help="Efficiency layer: 'default', a software stack or a chip id.")
    ] = "default",
    factor: Annotated[str, typer.Option(help="Efficiency factor to fit.")] = "training_sustained",
    as_json: JsonFlag = False,
) -> None:
    """Fit one efficiency factor on the fit-split cases and report both splits."""
    cases = _load(cases_files)
    with console.status(f"fitting {factor} of {layer}"):
        result = fit_factor(cases, default_catalog(), FittedFactor(layer, factor))
    payload = {
        "layer": layer,
        "factor": factor,
        "shipped": result.shipped,
        "fitted": result.value,
        "fit_cases": result.fit_cases,
        "before": {
            s: summarize([r for r in result.before if r.split == s]) for s in ("fit", "test")
        },
        "after": {s: summarize([r for r in result.after if r.split == s]) for s in ("fit", "test")},
    }
    if as_json:
        print_json(payload)
        return
    console.print(
        f"{factor} of {layer}: shipped {result.shipped:.2f} -> fitted "
        f"{result.value:.2f} on {len(result.fit_cases)} cases"
    )
    for stage in ("before", "after"):
        for split in ("fit", "test"):
            row = payload[stage][split]  # type: ignore[index]
            console.print(
                f"  {stage:6s} {split:4s} median {100 * (row['median_abs_error'] or 0):.1f}% "
                f"max {100 * (row['max_abs_error'] or 0):.1f}% (n={row['n']})"
            )
