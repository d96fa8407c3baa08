"""Audit of a loaded catalog: every number has a source, and what is unknown or estimated.

Numbers live either in a `Quantity` (its own source and kind) or as plain integers of a record
that carries a record-level `source` (a model's layer count, a system's chip count). Anything
else is an unsourced number and fails the audit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pydantic import BaseModel

from swarmscale.catalog.loader import Catalog
from swarmscale.catalog.schemas import Quantity


@dataclass
class AuditReport:
    """What `swarmscale catalog check` prints."""

    records: int = 0
    quantities: int = 0
    unsourced: list[str] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    with_range: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.unsourced


def _walk(record: BaseModel, path: str, record_sourced: bool, report: AuditReport) -> None:
    for name in type(record).model_fields:
        value = getattr(record, name)
        where = f"{path}.{name}"
        if isinstance(value, Quantity):
            _check_quantity(value, where, report)
        elif isinstance(value, BaseModel):
            _walk(value, where, record_sourced, report)
        elif isinstance(value, int | float) and not isinstance(value, bool) and not record_sourced:
            report.unsourced.append(where)


def _check_quantity(quantity: Quantity, where: str, report: AuditReport) -> None:
    report.quantities += 1
    report.by_kind[quantity.kind] += 1
    if not quantity.source.strip():
        report.unsourced.append(where)
    if quantity.value is None:
        report.unknown.append((where, quantity.note or ""))
    if quantity.low is not None or quantity.high is not None:
        report.with_range += 1


def _has_source(record: BaseModel) -> bool:
    source = getattr(record, "source", None)
    return isinstance(source, str) and bool(source.strip())


def audit_record(record: BaseModel, label: str, report: AuditReport | None = None) -> AuditReport:
    """Audit one record; its plain numbers count as sourced only if it has a `source`."""
    report = report if report is not None else AuditReport()
    report.records += 1
    _walk(record, label, _has_source(record), report)
    return report


def audit(catalog: Catalog) -> AuditReport:
    """Walk every record of `catalog` and report unsourced, unknown and ranged numbers."""
    report = AuditReport()
    groups: list[tuple[str, list[BaseModel]]] = [
        ("chip", list(catalog.chips.values())),
        ("system", list(catalog.systems.values())),
        ("model", list(catalog.models.values())),
        ("export_control", list(catalog.export_controls)),
        ("price", list(catalog.prices)),
        ("efficiency", list(catalog.efficiency.values())),
        ("profile", list(catalog.profiles.values())),
        ("assumptions", [catalog.assumptions]),
        ("policy", list(catalog.policies.values())),
        ("network", list(catalog.networks.values())),
    ]
    for kind, records in groups:
        for index, record in enumerate(records):
            label = next(
                (
                    str(getattr(record, key))
                    for key in ("id", "chip", "applies_to")
                    if hasattr(record, key)
                ),
                str(index),
            )
            audit_record(record, f"{kind}:{label}", report)
    return report
