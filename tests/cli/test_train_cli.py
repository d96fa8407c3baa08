"""`swarmscale train`: JSON contract, fixed plans and input errors."""

from __future__ import annotations

import json

import pytest

from swarmscale.plan.swarm import batch_sequences
from tests.conftest import CliRunner


def test_train_json(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(
        [
            "train",
            "--model",
            "llama3-8b",
            "--chip",
            "h100-sxm",
            "--chips",
            "64",
            "--tokens",
            "1e12",
            "--plan",
            "tp=2",
            "--json",
        ]
    )
    assert code == 0
    payload = json.loads(out)
    best = payload["best"]
    assert best["plan"]["tp"] == 2 and best["feasible"]
    assert 0.2 < best["mfu"] < 0.7
    assert best["totals"]["chip_hours"] > 0 and best["totals"]["cost_usd"] > 0


def test_train_human_output(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(
        [
            "train",
            "--model",
            "llama3-70b",
            "--chip",
            "ascend-910b",
            "--chips",
            "512",
            "--tokens",
            "1e12",
        ]
    )
    assert code == 0
    assert "best plan" in out and "time to train" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plan", "tp=x"], "plan field tp"),
        (["--objective", "speed"], "--objective"),
        (["--precision", "int4"], "--precision"),
        (
            ["--precision", "fp4"],
            "precision fp4: h100-sxm has no fp4 unit to train with (it trains at bf16, fp8)",
        ),
        (["--model", "llama-3"], "did you mean"),
    ],
)
def test_train_bad_input_exits_2(args: list[str], message: str, run_cli: CliRunner) -> None:
    base = ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "8"]
    code, out, err = run_cli(base + args)
    assert code == 2 and out == "" and message in err


def test_batch_rounding_keeps_powers_of_two() -> None:
    assert batch_sequences(16e6, 8192) == 2048
    assert batch_sequences(4e6, 4096) == 1024
    assert batch_sequences(100, 4096) == 1


def test_software_options_reach_the_model(run_cli: CliRunner) -> None:
    """`--software` sets framework options: Hopper's tuned attention kernels raise MFU on a
    job whose attention matters (8K sequences)."""
    base = ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "8", "--seq",
            "8192", "--plan", "tp=1,pp=1,dp=8,mb=1,recompute=none", "--json"]  # fmt: skip
    code, plain, _ = run_cli(base)
    assert code == 0
    code, tuned, _ = run_cli([*base, "--software", "tuned_attention=true"])
    assert code == 0
    assert json.loads(tuned)["best"]["mfu"] > json.loads(plain)["best"]["mfu"]


@pytest.mark.parametrize(
    ("software", "named"),
    [
        ("bogus=1", "must be one of fused_attention"),
        ("eager=maybe", "must be true or false"),
        ("activation_offload_layers=-3", "whole number of layers"),
        ("eager", "expected key=value"),
        ("eager=true,eager=false", "given twice"),
    ],
)
def test_bad_software_options_exit_2_naming_the_option(
    run_cli: CliRunner, software: str, named: str
) -> None:
    code, _, err = run_cli(
        ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "8",
         "--software", software]
    )  # fmt: skip
    assert code == 2
    assert named in err
