"""Fit the catalog's fitted efficiency factors on the `fit` split of the validation cases.

A fitted factor lives in one layer of the efficiency catalog (`CUDA`, `default`, a die or a
chip); it governs the cases whose chip takes that factor from that layer. Each governed fit case
is predicted once at every value of a coarse grid, and its prediction between grid points is
interpolated in log space, so refitting on any subset (leave-one-group-out refits once per
source group) needs no further model runs. The fitted value minimises the mean absolute log
error of the subset on a fine grid; test cases are scored after, never during.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from swarmscale.catalog import Catalog, Quantity
from swarmscale.catalog.schemas import Case
from swarmscale.validate.runner import CaseResult, NotPredicted, run_case

COARSE = tuple(float(v) for v in np.round(np.arange(0.30, 1.0 + 1e-9, 0.05), 2))
FINE = tuple(float(v) for v in np.round(np.arange(0.30, 1.0 + 1e-9, 0.01), 2))
# Factors that only one kind of case depends on: the others would only dilute the median.
FACTOR_KINDS = {"training_sustained": ("training",), "serving_sustained": ("inference",)}


@dataclass(frozen=True)
class FittedFactor:
    """One factor of one efficiency layer that the catalog marks `fitted`."""

    layer: str
    factor: str

    @property
    def key(self) -> str:
        return f"{self.layer}.{self.factor}"


def fitted_factors(catalog: Catalog) -> list[FittedFactor]:
    return [
        FittedFactor(entry.applies_to, factor)
        for entry in catalog.efficiency.values()
        for factor in entry.fitted
    ]


def with_value(catalog: Catalog, fitted: FittedFactor, value: float, source: str) -> Catalog:
    """`catalog` with one layer's factor set to `value`."""
    entry = catalog.efficiency[fitted.layer]
    old: Quantity = getattr(entry, fitted.factor)
    new = Quantity(
        value=value,
        unit=old.unit,
        kind="estimate",
        source=source,
        low=min(old.low or value, value),
        high=max(old.high or value, value),
    )
    efficiency = {**catalog.efficiency, fitted.layer: entry.model_copy(update={fitted.factor: new})}
    return dataclasses.replace(catalog, efficiency=efficiency)


def governs(catalog: Catalog, fitted: FittedFactor, case: Case) -> bool:
    """Whether `case` depends on the fitted factor: its chip takes the factor from that layer."""
    if case.kind not in FACTOR_KINDS.get(fitted.factor, (case.kind,)):
        return False
    chip = catalog.chips.get(case.chip)
    return chip is not None and catalog.factor_layer(chip, fitted.factor) == fitted.layer


def _run(cases: Iterable[Case], catalog: Catalog) -> dict[str, list[CaseResult]]:
    results: dict[str, list[CaseResult]] = {}
    for case in cases:
        try:
            results[case.id] = run_case(case, catalog)
        except NotPredicted:
            continue  # listed by `validate`; it cannot inform a fit
    return results


@dataclass(frozen=True)
class FitTable:
    """Every governed fit case predicted at each value of COARSE."""

    fitted: FittedFactor
    log_ratio: dict[str, NDArray[np.float64]]  # case id -> log(pred/meas), COARSE x metrics

    def log_error(self, case_ids: Iterable[str], value: float) -> float:
        """Mean |log(predicted / measured)| of the cases' metrics with the factor at `value`:
        it centres the signed errors of a scale-like factor, where the median |error| is flat
        over a wide range of values."""
        errors = [
            abs(float(np.interp(value, COARSE, column)))
            for case_id in case_ids
            for column in self.log_ratio[case_id].T
        ]
        return statistics.fmean(errors) if errors else float("inf")

    def best(self, case_ids: Iterable[str]) -> float | None:
        """The FINE value that fits `case_ids` best; None when none of them is in the table."""
        chosen = [case_id for case_id in case_ids if case_id in self.log_ratio]
        if not chosen:
            return None
        return min(FINE, key=lambda value: self.log_error(chosen, value))


def fit_table(
    cases: list[Case],
    catalog: Catalog,
    fitted: FittedFactor,
    on_value: Callable[[float], None] | None = None,
) -> FitTable:
    """Predict the governed fit cases at every COARSE value of the factor."""
    members = [c for c in cases if c.split == "fit" and governs(catalog, fitted, c)]
    runs = []
    for value in COARSE:
        if on_value is not None:
            on_value(value)
        runs.append(_run(members, with_value(catalog, fitted, value, "trial")))
    predicted = set.intersection(*(set(run) for run in runs)) if runs else set()
    log_ratio = {
        case.id: np.array(
            [[np.log(r.predicted / r.measured) for r in run[case.id]] for run in runs]
        )
        for case in members
        if case.id in predicted
    }
    return FitTable(fitted, log_ratio)


@dataclass(frozen=True)
class FitResult:
    """A factor fitted on the fit split, with every governed case before and after."""

    fitted: FittedFactor
    shipped: float
    value: float
    fit_cases: list[str]
    before: list[CaseResult]
    after: list[CaseResult]


def fit_tables(
    cases: list[Case], catalog: Catalog, on_value: Callable[[str, float], None] | None = None
) -> list[FitTable]:
    """A `fit_table` for every factor the catalog marks fitted; `on_value` hears each
    factor's key and grid value as it is predicted."""
    tables = []
    for fitted in fitted_factors(catalog):

        def heard(value: float, key: str = fitted.key) -> None:
            if on_value is not None:
                on_value(key, value)

        tables.append(fit_table(cases, catalog, fitted, heard))
    return tables


def fit_factor(
    cases: list[Case], catalog: Catalog, fitted: FittedFactor, table: FitTable | None = None
) -> FitResult:
    """Fit one factor on the fit split; report both splits with the shipped and fitted value.
    `table`: the factor's `fit_table` of these cases when already computed."""
    if (
        fitted.layer not in catalog.efficiency
        or getattr(catalog.efficiency[fitted.layer], fitted.factor, None) is None
    ):
        raise ValueError(f"the efficiency layer {fitted.layer!r} sets no {fitted.factor!r}")
    table = table or fit_table(cases, catalog, fitted)
    value = table.best(table.log_ratio)
    if value is None:
        raise ValueError(f"no fit-split case depends on {fitted.key}; nothing to fit")
    governed = [case for case in cases if governs(catalog, fitted, case)]
    shipped = getattr(catalog.efficiency[fitted.layer], fitted.factor).require()
    source = f"fitted by `swarmscale fit` on {len(table.log_ratio)} fit-split cases"
    refitted = with_value(catalog, fitted, value, source)
    return FitResult(
        fitted=fitted,
        shipped=shipped,
        value=value,
        fit_cases=sorted(table.log_ratio),
        before=[r for rs in _run(governed, catalog).values() for r in rs],
        after=[r for rs in _run(governed, refitted).values() for r in rs],
    )
