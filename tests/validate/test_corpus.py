"""The shipped validation corpus: every case is sourced, grouped and either predicted or
listed with the reason it cannot be; the case features the corpus needs reach the model."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from swarmscale.catalog import Catalog
from swarmscale.catalog.loader import SHIPPED_CASES, load_cases
from swarmscale.catalog.schemas import Case
from swarmscale.validate.runner import predict_cases, run_case

CASES = [case for path in sorted(SHIPPED_CASES.glob("*.yaml")) for case in load_cases(path)]
BY_ID = {case.id: case for case in CASES}


def test_cases_are_unique_sourced_and_grouped() -> None:
    assert len(CASES) > 400
    assert not [i for i, n in Counter(c.id for c in CASES).items() if n > 1]
    assert all(case.source.strip() and case.source_group for case in CASES)
    groups = Counter(case.source_group for case in CASES)
    assert len(groups) >= 20
    for group in groups:  # every group with several cases both fits and tests
        splits = {case.split for case in CASES if case.source_group == group}
        assert groups[group] < 3 or splits == {"fit", "test"}, group


def test_every_case_is_predicted_or_says_why_not(catalog: Catalog) -> None:
    """A case the model cannot express is listed with its reason; any other exception is a
    bug and fails here. The listed ones stay few."""
    outcome = predict_cases(CASES, catalog)
    predicted = {result.id for result in outcome.results}
    assert predicted | {case_id for case_id, _ in outcome.unpredicted} == set(BY_ID)
    assert len(outcome.unpredicted) <= 0.05 * len(CASES)
    assert all(reason for _, reason in outcome.unpredicted)
    assert all(math.isfinite(r.predicted) and r.predicted > 0 for r in outcome.results)


def _one(predicate: object) -> Case:
    assert callable(predicate)
    return next(case for case in CASES if predicate(case))


@pytest.mark.parametrize(
    "feature",
    [
        "inline MoE architecture",
        "fp4 serving",
        "fp4 training",
        "disaggregated serving",
        "speculative decoding",
        "fixed ZeRO-3 with pipeline stages",
        "uneven pipeline stages",
    ],
)
def test_corpus_features_reach_the_model(catalog: Catalog, feature: str) -> None:
    predicates = {
        "inline MoE architecture": lambda c: c.architecture is not None and c.architecture.moe,
        "fp4 serving": lambda c: c.kind == "inference" and c.precision == "fp4",
        "fp4 training": lambda c: c.kind == "training" and c.precision == "fp4",
        "disaggregated serving": lambda c: c.disaggregated is not None,
        "speculative decoding": lambda c: c.speculative is not None and c.speculative.acceptance,
        "fixed ZeRO-3 with pipeline stages": lambda c: (
            (c.plan or {}).get("zero") == 3 and (c.plan or {}).get("pp", 1) > 1
        ),
        "uneven pipeline stages": lambda c: (
            c.kind == "training" and catalog_layers(catalog, c) % (c.plan or {}).get("pp", 1) != 0
        ),
    }
    case = _one(predicates[feature])
    for result in run_case(case, catalog):
        assert math.isfinite(result.predicted) and result.predicted > 0


def catalog_layers(catalog: Catalog, case: Case) -> int:
    if case.architecture is not None:
        return case.architecture.layers
    return catalog.model(case.model).layers if case.model else 1
