"""The shipped catalog: required ids, every number sourced, and one conformance suite per chip."""

from __future__ import annotations

import pytest

from swarmscale.catalog import PRECISIONS, Catalog, UnknownIdError, default_catalog
from swarmscale.catalog.audit import audit, audit_record
from swarmscale.catalog.schemas import Quantity

REQUIRED_CHIPS = (
    "h100-sxm", "h200-sxm", "h800-sxm", "h20", "a100-sxm-80gb", "a800-sxm", "b200", "gb200",
    "mi300x", "ascend-910b", "ascend-910c", "mlu370-x8", "mlu590", "br100", "br104",
    "metax-c500", "thead-ppu", "hygon-k100", "mtt-s4000",
)  # fmt: skip
REQUIRED_MODELS = (
    "gpt3-175b", "llama3-8b", "llama3-70b", "llama3-405b", "llama2-70b", "deepseek-v3",
    "mixtral-8x7b", "megatron-gpt-1t", "qwen3-235b-a22b", "pangu-ultra-135b",
)  # fmt: skip
CHIPS = default_catalog().chips


def test_required_ids_present(catalog: Catalog) -> None:
    assert set(REQUIRED_CHIPS) <= set(catalog.chips)
    assert set(REQUIRED_MODELS) <= set(catalog.models)
    assert {"hgx-h100-8", "gb200-nvl72", "cloudmatrix-384"} <= set(catalog.systems)


def test_every_number_has_a_source(catalog: Catalog) -> None:
    report = audit(catalog)
    assert report.unsourced == []
    assert report.quantities > 200


def test_audit_flags_a_number_without_a_source(catalog: Catalog) -> None:
    moe_block = catalog.model("deepseek-v3").moe
    assert moe_block is not None
    report = audit_record(moe_block, "moe")
    assert "moe.experts" in report.unsourced


@pytest.mark.parametrize("chip_id", sorted(CHIPS))
def test_chip_conformance(chip_id: str) -> None:
    chip = CHIPS[chip_id]
    quantities: list[Quantity] = [
        chip.memory, chip.memory_bandwidth, chip.scale_up_bandwidth, chip.scale_up_domain,
        chip.scale_out_bandwidth, chip.tdp, chip.price,
    ]  # fmt: skip
    quantities += [getattr(chip.peak, p) for p in PRECISIONS if getattr(chip.peak, p)]
    for quantity in quantities:
        assert quantity.source.strip()
        if quantity.value is not None:
            assert quantity.value >= 0
        else:
            assert quantity.note
    assert chip.peak.bf16 is not None, "every AI accelerator has a 16-bit format"
    known = [
        getattr(chip.peak, p).value
        for p in ("fp8", "bf16", "tf32", "fp32")
        if getattr(chip.peak, p) is not None and getattr(chip.peak, p).value is not None
    ]
    assert known == sorted(known, reverse=True), "lower precision is never slower at peak"


def test_h100_datasheet_numbers(catalog: Catalog) -> None:
    """NVIDIA H100 datasheet (SXM): 989 TFLOPS dense BF16, 80 GB, 3.35 TB/s, 700 W."""
    h100 = catalog.chip("h100-sxm")
    assert h100.peak_flops("bf16") == pytest.approx(989e12)
    assert h100.memory.value == pytest.approx(80e9)
    assert h100.memory_bandwidth.value == pytest.approx(3.35e12)
    assert h100.tdp.value == 700


def test_h800_differs_from_h100_only_in_nvlink(catalog: Catalog) -> None:
    """Reference note 6: same GH100 die; NVLink 400 vs 900 GB/s."""
    h100, h800 = catalog.chip("h100-sxm"), catalog.chip("h800-sxm")
    assert h800.peak_flops("bf16") == h100.peak_flops("bf16")
    assert h800.memory_bandwidth.value == h100.memory_bandwidth.value
    assert h800.scale_up_bandwidth.require() < h100.scale_up_bandwidth.require()


def test_unknown_id_suggests_close_match(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match="did you mean h100-sxm"):
        catalog.chip("h100-sx")


def test_aliases_resolve(catalog: Catalog) -> None:
    assert catalog.chip("H100").id == "h100-sxm"


def test_export_controls_are_dated_and_known(catalog: Catalog) -> None:
    h800_rules = catalog.controls_for("h800-sxm")
    assert any(rule.date.isoformat().startswith("2023-10") for rule in h800_rules)
    assert any(rule.date.isoformat().startswith("2025-04") for rule in catalog.controls_for("h20"))


def test_catalog_version_is_stable(catalog: Catalog) -> None:
    from swarmscale.catalog import load_catalog

    assert load_catalog().version == catalog.version
