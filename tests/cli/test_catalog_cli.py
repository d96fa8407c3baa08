"""CLI verbs over the catalog: JSON contract, exit codes, did-you-mean errors."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CliRunner


def test_chips_json_lists_every_chip_with_sourced_specs(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["chips", "--json"])
    assert code == 0
    payload = json.loads(out)
    ids = {chip["id"] for chip in payload["chips"]}
    assert {"h100-sxm", "ascend-910c", "mlu590", "thead-ppu"} <= ids
    for chip in payload["chips"]:
        for key in ("memory", "memory_bandwidth", "tdp", "price"):
            assert chip[key]["source"] and chip[key]["kind"]


def test_chips_show_unknown_id_exits_2_with_suggestion(run_cli: CliRunner) -> None:
    code, out, err = run_cli(["chips", "show", "ascend-910"])
    assert code == 2
    assert out == ""
    assert "did you mean" in err and "ascend-910b" in err


def test_models_show_json(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["models", "show", "deepseek-v3", "--json"])
    assert code == 0
    payload = json.loads(out)
    assert payload["params"]["total"] == pytest.approx(671e9, rel=0.01)


def test_compare_specs_ratios(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["compare-specs", "h100-sxm", "h800-sxm", "--json"])
    assert code == 0
    rows = {row["field"]: row for row in json.loads(out)["rows"]}
    assert rows["peak.bf16"]["values"]["h800-sxm"]["ratio"] == pytest.approx(1.0)
    assert rows["scale_up_bandwidth"]["values"]["h800-sxm"]["ratio"] == pytest.approx(400 / 900)


def test_compare_specs_shows_fp4_where_a_chip_has_the_unit(run_cli: CliRunner) -> None:
    """B200's dense FP4 is 9 PFLOPS (NVIDIA Blackwell datasheet); Hopper has no FP4 unit."""
    code, out, _ = run_cli(["compare-specs", "h100-sxm", "b200", "--json"])
    assert code == 0
    fp4 = {row["field"]: row for row in json.loads(out)["rows"]}["peak.fp4"]["values"]
    assert fp4["b200"]["value"] == pytest.approx(9000)
    assert fp4["h100-sxm"]["state"] == "absent"


def test_catalog_check_passes(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["catalog", "check", "--json"])
    assert code == 0
    payload = json.loads(out)
    assert payload["ok"] and payload["unsourced"] == []


def test_headline_prints_article_chips(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["headline"])
    assert code == 0
    assert "ascend-910c" in out and "h100-sxm" in out


def test_bad_option_exits_2(run_cli: CliRunner) -> None:
    code, _, _ = run_cli(["chips", "--no-such-flag"])
    assert code == 2
