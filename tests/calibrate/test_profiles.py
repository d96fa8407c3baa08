"""Deriving factors, writing and reading profiles, importing a microbenchmark, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.calibrate.derive import derive_efficiency
from swarmscale.calibrate.profiles import (
    build_profile,
    chip_for_device,
    import_microbench,
    write_profile,
)
from swarmscale.catalog import Catalog, CatalogError
from swarmscale.catalog.loader import DATA_ROOT, load_profile
from swarmscale.catalog.schemas import EFFICIENCY_FACTORS, Measurement
from swarmscale.perf.compute import GemmRates, gemm_time
from tests.conftest import CliRunner, apply_edits

MICROBENCH = DATA_ROOT / "measurements" / "h100-microbench.jsonl"
SHIPPED_PROFILE = DATA_ROOT / "profiles" / "h100-sxm.yaml"


def _synthetic_gemms(catalog: Catalog, compute: float, memory: float) -> list[Measurement]:
    """GEMM times the model itself predicts for known factors, on both sides of the ridge."""
    h100 = catalog.chip("h100-sxm")
    rows = []
    for m in (1, 8, 64, 256, 1024, 4096, 16384):
        rates = GemmRates(h100.peak_flops("bf16") * compute,
                          h100.memory_bandwidth.require() * memory, 2.0, 2.0, 4e-6)  # fmt: skip
        seconds = float(gemm_time(m, 8192, 8192, rates))
        rows.append(Measurement(part="gemm", shape={"m": m, "k": 8192, "n": 8192},
                                seconds=seconds, flops=2.0 * m * 8192 * 8192,
                                bytes=2.0 * (2 * m * 8192 + 8192 * 8192)))  # fmt: skip
    return rows


def test_the_gemm_fit_recovers_known_factors(catalog: Catalog) -> None:
    h100 = catalog.chip("h100-sxm")
    prior = catalog.without_profiles().efficiency_for(h100)
    derived = derive_efficiency(h100, _synthetic_gemms(catalog, 0.71, 0.83), prior, "synthetic")
    assert derived.efficiency.gemm is not None and derived.efficiency.gemm_memory is not None
    assert derived.efficiency.gemm.value == pytest.approx(0.71, rel=1e-3)
    assert derived.efficiency.gemm_memory.value == pytest.approx(0.83, rel=1e-3)
    assert derived.fits[0].max_abs_error < 1e-3
    # Nothing else was measured, so nothing else is claimed.
    assert derived.efficiency.attention is None and derived.efficiency.memory is None


def test_copy_bandwidth_and_launches_become_memory_and_overhead(catalog: Catalog) -> None:
    h100 = catalog.chip("h100-sxm")
    rows = [
        Measurement(part="copy", shape={"mib": 1024}, seconds=1e-3, bytes=2.68e9),
        Measurement(part="copy", shape={"mib": 4}, seconds=1e-5, bytes=8.4e6),
        Measurement(part="launch", seconds=3e-6),
    ]
    derived = derive_efficiency(h100, rows, catalog.efficiency_for(h100), "synthetic").efficiency
    assert derived.memory is not None and derived.kernel_overhead is not None
    # Only the large copy counts: 2.68 TB/s of 3.35.
    assert derived.memory.value == pytest.approx(0.8)
    assert derived.kernel_overhead.value == pytest.approx(3e-6)


def test_the_shared_microbenchmark_imports_to_the_shipped_profile(catalog: Catalog) -> None:
    """catalog/data/profiles/h100-sxm.yaml is what `calibrate --import` makes of the file."""
    run = import_microbench(MICROBENCH)
    assert run.device_name == "NVIDIA H100 80GB HBM3"
    assert len(run.measurements) == 15
    profile, _ = build_profile(catalog, catalog.chip("h100-sxm"), run)
    shipped = load_profile(SHIPPED_PROFILE)
    assert profile.measurements == shipped.measurements
    for factor in EFFICIENCY_FACTORS:
        mine, theirs = getattr(profile.efficiency, factor), getattr(shipped.efficiency, factor)
        assert (mine is None) == (theirs is None), factor
        if mine is not None:  # a least-squares fit: equal up to its tolerance
            assert mine.value == pytest.approx(theirs.value, rel=1e-5), factor
    # 763 TFLOPS of 989 on the 8192^3 GEMM; 2,995 GB/s of 3,350 on the copy.
    assert profile.efficiency.memory is not None
    assert profile.efficiency.memory.value == pytest.approx(2994.93 / 3350, rel=1e-4)


def test_a_written_profile_reads_back_equal(catalog: Catalog, tmp_path: Path) -> None:
    profile, _ = build_profile(catalog, catalog.chip("h100-sxm"), import_microbench(MICROBENCH))
    path = tmp_path / "p.yaml"
    write_profile(profile, path)
    assert load_profile(path) == profile
    assert [p.name for p in tmp_path.iterdir()] == ["p.yaml"]  # no temporary left behind


@pytest.mark.parametrize(
    ("device", "chip"),
    [("NVIDIA H100 80GB HBM3", "h100-sxm"), ("NVIDIA A100-SXM4-80GB", "a100-sxm-80gb"),
     ("NVIDIA H200", "h200-sxm")],
)  # fmt: skip
def test_device_names_map_to_chips(catalog: Catalog, device: str, chip: str) -> None:
    assert chip_for_device(catalog, device).id == chip


def test_an_unknown_device_asks_for_the_chip(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match="--chip"):
        chip_for_device(catalog, "NVIDIA V100-SXM2-32GB")


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


GEMM_ROW = {
    "part": "gemm",
    "M": 4,
    "K": 8,
    "N": 8,
    "seconds": 1e-5,
    "TFLOPs": 2 * 4 * 64 / 1e-5 / 1e12,
    "device_name": "NVIDIA H100 80GB HBM3",
}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{**GEMM_ROW, "part": "fft"}], r"h\.jsonl:1: field 'part': 'fft'; allowed: env, ceilings"),
        ([{**GEMM_ROW, "TFLOPs": 999.0}], "field 'TFLOPs' disagrees"),
        ([{k: v for k, v in GEMM_ROW.items() if k != "seconds"}], "field 'seconds' is missing"),
        ([GEMM_ROW, {**GEMM_ROW, "device_name": "NVIDIA A100"}], "expected one device"),
        (
            [{"part": "ceilings", "what": "fp4_gemm_1_TFLOPs", "value": 1.0, "device_name": "x"}],
            "field 'what'",
        ),
    ],
)
def test_bad_microbenchmarks_name_line_and_field(
    tmp_path: Path, rows: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(CatalogError, match=message):
        import_microbench(_jsonl(tmp_path / "h.jsonl", rows))


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(json.dumps(GEMM_ROW) + "\n{not json\n")
    with pytest.raises(CatalogError, match=r"h\.jsonl:2: not valid JSON"):
        import_microbench(path)


def _edited_profile(tmp_path: Path, edit: dict[str, object]) -> Path:
    document = yaml.safe_load(SHIPPED_PROFILE.read_text())
    apply_edits(document["profiles"][0], edit)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"efficiency.gemm.value": 1.2, "efficiency.gemm.high": 1.3}, "field 'efficiency': gemm"),
        ({"efficiency.applies_to": "a100-sxm-80gb"}, "field 'efficiency': applies_to"),
        (
            {"chip": "v100-sxm2", "efficiency.applies_to": "v100-sxm2"},
            "field 'chip': unknown chip 'v100-sxm2'",
        ),
        ({"measurements": []}, "field 'measurements'"),
    ],
)
def test_bad_profiles_exit_2_naming_file_and_field(
    tmp_path: Path, run_cli: CliRunner, edit: dict[str, object], message: str
) -> None:
    path = _edited_profile(tmp_path, edit)
    code, out, err = run_cli(["--profile", str(path), "chips"])
    assert code == 2 and not out
    assert str(path) in err and message in err


def test_import_without_a_gpu_writes_the_profile(tmp_path: Path, run_cli: CliRunner) -> None:
    target = tmp_path / "out" / "h100.yaml"
    code, out, _ = run_cli(
        ["calibrate", "--import", str(MICROBENCH), "--out", str(target), "--json"]
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["chip"] == "h100-sxm" and payload["measurements"] == 15
    assert load_profile(target).chip == "h100-sxm"


def test_a_bad_import_writes_nothing(tmp_path: Path, run_cli: CliRunner) -> None:
    bad = _jsonl(tmp_path / "bad.jsonl", [{**GEMM_ROW, "part": "fft"}])
    target = tmp_path / "never.yaml"
    code, _, err = run_cli(["calibrate", "--import", str(bad), "--out", str(target)])
    assert code == 2 and "field 'part'" in err
    assert not target.exists()


@settings(max_examples=25, deadline=None)
@given(
    compute=st.floats(0.2, 0.95),
    memory=st.floats(0.2, 1.2),
    noise=st.lists(st.floats(0.7, 1.4), min_size=7, max_size=7),
)
def test_fitted_factors_stay_finite_and_bounded(
    catalog: Catalog, compute: float, memory: float, noise: list[float]
) -> None:
    """Whatever the timings, the fit returns finite fractions inside the physical bounds, and
    noise-free timings give back the factors that made them."""
    h100 = catalog.chip("h100-sxm")
    prior = catalog.without_profiles().efficiency_for(h100)
    clean = _synthetic_gemms(catalog, compute, memory)
    exact = derive_efficiency(h100, clean, prior, "synthetic").efficiency
    assert exact.gemm is not None and exact.gemm_memory is not None
    assert exact.gemm.value == pytest.approx(compute, rel=1e-3)
    assert exact.gemm_memory.value == pytest.approx(memory, rel=1e-3)
    noisy = [
        row.model_copy(update={"seconds": (row.seconds or 0) * f})
        for row, f in zip(clean, noise, strict=True)
    ]
    derived = derive_efficiency(h100, noisy, prior, "synthetic").efficiency
    for quantity, upper in ((derived.gemm, 1.0), (derived.gemm_memory, 1.5)):
        assert quantity is not None and quantity.value is not None
        assert math.isfinite(quantity.value) and 0.01 <= quantity.value <= upper
