"""Each sourcing rule on hand-made fleets."""

from __future__ import annotations

import datetime as dt

import pytest

from swarmscale.catalog import Catalog, Policy
from swarmscale.policy.rules import FleetFigures, FleetItem, check_fleet, eligibility

FIGURES = FleetFigures(
    peak_flops={"h100-sxm": 989e12, "ascend-910c": 752e12, "ascend-910b": 376e12,
                "h20": 148e12},
    price_usd={"h100-sxm": 30000.0, "ascend-910c": 21400.0, "ascend-910b": 16800.0,
               "h20": 12000.0},
    power_w={"h100-sxm": 1275.0, "ascend-910c": 1456.0, "ascend-910b": 720.0, "h20": 720.0},
    racks_per_chip={"h100-sxm": 1 / 32, "ascend-910c": 1 / 24, "ascend-910b": 1 / 48,
                    "h20": 1 / 48},
)  # fmt: skip


def _policy(
    rules: list[dict[str, object]], jurisdiction: str = "CN", date: str = "2025-09-30"
) -> Policy:
    return Policy.model_validate(
        {
            "id": "test",
            "name": "test",
            "jurisdiction": jurisdiction,
            "date": date,
            "source": "hand-made for tests",
            "rules": rules,
        }
    )


def test_export_controls_follow_the_date(catalog: Catalog) -> None:
    """BIS: A800/H800 licence-required from 2023-10-17 (catalog facts/export_controls.yaml)."""
    rule = {"kind": "export_controls", "id": "ec"}
    before = eligibility(catalog, _policy([rule], date="2023-06-01"), "training")
    after = eligibility(catalog, _policy([rule], date="2023-11-01"), "training")
    assert "a800-sxm" in before.allowed and "h800-sxm" in before.allowed
    assert "a800-sxm" in after.forbidden and "2023-10-17" in after.forbidden["a800-sxm"]
    assert "h100-sxm" in before.forbidden  # covered since the October 2022 rule


def test_licensed_chips_and_own_guidance(catalog: Catalog) -> None:
    licensed = {"kind": "export_controls", "id": "ec", "allow_licensed": ["h20"]}
    assert "h20" in eligibility(catalog, _policy([licensed]), "inference").allowed
    guided = {**licensed, "follow_own_guidance": True}
    blocked = eligibility(catalog, _policy([guided]), "inference").forbidden
    assert "discouraged by CN" in blocked["h20"]


def test_no_rule_keeps_a_country_from_its_own_chips(catalog: Catalog) -> None:
    rule = {"kind": "export_controls", "id": "ec"}
    china = eligibility(catalog, _policy([rule]), "training")
    usa = eligibility(catalog, _policy([rule], jurisdiction="US"), "training")
    assert "ascend-910c" in china.allowed
    assert "ascend-910c" in usa.forbidden and "h100-sxm" in usa.allowed


def test_forbid_rule_applies_to_its_workloads_only(catalog: Catalog) -> None:
    rule = {
        "kind": "forbid",
        "id": "no-h20",
        "chips": ["h20"],
        "workloads": ["inference"],
        "reason": "distrust",
        "source": "test",
    }
    assert "h20" in eligibility(catalog, _policy([rule]), "inference").forbidden
    assert "h20" in eligibility(catalog, _policy([rule]), "training").allowed


@pytest.mark.parametrize(
    ("measure", "by", "fleet", "ok"),
    [
        ("count", "design", [("ascend-910c", 70), ("h20", 30)], True),
        ("count", "design", [("ascend-910c", 69), ("h20", 31)], False),
        # 70 x 752 vs 30 x 148 TFLOPS: 92% of compute is domestic
        ("compute", "design", [("ascend-910c", 50), ("h20", 50)], True),
        # spend: 50 x 16.8k vs 50 x 30k: 36% domestic
        ("spend", "design", [("ascend-910b", 50), ("h100-sxm", 50)], False),
    ],
)
def test_domestic_share(
    catalog: Catalog, measure: str, by: str, fleet: list[tuple[str, int]], ok: bool
) -> None:
    rule = {
        "kind": "min_domestic_share",
        "id": "dom",
        "share": 0.7,
        "measure": measure,
        "domestic_by": by,
        "source": "test",
    }
    items = [FleetItem(chip, count) for chip, count in fleet]
    violations = check_fleet(catalog, _policy([rule]), items, "training", FIGURES)
    assert (not violations) is ok
    if not ok:
        assert violations[0].rule == "dom" and "below the required 70%" in violations[0].message


def test_domestic_by_fab_uses_the_fab_country(catalog: Catalog) -> None:
    chip = catalog.chip("ascend-910b")
    rule = {
        "kind": "min_domestic_share",
        "id": "fab",
        "share": 1.0,
        "domestic_by": "fab",
        "source": "test",
    }
    violations = check_fleet(
        catalog, _policy([rule]), [FleetItem("ascend-910b", 8)], "training", FIGURES
    )
    assert (not violations) is (chip.fab_country == "CN")


@pytest.mark.parametrize(
    ("what", "value", "broken"),
    [
        ("power_mw", 0.1, True),
        ("power_mw", 1.0, False),
        ("budget_usd", 2e6, True),
        ("budget_usd", 4e6, False),
        ("racks", 3.0, True),
        ("chips", 100, False),
    ],
)
def test_caps(catalog: Catalog, what: str, value: float, broken: bool) -> None:
    """100 H100: 0.1275 MW, $3M, 3.125 racks at the figures above."""
    rule = {"kind": "cap", "id": "cap", "what": what, "value": value, "source": "test"}
    violations = check_fleet(
        catalog, _policy([rule]), [FleetItem("h100-sxm", 100)], "training", FIGURES
    )
    assert bool(violations) is broken


def test_site_scoped_check(catalog: Catalog) -> None:
    rule = {"kind": "min_domestic_share", "id": "dom", "share": 0.9, "source": "test"}
    items = [FleetItem("ascend-910c", 100, "a"), FleetItem("h20", 100, "b")]
    assert not check_fleet(catalog, _policy([rule]), items, "training", FIGURES, {"a"})
    assert check_fleet(catalog, _policy([rule]), items, "training", FIGURES, {"b"})


def test_shipped_policies_cite_their_sources(catalog: Catalog) -> None:
    for policy in catalog.policies.values():
        assert policy.source
        assert policy.date <= dt.date(2027, 12, 31)
