"""Fit one efficiency factor of one chip on the `fit` split of the validation cases.

Only chips without a measured value for the factor are fitted (the A100's GEMM efficiency:
the shipped microbenchmarks are from an H100). The search is a plain grid over the factor's
catalog range, scored by the median absolute error of the fit cases on that chip; the test
cases are scored after, never during.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarmscale.catalog import Catalog, Efficiency, Quantity
from swarmscale.catalog.schemas import Case
from swarmscale.validate.runner import CaseResult, case_cluster, run_case, summarize

GRID_STEP = 0.01
FIT_BOUNDS = (0.3, 0.95)  # wide on purpose: a fit that stops at a bound would be clipped


@dataclass(frozen=True)
class FitResult:
    """The fitted value and the errors it gives on each split."""

    chip: str
    factor: str
    prior: float
    fitted: float
    fit_cases: list[str]
    before: list[CaseResult]
    after: list[CaseResult]


def with_factor(efficiency: Efficiency, factor: str, value: float, source: str) -> Efficiency:
    """A copy of `efficiency` with one factor replaced by a fitted value."""
    old: Quantity = getattr(efficiency, factor)
    fitted = Quantity(
        value=value,
        unit=old.unit,
        kind="estimate",
        source=source,
        low=min(old.low or value, value),
        high=max(old.high or value, value),
    )
    return efficiency.model_copy(update={factor: fitted, "applies_to": efficiency.applies_to})


def _run_all(
    cases: list[Case], catalog: Catalog, chip: str, efficiency: Efficiency | None
) -> list[CaseResult]:
    results: list[CaseResult] = []
    for case in cases:
        override = efficiency if (efficiency is not None and case.chip == chip) else None
        cluster = case_cluster(case, catalog, override)
        results.extend(run_case(case, catalog, cluster))
    return results


def fit_factor(cases: list[Case], catalog: Catalog, chip: str, factor: str) -> FitResult:
    """Grid-search `factor` for `chip` on the fit split; report both splits before and after."""
    chip_record = catalog.chip(chip)
    prior_eff = catalog.efficiency_for(chip_record, chip_layer=False)
    prior_q: Quantity = getattr(prior_eff, factor)
    prior = prior_q.require()
    fit_cases = [c for c in cases if c.split == "fit" and c.chip == chip_record.id]
    if not fit_cases:
        raise ValueError(f"no fit-split case runs on {chip}; nothing to fit")
    low, high = FIT_BOUNDS
    best_value, best_score = prior, float("inf")
    for value in np.arange(low, high + GRID_STEP / 2, GRID_STEP):
        trial = with_factor(prior_eff, factor, float(value), "trial")
        score = summarize(_run_all(fit_cases, catalog, chip_record.id, trial))["median_abs_error"]
        if score is not None and score < best_score - 1e-12:
            best_value, best_score = float(round(value, 4)), float(score)
    source = f"fitted by `swarmscale fit` on {len(fit_cases)} fit-split cases: " + ", ".join(
        c.id for c in fit_cases
    )
    fitted_eff = with_factor(prior_eff, factor, best_value, source)
    return FitResult(
        chip=chip_record.id,
        factor=factor,
        prior=prior,
        fitted=best_value,
        fit_cases=[c.id for c in fit_cases],
        before=_run_all(cases, catalog, chip_record.id, prior_eff),
        after=_run_all(cases, catalog, chip_record.id, fitted_eff),
    )
