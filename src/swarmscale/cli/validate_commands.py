"""`swarmscale validate` and `swarmscale fit`: predictions against published measurements."""

from __future__ import annotations

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
from swarmscale.report.validation import profile_section, validation_markdown
from swarmscale.validate.fit import FitResult, fit_factor
from swarmscale.validate.runner import CaseResult, profile_pairs, run_case, summarize

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


def _run_with_progress(cases: list[Case]) -> list[CaseResult]:
    catalog = default_catalog()
    results: list[CaseResult] = []
    with Progress(console=error_console, transient=True) as progress:
        task = progress.add_task("validating", total=len(cases))
        for case in cases:
            progress.update(task, description=case.id)
            results.extend(run_case(case, catalog))
            progress.advance(task)
    return results


def _catalog_fits(cases: list[Case]) -> list[FitResult]:
    catalog = default_catalog()
    return [
        fit_factor(cases, catalog, entry.applies_to, factor)
        for entry in catalog.efficiency.values()
        for factor in entry.fitted
    ]


def validate(
    cases_files: CasesArg = None,
    as_json: JsonFlag = False,
    markdown: Annotated[
        Path | None, typer.Option(help="Also write the Markdown report (docs/validation.md).")
    ] = None,
) -> None:
    """Predict every case and print measured vs predicted with the signed error."""
    if markdown is not None:
        check_output_path(markdown, "--markdown", (".md",))
    cases = _load(cases_files)
    results = _run_with_progress(cases)
    summary = summarize(results)
    if markdown is not None:
        command = "swarmscale validate --markdown " + str(markdown)
        single = {case.id for case in cases if case.chips == 1}
        pairs = profile_pairs(cases, results, default_catalog())
        profile_lines = profile_section(pairs, single)
        text = validation_markdown(results, _catalog_fits(cases), command, profile_lines)
        write_text_atomic(markdown, text)
    if as_json:
        print_json({"cases": [result.as_dict() for result in results], "summary": summary})
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
    median, worst = summary["median_abs_error"], summary["max_abs_error"]
    if median is not None and worst is not None:
        console.print(
            f"median |error| {100 * median:.1f}%, max |error| {100 * worst:.1f}% "
            f"over {summary['n']} measurements"
        )


def fit(
    cases_files: CasesArg = None,
    chip: Annotated[str, typer.Option(help="Chip whose factor is fitted.")] = "a100-sxm-80gb",
    factor: Annotated[str, typer.Option(help="Efficiency factor to fit, e.g. gemm.")] = "gemm",
    as_json: JsonFlag = False,
) -> None:
    """Fit one efficiency factor on the fit-split cases and report both splits."""
    cases = _load(cases_files)
    with console.status(f"fitting {factor} of {chip}"):
        result = fit_factor(cases, default_catalog(), chip, factor)
    payload = {
        "chip": result.chip,
        "factor": result.factor,
        "prior": result.prior,
        "fitted": result.fitted,
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
        f"{factor} of {result.chip}: prior {result.prior:.2f} -> fitted "
        f"{result.fitted:.2f} on {len(result.fit_cases)} cases"
    )
    for stage in ("before", "after"):
        for split in ("fit", "test"):
            row = payload[stage][split]  # type: ignore[index]
            console.print(
                f"  {stage:6s} {split:4s} median {100 * (row['median_abs_error'] or 0):.1f}% "
                f"max {100 * (row['max_abs_error'] or 0):.1f}% (n={row['n']})"
            )
