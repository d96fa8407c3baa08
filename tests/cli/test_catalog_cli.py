"""CLI verbs over the catalog: JSON contract, exit codes, did-you-mean errors."""

from __future__ import annotations

import json

import pytest

from swarmscale.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def test_chips_json_lists_every_chip_with_sourced_specs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["chips", "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    ids = {chip["id"] for chip in payload["chips"]}
    assert {"h100-sxm", "ascend-910c", "mlu590", "thead-ppu"} <= ids
    for chip in payload["chips"]:
        for key in ("memory", "memory_bandwidth", "tdp", "price"):
            assert chip[key]["source"] and chip[key]["kind"]


def test_chips_show_unknown_id_exits_2_with_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["chips", "show", "ascend-910"], capsys)
    assert code == 2
    assert out == ""
    assert "did you mean" in err and "ascend-910b" in err


def test_models_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["models", "show", "deepseek-v3", "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["params"]["total"] == pytest.approx(671e9, rel=0.01)


def test_compare_specs_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compare-specs", "h100-sxm", "h800-sxm", "--json"], capsys)
    assert code == 0
    rows = {row["field"]: row for row in json.loads(out)["rows"]}
    assert rows["peak.bf16"]["values"]["h800-sxm"]["ratio"] == pytest.approx(1.0)
    assert rows["scale_up_bandwidth"]["values"]["h800-sxm"]["ratio"] == pytest.approx(400 / 900)


def test_catalog_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["catalog", "check", "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["ok"] and payload["unsourced"] == []


def test_headline_prints_article_chips(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["headline"], capsys)
    assert code == 0
    assert "ascend-910c" in out and "h100-sxm" in out


def test_bad_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["chips", "--no-such-flag"], capsys)
    assert code == 2
