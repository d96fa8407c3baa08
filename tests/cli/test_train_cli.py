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
        (["--precision", "fp4"], "--precision"),
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
