"""Serving planner: designs meet their targets; impossible targets say which one binds."""

from __future__ import annotations

import json

import pytest

from swarmscale.catalog import Catalog
from swarmscale.hardware import build_cluster
from swarmscale.plan.serving import NoServingPlanError, ServingTarget, design
from swarmscale.workload import InferenceJob
from tests.conftest import CliRunner


def test_design_meets_both_targets(catalog: Catalog) -> None:
    job = InferenceJob(catalog.model("llama3-70b"), "fp8", kv_bytes=1.0)
    target = ServingTarget(rate=20, input_len=2000, output_len=300, ttft_s=2.0, tpot_s=0.05)
    result = design(job, build_cluster(catalog, "h100-sxm", 1_000_000), target)
    assert result.state.ttft_s <= 2.0 and result.state.tpot_s <= 0.05
    assert result.chips == result.replicas * result.plan.chips
    assert result.output_tokens_per_s_per_chip == pytest.approx(20 * 300 / result.chips)


def test_disaggregated_design_has_a_prefill_pool(catalog: Catalog) -> None:
    job = InferenceJob(catalog.model("llama3-70b"), "fp8", kv_bytes=1.0)
    target = ServingTarget(rate=20, input_len=2000, output_len=300, ttft_s=2.0, tpot_s=0.05)
    result = design(job, build_cluster(catalog, "h100-sxm", 1_000_000), target, disaggregate=True)
    assert result.prefill_plan is not None and result.prefill_replicas >= 1


def test_unmeetable_tpot_names_the_constraint(catalog: Catalog) -> None:
    job = InferenceJob(catalog.model("llama3-405b"), "bf16")
    target = ServingTarget(rate=1, input_len=1000, output_len=100, ttft_s=10.0, tpot_s=0.001)
    with pytest.raises(NoServingPlanError, match="tightest constraint: TPOT"):
        design(job, build_cluster(catalog, "h20", 1_000_000), target)


def test_serve_cli_compare(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(
        [
            "serve",
            "--model",
            "llama3-70b",
            "--chip",
            "h100-sxm",
            "--rate",
            "10",
            "--input",
            "1000",
            "--output",
            "200",
            "--precision",
            "fp8",
            "--compare",
            "ascend-910c",
            "--json",
        ]
    )
    assert code == 0
    designs = json.loads(out)["designs"]
    assert [d["chip"] for d in designs] == ["h100-sxm", "ascend-910c"]
    assert designs[0]["throughput_ratio"] == 1.0


def test_serve_cli_impossible_slo_exits_2(run_cli: CliRunner) -> None:
    code, out, err = run_cli(
        [
            "serve",
            "--model",
            "llama3-405b",
            "--chip",
            "h20",
            "--rate",
            "1",
            "--input",
            "1000",
            "--output",
            "100",
            "--tpot",
            "0.001",
        ]
    )
    assert code == 2 and out == "" and "tightest constraint" in err


def test_serve_sim_cli_json(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(
        [
            "serve-sim",
            "--model",
            "llama3-8b",
            "--chip",
            "h100-sxm",
            "--trace",
            "azure-code",
            "--requests",
            "300",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(out)["summary"]
    assert summary["requests"] == 300 and 0 <= summary["slo_attainment"] <= 1
