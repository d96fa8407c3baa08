"""Mixed fleets, swarms, equivalence and goodput."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.catalog import Catalog, default_catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.comm import group_links
from swarmscale.perf.hetero import balanced_shares, cross_kind_sync_s
from swarmscale.perf.reliability import goodput
from swarmscale.plan.equiv import serving_equivalence, training_equivalence
from swarmscale.plan.hetero import plan_mixed
from swarmscale.plan.search import search
from swarmscale.plan.serving import ServingTarget
from swarmscale.plan.swarm import batch_for, swarm_sweep
from swarmscale.workload import InferenceJob, TrainingJob
from tests.conftest import CliRunner

CATALOG = default_catalog()
JOB = TrainingJob(CATALOG.model("llama3-8b"), 4096, 512)


@given(
    batch=st.integers(1, 8192),
    rates=st.lists(st.floats(0.1, 100.0), min_size=1, max_size=4),
    unit=st.sampled_from([1, 2, 8, 16]),
)
def test_balanced_shares_sum_to_the_batch(batch: int, rates: list[float], unit: int) -> None:
    shares = balanced_shares(batch, rates, unit)
    assert sum(shares) == batch and all(share >= 0 for share in shares)


def test_mixed_fleet_of_one_kind_is_the_homogeneous_answer(catalog: Catalog) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 64)
    mixed = plan_mixed(JOB, [cluster])
    alone = search(JOB, cluster, "time", {"chips": 64}, top_k=1, coarse=True)
    assert alone.best is not None
    assert mixed.step_s == pytest.approx(float(alone.best.totals["step_s"]))
    assert mixed.sync_s == 0.0 and mixed.efficiency == pytest.approx(1.0)


@settings(max_examples=8, deadline=None)
@given(
    counts=st.lists(st.sampled_from([16, 32, 64]), min_size=2, max_size=3),
    chips=st.permutations(["h100-sxm", "a100-sxm-80gb", "h800-sxm"]),
)
def test_mixed_fleet_never_beats_the_sum_of_its_parts(counts: list[int], chips: list[str]) -> None:
    clusters = [
        build_cluster(CATALOG, chip, count) for chip, count in zip(chips, counts, strict=False)
    ]
    result = plan_mixed(JOB, clusters)
    assert result.tokens_per_s <= result.sum_of_parts_tokens_per_s * (1 + 1e-9)
    assert sum(kind.batch for kind in result.kinds) == JOB.global_batch


def test_cross_kind_exchange_uses_the_slowest_nic(catalog: Catalog) -> None:
    fast = build_cluster(catalog, "h100-sxm", 64)
    slow = build_cluster(catalog, "a100-sxm-80gb", 64)
    both = cross_kind_sync_s(8e9, [(fast, 64), (slow, 64)])
    expected = 8e9 * 4 / 64 / (25e9 * 0.85) + 2 * 8e-6
    assert both == pytest.approx(expected, rel=1e-6)
    assert cross_kind_sync_s(8e9, [(fast, 64)]) == 0.0


@settings(max_examples=50)
@given(small=st.integers(1, 500_000), factor=st.floats(1.01, 100.0))
def test_goodput_falls_with_chip_count(small: int, factor: float) -> None:
    rate, checkpoint, restart = 1.97e-5, 60.0, 600.0
    fewer = float(goodput(small, rate, checkpoint, restart).fraction)
    more = float(goodput(int(small * factor) + 1, rate, checkpoint, restart).fraction)
    assert more <= fewer


def test_goodput_follows_young(catalog: Catalog) -> None:
    """Young (1974): interval sqrt(2 delta MTBF); Llama 3's failure rate on 16,384 GPUs."""
    assumptions = catalog.assumptions
    assert assumptions.failure_rate.require() == pytest.approx(419 / (54 * 24 * 16384), rel=0.01)
    mtbf = 3600 / (16384 * assumptions.failure_rate.require())
    interval = (2 * 60 * mtbf) ** 0.5
    expected = 1 - 60 / interval - (interval / 2 + 600) / mtbf
    assert float(goodput(16384, assumptions.failure_rate.require(), 60, 600).fraction) == (
        pytest.approx(expected)
    )


def test_fabric_oversubscription_slows_groups_that_leave_a_pod(catalog: Catalog) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 100_000)
    in_pod = float(group_links(cluster, 256, 8).bw)
    across_pods = float(group_links(cluster, 2048, 8).bw)
    across_buildings = float(group_links(cluster, 8192, 8).bw)
    assert in_pod == pytest.approx(50e9 * 0.85)
    assert across_pods == pytest.approx(in_pod / 7)
    assert across_buildings == pytest.approx(in_pod / 49)


