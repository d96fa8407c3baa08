"""Chip specification tables in display units, with ratios to a reference chip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmscale.catalog.schemas import Chip, Quantity
from swarmscale.catalog.units import from_si


@dataclass(frozen=True)
class SpecField:
    """One row of a spec table: where the number lives on a chip and how to show it."""

    key: str
    label: str
    dimension: str
    unit: str

    def quantity(self, chip: Chip) -> Quantity | None:
        obj: Any = chip
        for part in self.key.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj if isinstance(obj, Quantity) else None

    def display(self, chip: Chip) -> float | None:
        quantity = self.quantity(chip)
        if quantity is None or quantity.value is None:
            return None
        return from_si(quantity.value, self.unit, self.dimension)


SPEC_FIELDS: tuple[SpecField, ...] = (
    SpecField("peak.fp32", "FP32", "flops", "TFLOPS"),
    SpecField("peak.tf32", "TF32", "flops", "TFLOPS"),
    SpecField("peak.bf16", "BF16/FP16", "flops", "TFLOPS"),
    SpecField("peak.fp8", "FP8", "flops", "TFLOPS"),
    SpecField("peak.fp4", "FP4", "flops", "TFLOPS"),
    SpecField("peak.int8", "INT8", "flops", "TOPS"),
    SpecField("memory", "Memory", "bytes", "GB"),
    SpecField("memory_bandwidth", "Memory bandwidth", "bandwidth", "TB/s"),
    SpecField("scale_up_bandwidth", "Scale-up (bidir.)", "bandwidth", "GB/s"),
    SpecField("scale_up_domain", "Scale-up domain", "count", "count"),
    SpecField("scale_out_bandwidth", "Scale-out NIC", "bandwidth", "Gb/s"),
    SpecField("tdp", "TDP", "power", "W"),
    SpecField("price", "Price (est.)", "money", "USD"),
)

HEADLINE_FIELDS = (
    "peak.bf16",
    "peak.fp8",
    "memory",
    "memory_bandwidth",
    "scale_up_bandwidth",
    "tdp",
)


@dataclass(frozen=True)
class SpecCell:
    """A displayed value with its provenance and its ratio to the reference chip."""

    value: float | None
    ratio: float | None
    kind: str | None
    source: str | None
    low: float | None
    high: float | None
    state: str  # "known", "unknown" (null in the catalog) or "absent" (no such unit)


def spec_cell(spec: SpecField, chip: Chip, reference: Chip) -> SpecCell:
    quantity = spec.quantity(chip)
    if quantity is None:
        return SpecCell(None, None, None, None, None, None, "absent")
    value = spec.display(chip)
    ref_value = spec.display(reference)
    ratio = value / ref_value if value is not None and ref_value else None
    low = from_si(quantity.low, spec.unit, spec.dimension) if quantity.low is not None else None
    high = from_si(quantity.high, spec.unit, spec.dimension) if quantity.high is not None else None
    state = "known" if value is not None else "unknown"
    return SpecCell(value, ratio, quantity.kind, quantity.source, low, high, state)


def compare(chips: list[Chip], fields: tuple[SpecField, ...] = SPEC_FIELDS) -> dict[str, Any]:
    """Side-by-side specs of `chips`, each cell with its ratio to the first chip."""
    reference = chips[0]
    rows = []
    for spec in fields:
        cells = {chip.id: spec_cell(spec, chip, reference).__dict__ for chip in chips}
        rows.append({"field": spec.key, "label": spec.label, "unit": spec.unit, "values": cells})
    return {"reference": reference.id, "chips": [chip.id for chip in chips], "rows": rows}


def fields_named(keys: tuple[str, ...]) -> tuple[SpecField, ...]:
    by_key = {spec.key: spec for spec in SPEC_FIELDS}
    return tuple(by_key[key] for key in keys)
