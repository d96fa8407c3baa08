"""The shipped validation cases meet the accuracy targets; the CLI keeps its contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarmscale.catalog import Catalog, CatalogError
from swarmscale.catalog.loader import SHIPPED_CASES, load_cases
from swarmscale.report.validation import profile_section
from swarmscale.validate.fit import fit_factor
from swarmscale.validate.runner import profile_pairs, run_case, run_cases, summarize
from tests.conftest import CliRunner

TRAINING = SHIPPED_CASES / "training.yaml"


def test_shipped_training_cases_meet_targets(catalog: Catalog) -> None:
    """Issue 3: median |error| <= 10%, max <= 25% on the shipped training cases."""
    summary = summarize(run_cases(load_cases(TRAINING), catalog))
    assert summary["n"] >= 15
    assert summary["median_abs_error"] is not None and summary["median_abs_error"] <= 0.10
    assert summary["max_abs_error"] is not None and summary["max_abs_error"] <= 0.25


def test_shipped_inference_cases_meet_targets(catalog: Catalog) -> None:
    """Issue 4: median |error| <= 15%, max <= 30% on the shipped inference cases."""
    summary = summarize(run_cases(load_cases(SHIPPED_CASES / "inference.yaml"), catalog))
    assert summary["n"] >= 10
    assert summary["median_abs_error"] is not None and summary["median_abs_error"] <= 0.15
    assert summary["max_abs_error"] is not None and summary["max_abs_error"] <= 0.30


def test_fit_reproduces_the_catalog_value_and_ignores_test_cases(catalog: Catalog) -> None:
    cases = load_cases(TRAINING)
    fitted = fit_factor(cases, catalog, "a100-sxm-80gb", "gemm").fitted
    a100 = catalog.efficiency_for(catalog.chip("a100-sxm-80gb"))
    assert fitted == pytest.approx(a100.gemm.require())
    tampered = [
        case.model_copy(update={"measured": {k: v * 3 for k, v in case.measured.items()}})
        if case.split == "test" else case
        for case in cases
    ]  # fmt: skip
    assert fit_factor(tampered, catalog, "a100-sxm-80gb", "gemm").fitted == fitted


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(body)
    return path


SINGLE_GPU = """
cases:
  - id: h100-gpt-1.3b-inline
    kind: training
    source: "hand-written test case"
    architecture: {layers: 24, d_model: 2048, heads: 16, kv_heads: 16, ffn_hidden: 8192,
                   vocab: 50304, activation: gelu, tied_embeddings: true}
    chip: h100-sxm
    chips: 1
    precision: bf16
    seq_len: 2048
    global_batch: 4
    micro_batch: 4
    plan: {tp: 1, pp: 1, dp: 1}
    measured: {tokens_per_s: 49217}
"""


def test_validate_json_contract_with_inline_single_gpu_case(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    code, out, _ = run_cli(["validate", str(_write(tmp_path, SINGLE_GPU)), "--json"])
    assert code == 0
    payload = json.loads(out)
    (case,) = payload["cases"]
    assert set(case) >= {"id", "kind", "metric", "measured", "predicted", "error"}
    assert case["error"] == pytest.approx(case["predicted"] / case["measured"] - 1)
    assert payload["summary"]["n"] == 1


@pytest.mark.parametrize(
    ("replace", "field"),
    [
        (("chips: 1", "chips: -1"), "chips"),
        (("bf16", "bf12"), "precision"),
        (("tokens_per_s", "ttft_s"), "measured"),
        (("    plan: {tp: 1, pp: 1, dp: 1}\n", ""), None),
    ],
)
def test_bad_case_file_exits_2_naming_case_and_field(
    tmp_path: Path,
    run_cli: CliRunner,
    replace: tuple[str, str],
    field: str | None,
) -> None:
    body = SINGLE_GPU.replace(*replace)
    if field is None:
        body = body.replace("    global_batch: 4\n", "")
        field = "global_batch"
    code, out, err = run_cli(["validate", str(_write(tmp_path, body))])
    assert code == 2 and out == ""
    assert "h100-gpt-1.3b-inline" in err and field in err


def test_unknown_case_key_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, SINGLE_GPU.replace("chips: 1", "chips: 1\n    colour: red"))
    with pytest.raises(CatalogError, match="colour"):
        load_cases(path)


def test_validate_markdown_report(tmp_path: Path, run_cli: CliRunner) -> None:
    out_file = tmp_path / "validation.md"
    code, _, _ = run_cli(["validate", str(TRAINING), "--markdown", str(out_file)])
    assert code == 0
    text = out_file.read_text()
    assert "| training, fit split |" in text and "## Fit: `gemm` of `a100-sxm-80gb`" in text


def test_profile_section_compares_each_profiled_case_without_and_with(catalog: Catalog) -> None:
    """docs/validation.md: single-chip H100 cases predicted with datasheet-derived factors and
    with the shipped H100 profile; cases on other chips are left out."""
    cases = [
        case
        for case in load_cases(SHIPPED_CASES / "inference.yaml")
        if case.id in ("trtllm-llama3-8b-h100x1-1000-1000", "trtllm-llama3-70b-h200x1-1000-1000")
    ]
    pairs = profile_pairs(cases, run_cases(cases, catalog), catalog)
    assert [without.id for without, _ in pairs] == ["trtllm-llama3-8b-h100x1-1000-1000"]
    ((without, with_profile),) = pairs
    assert without.predicted != with_profile.predicted
    expected = run_case(cases[0], catalog.without_profiles())[0].predicted
    assert without.predicted == pytest.approx(expected)
    lines = "\n".join(profile_section(pairs, {cases[0].id}))
    assert f"| {cases[0].id} | tokens_per_s |" in lines
    assert f"{100 * without.error:+.1f}%" in lines and f"{100 * with_profile.error:+.1f}%" in lines