def test_swarm_reaches_a_million_chips(catalog: Catalog) -> None:
    job = TrainingJob(catalog.model("llama3-70b"), 4096, 1024)
    points = swarm_sweep(catalog, job, "ascend-910c", 1_000_000, "cloudmatrix-384")
    assert points[-1].chips == 1_000_000 and points[-1].feasible
    goodputs = [p.goodput for p in points]
    assert goodputs == sorted(goodputs, reverse=True)
    powers = [p.power_mw for p in points]
    assert powers == sorted(powers)
    assert all(np.isfinite(p.tokens_per_s) for p in points)


def test_swarm_batch_keeps_the_odd_factor() -> None:
    batch = batch_for(1_000_000, 4096, 1024, 1024)
    assert batch % 15625 == 0 and batch * 4096 >= 1_000_000 * 1024


def test_chip_equals_itself(catalog: Catalog) -> None:
    result = training_equivalence(catalog, JOB, "h100-sxm", 64, "h100-sxm")
    assert result.candidate_chips == 64 and result.power_ratio == pytest.approx(1.0)


def test_h800_needs_a_few_more_chips_than_h100_not_thirty_times(catalog: Catalog) -> None:
    """Reference note 6: same die, NVLink 400 vs 900 GB/s; ~1.0-1.3 H800 per H100."""
    job = TrainingJob(catalog.model("llama3-70b"), 4096, 1024)
    result = training_equivalence(catalog, job, "h100-sxm", 96, "h800-sxm")
    assert result.chips_ratio is not None and 1.0 <= result.chips_ratio <= 1.5


def test_serving_equivalence_with_itself(catalog: Catalog) -> None:
    job = InferenceJob(catalog.model("llama3-8b"), "fp8", kv_bytes=1.0)
    target = ServingTarget(1.0, 1000, 200, 2.0, 0.05)
    result = serving_equivalence(catalog, job, target, "h100-sxm", 10, "h100-sxm")
    assert result.candidate_chips == 10


def test_pessimistic_bound_never_helps(catalog: Catalog) -> None:
    job = InferenceJob(catalog.model("llama3-70b"), "int8", kv_bytes=1.0)
    target = ServingTarget(1.0, 2000, 300, 2.0, 0.05)
    low = serving_equivalence(catalog, job, target, "h100-sxm", 64, "ascend-910c", bound="low")
    high = serving_equivalence(catalog, job, target, "h100-sxm", 64, "ascend-910c", bound="high")
    assert low.candidate_chips is not None and high.candidate_chips is not None
    assert low.candidate_chips >= high.candidate_chips


def test_fleet_cli(run_cli: CliRunner, tmp_path: Path) -> None:
    code, out, _ = run_cli(
        [
            "mixed",
            "--model",
            "llama3-8b",
            "--fleet",
            "h100-sxm:32,a100-sxm-80gb:32@hgx-a100-8",
            "--json",
        ]
    )
    assert code == 0
    payload = json.loads(out)
    assert 0 < payload["efficiency"] <= 1
    plot = tmp_path / "swarm.png"
    code, out, _ = run_cli(
        [
            "swarm",
            "--model",
            "llama3-8b",
            "--chip",
            "h100-sxm",
            "--max-chips",
            "4096",
            "--plot",
            str(plot),
            "--json",
        ]
    )
    assert code == 0 and plot.stat().st_size > 10_000
    assert len(json.loads(out)["series"]) == 2
    code, out, _ = run_cli(
        [
            "equiv",
            "--ref",
            "h100-sxm:64",
            "--candidate",
            "a100-sxm-80gb",
            "--model",
            "llama3-8b",
            "--json",
        ]
    )
    assert code == 0 and json.loads(out)["chips_ratio"] > 1


def test_bad_fleet_spec_exits_2(run_cli: CliRunner) -> None:
    code, _, err = run_cli(["mixed", "--model", "llama3-8b", "--fleet", "h100-sxm"])
    assert code == 2 and "CHIP:COUNT" in err


def test_unknown_nic_blocks_cross_kind_exchange(catalog: Catalog) -> None:
    known = build_cluster(catalog, "h100-sxm", 8)
    unknown = dataclasses.replace(build_cluster(catalog, "h20", 8), scale_out_bw=None)
    assert cross_kind_sync_s(1e9, [(known, 8), (unknown, 8)]) == float("inf")
