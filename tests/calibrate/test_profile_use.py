"""A profile is the top efficiency layer of its chip: shipped, chosen by --profile, or dropped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from swarmscale.calibrate.cases import cases_from_profile
from swarmscale.catalog import Catalog, CatalogError, load_catalog
from swarmscale.catalog.loader import DATA_ROOT, PROFILE_ENV, load_profile
from swarmscale.catalog.schemas import DeviceProfile, Measurement
from swarmscale.validate.runner import run_case
from tests.conftest import CliRunner

SHIPPED_PROFILE = DATA_ROOT / "profiles" / "h100-sxm.yaml"
TRAIN = ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "8",
         "--tokens", "1e12", "--json"]  # fmt: skip


def test_the_shipped_h100_profile_is_the_top_layer(catalog: Catalog) -> None:
    h100 = catalog.chip("h100-sxm")
    profile = load_profile(SHIPPED_PROFILE)
    measured = catalog.efficiency_for(h100)
    assert measured.applies_to == f"profile {profile.id}"
    assert profile.efficiency.gemm is not None
    assert measured.gemm == profile.efficiency.gemm
    # Factors a single device cannot measure are inherited from the stack.
    datasheet = catalog.without_profiles().efficiency_for(h100)
    assert measured.scale_out == datasheet.scale_out
    assert catalog.without_profiles().version != catalog.version
    # Other chips are untouched.
    a100 = catalog.chip("a100-sxm-80gb")
    assert catalog.efficiency_for(a100) == catalog.without_profiles().efficiency_for(a100)


def _best_days(run_cli: CliRunner, args: list[str]) -> float:
    code, out, err = run_cli(args)
    assert code == 0, err
    return float(json.loads(out)["best"]["totals"]["time_days"])


def _faster_profile(tmp_path: Path, gemm: float) -> Path:
    document = yaml.safe_load(SHIPPED_PROFILE.read_text())
    document["profiles"][0]["efficiency"]["gemm"].update(value=gemm, low=gemm, high=gemm)
    path = tmp_path / "faster.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_profile_option_changes_predictions_the_right_way(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    shipped = _best_days(run_cli, TRAIN)
    faster_file = str(_faster_profile(tmp_path, 0.95))
    faster = _best_days(run_cli, ["--profile", faster_file, *TRAIN])
    assert faster < shipped
    # The option may follow the command, as users type it.
    assert _best_days(run_cli, [*TRAIN, "--profile", faster_file]) == faster
    assert _best_days(run_cli, [*TRAIN, f"--profile={faster_file}"]) == faster
    assert _best_days(run_cli, ["--profile", "none", *TRAIN]) != shipped


def test_the_environment_chooses_the_profile_too(
    run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = _best_days(run_cli, TRAIN)
    monkeypatch.setenv(PROFILE_ENV, str(_faster_profile(tmp_path, 0.95)))
    assert _best_days(run_cli, TRAIN) < shipped


def test_an_option_does_not_outlive_its_command(run_cli: CliRunner) -> None:
    before = os.environ.get(PROFILE_ENV)
    run_cli(["--profile", "none", "chips", "--json"])
    assert os.environ.get(PROFILE_ENV) == before


def test_a_missing_profile_file_is_bad_input(run_cli: CliRunner, tmp_path: Path) -> None:
    code, out, err = run_cli(["--profile", str(tmp_path / "absent.yaml"), "chips"])
    assert code == 2 and not out and "absent.yaml: no such file" in err


def test_model_level_measurements_become_cases_the_validator_predicts(catalog: Catalog) -> None:
    """The GPT that calibrate times is predicted as an inline architecture on one chip."""
    shape = {"layers": 12, "d_model": 768, "heads": 12, "ffn_hidden": 3072, "vocab": 50304}
    profile = load_profile(SHIPPED_PROFILE)
    runs = (
        Measurement(part="train_step", shape={**shape, "batch": 16, "seq": 1024}, seconds=0.2),
        Measurement(part="decode_step", shape={**shape, "batch": 8, "context": 1024}, seconds=2e-3),
        Measurement(part="prefill", shape={**shape, "batch": 1, "prompt": 2048}, seconds=0.02),
    )
    with_runs = DeviceProfile.model_validate(
        {**profile.model_dump(), "measurements": (*profile.measurements, *runs)}
    )
    cases = cases_from_profile(with_runs)
    assert [case.kind for case in cases] == ["training", "inference", "inference"]
    train, decode, prefill = cases
    assert train.measured["tokens_per_s"] == pytest.approx(16 * 1024 / 0.2)
    assert decode.measured["tokens_per_s"] == pytest.approx(8 / 2e-3)
    assert prefill.measured["ttft_s"] == 0.02
    # The cases say what measure.py ran: eager PyTorch with a plain cross-entropy, an eager
    # prefill that computes logits for every position, and a graph-replayed decode.
    assert train.software.eager and train.software.autocast and not train.software.fused_loss
    assert prefill.software.all_prompt_logits and prefill.software.eager
    assert not decode.software.eager
    assert not decode.software.serving_engine and not prefill.software.serving_engine
    for case in cases:
        for result in run_case(case, catalog):
            assert result.predicted > 0 and result.split == "test"


def test_chips_sharing_a_die_share_its_measured_layers(catalog: Catalog) -> None:
    """The H800 is an H100 with cut NVLink; the A800 an A100: same die, clocks and HBM."""
    h100, h800 = catalog.chip("h100-sxm"), catalog.chip("h800-sxm")
    assert catalog.efficiency_for(h800) == catalog.efficiency_for(h100)
    a100, a800 = catalog.chip("a100-sxm-80gb"), catalog.chip("a800-sxm")
    assert catalog.efficiency_for(a800).gemm == catalog.efficiency_for(a100).gemm
    # A chip with its own die keeps the stack's estimates.
    h20 = catalog.chip("h20")
    assert catalog.efficiency_for(h20) == catalog.without_profiles().efficiency_for(h20)


def test_an_unknown_die_is_a_catalog_error(catalog_copy: Path) -> None:
    chips = catalog_copy / "chips" / "nvidia.yaml"
    chips.write_text(chips.read_text().replace("same_silicon_as: h100-sxm", "same_silicon_as: h99"))
    with pytest.raises(CatalogError, match="chip 'h800-sxm': same_silicon_as: unknown chip 'h99'"):
        load_catalog(catalog_copy)


def test_chips_show_names_the_efficiency_layer(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["chips", "show", "h800", "--json"])
    assert code == 0
    assert json.loads(out)["efficiency"]["applies_to"].startswith("profile h100-sxm")
    code, out, _ = run_cli(["--profile", "none", "chips", "show", "h800", "--json"])
    assert json.loads(out)["efficiency"]["applies_to"] == "h100-sxm"  # the die's own layer


def test_a_profile_option_without_a_value_is_bad_input(run_cli: CliRunner) -> None:
    code, out, err = run_cli(["chips", "--profile"])
    assert code == 2 and not out and "Error" in err
