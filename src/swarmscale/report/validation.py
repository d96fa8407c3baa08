"""The validation report (docs/validation.md): the out-of-group headline, every case, the
summary, and each fit."""

from __future__ import annotations

import statistics

from swarmscale.report.diagnoses import diagnosis
from swarmscale.validate.fit import FitResult
from swarmscale.validate.groups import GroupResult
from swarmscale.validate.runner import CaseResult, summarize

LARGEST_ERRORS = 20


def _pct(value: float | int | None) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _summary_line(label: str, results: list[CaseResult]) -> str:
    summary = summarize(results)
    return (
        f"| {label} | {summary['n']} | {_pct(summary['median_abs_error'])} | "
        f"{_pct(summary['max_abs_error'])} |"
    )


def results_table(results: list[CaseResult]) -> list[str]:
    lines = [
        "| case | split | metric | measured | predicted | error | plan |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        flag = "" if result.feasible else " (memory model: does not fit)"
        lines.append(
            f"| {result.id} | {result.split} | {result.metric} | {result.measured:.4g} | "
            f"{result.predicted:.4g} | {100 * result.error:+.1f}% | `{result.plan}`{flag} |"
        )
    return lines


def split_summary(results: list[CaseResult]) -> list[str]:
    lines = ["| cases | n | median abs error | max abs error |", "|---|---|---|---|"]
    for kind in sorted({r.kind for r in results}):
        of_kind = [r for r in results if r.kind == kind]
        for split in ("fit", "test"):
            chosen = [r for r in of_kind if r.split == split]
            if chosen:
                lines.append(_summary_line(f"{kind}, {split} split", chosen))
        lines.append(_summary_line(f"{kind}, all", of_kind))
    return lines


def logo_section(outcome: list[GroupResult]) -> list[str]:
    """The headline: each source group predicted with the fitted factors refitted without it,
    per group (with its signed bias and refitted values), and the largest errors with what
    is known of their cause."""
    results = [r for g in outcome for r in g.results]
    lines = [
        "## Headline: leave one source group out",
        "",
        "Every fitted factor is refitted on the fit-split cases of the other source groups, and",
        "the group's cases (both splits) are predicted with those values: no prediction below",
        "has seen its own source. `swarmscale validate --by-group` prints the same table.",
        "",
        "| cases | n | median abs error | max abs error |",
        "|---|---|---|---|",
    ]
    for kind in ("training", "inference"):
        lines.append(_summary_line(f"{kind}, out of group", [r for r in results if r.kind == kind]))
    lines += [
        "",
        "| group | kind | n | median abs error | max abs error | median signed error | "
        "refitted factors |",
        "|---|---|---|---|---|---|---|",
    ]
    for group in outcome:
        if not group.results:
            continue
        row = group.summary()
        kinds = ", ".join(sorted({r.kind for r in group.results}))
        bias = statistics.median(r.error for r in group.results)
        refits = ", ".join(f"{k} {v:.2f}" for k, v in group.refits.items()) or "none"
        lines.append(
            f"| {group.group} | {kinds} | {row['n']} | {_pct(row['median_abs_error'])} | "
            f"{_pct(row['max_abs_error'])} | {100 * bias:+.1f}% | {refits} |"
        )
    worst = sorted(results, key=lambda r: -abs(r.error))[:LARGEST_ERRORS]
    group_of = {r.id: g.group for g in outcome for r in g.results}
    lines += [
        "",
        f"The {len(worst)} largest out-of-group errors:",
        "",
        "| case | group | metric | measured | predicted | error | diagnosis |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in worst:
        lines.append(
            f"| {r.id} | {group_of[r.id]} | {r.metric} | {r.measured:.4g} | {r.predicted:.4g} | "
            f"{100 * r.error:+.1f}% | {diagnosis(r.id, r.metric)} |"
        )
    unpredicted = [item for g in outcome for item in g.unpredicted]
    if unpredicted:
        lines += ["", "Not predicted:", ""]
        lines += [f"- `{case_id}`: {why}" for case_id, why in unpredicted]
    return lines


def profile_section(
    pairs: list[tuple[CaseResult, CaseResult]], single_chip_ids: set[str]
) -> list[str]:
    """Cases on chips with a measured profile, predicted without it and with it."""
    if not pairs:
        return []
    lines = [
        "",
        "## Datasheet-derived efficiencies against the measured device profile",
        "",
        "Cases on a chip that has a profile in `catalog/data/profiles/`, predicted twice: with",
        "the software-stack and chip estimates only (`swarmscale --profile none validate`) and",
        "with the measured profile on top (the default). No case below was used to make the",
        "profile; it comes from kernel measurements alone.",
        "",
        "| cases | n | datasheet-derived: median | max | measured profile: median | max |",
        "|---|---|---|---|---|---|",
    ]
    groups = (
        ("single-chip", [p for p in pairs if p[0].id in single_chip_ids]),
        ("all on profiled chips", pairs),
    )
    for label, chosen in groups:
        if not chosen:
            continue
        without, with_profile = (summarize([p[i] for p in chosen]) for i in (0, 1))
        lines.append(
            f"| {label} | {without['n']} | {_pct(without['median_abs_error'])} | "
            f"{_pct(without['max_abs_error'])} | {_pct(with_profile['median_abs_error'])} | "
            f"{_pct(with_profile['max_abs_error'])} |"
        )
    lines += [
        "",
        "| single-chip case | metric | measured | datasheet-derived | error | profile | error |",
        "|---|---|---|---|---|---|---|",
    ]
    for before, after in pairs:
        if before.id in single_chip_ids:
            lines.append(
                f"| {before.id} | {before.metric} | {before.measured:.4g} | "
                f"{before.predicted:.4g} | {100 * before.error:+.1f}% | {after.predicted:.4g} | "
                f"{100 * after.error:+.1f}% |"
            )
    return lines


def validation_markdown(
    results: list[CaseResult],
    fits: list[FitResult],
    command: str,
    profile_lines: list[str] | None = None,
    headline: list[str] | None = None,
) -> str:
    """The whole report as Markdown."""
    lines = [
        "# Validation",
        "",
        f"Generated by `{command}` (`make validation-docs`); do not edit by hand.",
        "",
        "Each case is a published run (sources in `src/swarmscale/catalog/data/cases/`). Error is",
        "predicted / measured - 1. Cases in the `fit` split may tune efficiency factors; `test`",
        "cases never do. Where a case fixes a plan it is predicted as run, even when the memory",
        "model says it would not fit (flagged).",
        "",
        *(headline or []),
        "",
        "## In-sample summary with the shipped catalog",
        "",
        *split_summary(results),
        "",
        *(profile_lines or []),
        "",
        "## Every case",
        "",
        *results_table(results),
    ]
    for fit in fits:
        lines += [
            "",
            f"## Fit: `{fit.fitted.factor}` of the `{fit.fitted.layer}` layer",
            "",
            f"Fitted on {len(fit.fit_cases)} fit-split cases: **{fit.value:.2f}** "
            f"(shipped: {fit.shipped:.2f}).",
            "",
            "With the shipped value:",
            "",
            *split_summary(fit.before),
            "",
            "With the fitted value:",
            "",
            *split_summary(fit.after),
        ]
    return "\n".join(lines) + "\n"
