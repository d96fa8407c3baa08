"""Evaluate sourcing policies: chip eligibility (export controls by date, distrust) and
fleet-level rules (domestic share by count, compute or spend; caps on power, budget, racks).

A dated export control restricts a buyer in country J when J is among its destinations (or it
names every destination, as BIS's 2025 Ascend guidance does), its date is on or before the
policy date, and the chip is not designed in J (no rule keeps a country from its own chips).
Licence-required counts as forbidden unless the rule lists the chip as licensed; "discouraged"
binds only when the rule follows the buyer's own government's guidance. Entity-list entries
restrict sales to the listed firms, not purchases of their chips, so they do not block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swarmscale.catalog import Catalog, Chip, Policy
from swarmscale.catalog.schemas import (
    CapRule,
    DomesticBy,
    ExportControlsRule,
    ForbidRule,
    MinDomesticShare,
    Workload,
)

BLOCKING_ACTIONS = {"export-banned", "export-license-required"}


@dataclass(frozen=True)
class FleetItem:
    """Chips of one kind at one site."""

    chip: str
    count: int
    site: str = "default"


@dataclass(frozen=True)
class FleetFigures:
    """Per-chip figures a fleet rule needs; filled from the catalog and assumptions."""

    peak_flops: dict[str, float]
    price_usd: dict[str, float | None]
    power_w: dict[str, float]
    racks_per_chip: dict[str, float]


@dataclass(frozen=True)
class Violation:
    """One broken rule, with the numbers."""

    policy: str
    rule: str
    message: str


@dataclass
class Eligibility:
    """Which chips a policy lets a buyer use for a workload, and why the others not."""

    allowed: set[str] = field(default_factory=set)
    forbidden: dict[str, str] = field(default_factory=dict)


def is_domestic(chip: Chip, country: str, by: DomesticBy) -> bool:
    """Designed in `country`, made there, or either."""
    designed = chip.design_country == country
    made = chip.fab_country == country
    if by == "design":
        return designed
    if by == "fab":
        return made
    return designed or made


def export_block(
    catalog: Catalog, chip: Chip, policy: Policy, rule: ExportControlsRule
) -> str | None:
    """Why the catalog's dated controls keep `chip` from this buyer, or None."""
    for control in catalog.controls_for(chip.id):
        reaches = policy.jurisdiction in control.destinations or "*" in control.destinations
        if control.date > policy.date or not reaches:
            continue
        if chip.design_country == policy.jurisdiction:
            continue
        action = control.action
        blocks = (
            action == "export-banned"
            or (action == "export-license-required" and chip.id not in rule.allow_licensed)
            or (
                action == "discouraged"
                and rule.follow_own_guidance
                and control.authority == policy.jurisdiction
            )
        )
        if blocks:
            return f"{action} by {control.authority} since {control.date} ({control.id})"
    return None


def eligibility(
    catalog: Catalog, policy: Policy, workload: Workload, chips: list[str] | None = None
) -> Eligibility:
    """Chips (all catalog chips unless `chips` is given) the policy allows for `workload`."""
    result = Eligibility()
    for chip_id in chips or list(catalog.chips):
        chip = catalog.chip(chip_id)
        why: str | None = None
        for rule in policy.rules:
            if isinstance(rule, ExportControlsRule):
                why = export_block(catalog, chip, policy, rule)
            elif (
                isinstance(rule, ForbidRule)
                and chip.id in rule.chips
                and (workload in rule.workloads)
            ):
                why = f"forbidden by rule {rule.id}: {rule.reason}"
            if why:
                break
        if why:
            result.forbidden[chip.id] = why
        else:
            result.allowed.add(chip.id)
    return result


def _measure(item: FleetItem, rule: MinDomesticShare, figures: FleetFigures) -> float | None:
    if rule.measure == "count":
        return float(item.count)
    if rule.measure == "compute":
        return item.count * figures.peak_flops[item.chip]
    price = figures.price_usd[item.chip]
    return None if price is None else item.count * price


def check_fleet(
    catalog: Catalog,
    policy: Policy,
    fleet: list[FleetItem],
    workload: Workload,
    figures: FleetFigures,
    sites: set[str] | None = None,
) -> list[Violation]:
    """Every rule of `policy` the fleet breaks (for `sites`, or all of it), with numbers."""
    chosen = [item for item in fleet if sites is None or item.site in sites]
    violations: list[Violation] = []
    allowed = eligibility(catalog, policy, workload, sorted({item.chip for item in chosen}))
    for chip_id, why in sorted(allowed.forbidden.items()):
        count = sum(item.count for item in chosen if catalog.chip(item.chip).id == chip_id)
        violations.append(Violation(policy.id, "eligibility", f"{count} x {chip_id}: {why}"))
    for rule in policy.rules:
        if isinstance(rule, MinDomesticShare):
            violations += _check_share(catalog, policy, rule, chosen, figures)
        elif isinstance(rule, CapRule):
            violations += _check_cap(policy, rule, chosen, figures)
    return violations


def _check_share(
    catalog: Catalog,
    policy: Policy,
    rule: MinDomesticShare,
    fleet: list[FleetItem],
    figures: FleetFigures,
) -> list[Violation]:
    country = rule.country or policy.jurisdiction
    total = domestic = 0.0
    for item in fleet:
        amount = _measure(item, rule, figures)
        if amount is None:
            return [
                Violation(
                    policy.id,
                    rule.id,
                    f"spend share needs a price for {item.chip}, which the catalog does not have",
                )
            ]
        total += amount
        if is_domestic(catalog.chip(item.chip), country, rule.domestic_by):
            domestic += amount
    share = domestic / total if total else 1.0
    if share + 1e-9 >= rule.share:
        return []
    return [
        Violation(
            policy.id,
            rule.id,
            f"domestic share by {rule.measure} ({rule.domestic_by} in {country}) is "
            f"{100 * share:.1f}%, below the required {100 * rule.share:.0f}%",
        )
    ]


def fleet_amount(what: str, fleet: list[FleetItem], figures: FleetFigures) -> float | None:
    """The fleet's power (MW), purchase budget (USD), racks or chip count."""
    if what == "chips":
        return float(sum(item.count for item in fleet))
    if what == "power_mw":
        return sum(item.count * figures.power_w[item.chip] for item in fleet) / 1e6
    if what == "racks":
        return sum(item.count * figures.racks_per_chip[item.chip] for item in fleet)
    total = 0.0
    for item in fleet:
        price = figures.price_usd[item.chip]
        if price is None:
            return None
        total += item.count * price
    return total


def _check_cap(
    policy: Policy, rule: CapRule, fleet: list[FleetItem], figures: FleetFigures
) -> list[Violation]:
    amount = fleet_amount(rule.what, fleet, figures)
    if amount is None:
        return [
            Violation(
                policy.id, rule.id, f"cap on {rule.what} needs prices the catalog does not have"
            )
        ]
    if amount <= rule.value * (1 + 1e-9):
        return []
    return [
        Violation(
            policy.id, rule.id, f"{rule.what} is {amount:,.4g}, above the cap of {rule.value:,.4g}"
        )
    ]
