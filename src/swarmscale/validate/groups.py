"""Leave-one-source-group-out validation: the error on data the fitted factors never saw.

For each source group, every factor the catalog marks as fitted (`fitted:` in an efficiency
entry) is fitted again on the fit-split cases of the other groups only, and the group's cases
are predicted with those values. A group whose cases depend on a fitted factor that no other
group's fit case informs is listed as unpredicted rather than scored in-sample. This
out-of-group error is the headline figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swarmscale.catalog import Catalog
from swarmscale.catalog.schemas import Case
from swarmscale.validate.fit import FitTable, fit_tables, governs, with_value
from swarmscale.validate.runner import CaseResult, predict_cases, summarize

UNGROUPED = "ungrouped"


@dataclass(frozen=True)
class GroupResult:
    """One source group's cases predicted with factors fitted without them."""

    group: str
    results: list[CaseResult]
    refits: dict[str, float]  # "layer.factor" -> the value fitted without this group
    unpredicted: list[tuple[str, str]]

    def summary(self) -> dict[str, float | int | None]:
        return summarize(self.results)


def group_of(case: Case) -> str:
    return case.source_group or UNGROUPED


def _predict_group(
    members: list[Case], catalog: Catalog, tables: list[FitTable], others: set[str]
) -> GroupResult:
    refit = catalog
    refits: dict[str, float] = {}
    blocked: list[tuple[str, str]] = []
    for table in tables:
        value = table.best(others)
        fitted = table.fitted
        if value is None:
            blocked += [
                (case.id, f"no fit case outside its group informs {fitted.key}")
                for case in members
                if governs(catalog, fitted, case)
            ]
            continue
        refit = with_value(refit, fitted, value, f"refitted without group {group_of(members[0])}")
        refits[fitted.key] = value
    skipped = {case_id for case_id, _ in blocked}
    predicted = predict_cases([case for case in members if case.id not in skipped], refit)
    group = group_of(members[0])
    return GroupResult(group, predicted.results, refits, blocked + predicted.unpredicted)


def leave_one_group_out(
    cases: list[Case],
    catalog: Catalog,
    on_step: Callable[[str], None] | None = None,
    tables: list[FitTable] | None = None,
) -> list[GroupResult]:
    """Each group's cases predicted with factors fitted without that group. `tables`: the
    catalog's `fit_tables` of these cases when already computed."""
    if tables is None:

        def on_value(key: str, value: float) -> None:
            if on_step is not None:
                on_step(f"{key} = {value:.2f}")

        tables = fit_tables(cases, catalog, on_value)
    outcome = []
    for group in sorted({group_of(case) for case in cases}):
        if on_step is not None:
            on_step(group)
        members = [case for case in cases if group_of(case) == group]
        others = {case.id for case in cases if group_of(case) != group}
        outcome.append(_predict_group(members, catalog, tables, others))
    return outcome
