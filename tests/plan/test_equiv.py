"""Chip equivalence at one-chip granularity, the reference on exactly its count, and the
nearby-counts message that `train` and `equiv` give when a count admits no plan."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.catalog import Catalog, default_catalog
from swarmscale.hardware import build_cluster
from swarmscale.plan.equiv import fastest_step_s, fleet_it_power_w, training_equivalence
from swarmscale.plan.search import NoPlanError, enumerate_plans, plan_counts, search
from swarmscale.workload import TrainingJob
from tests.conftest import CliRunner

CATALOG = default_catalog()
JOB_70B = TrainingJob(CATALOG.model("llama3-70b"), 4096, 1024)  # 4M-token batches


def test_h800_count_is_the_fewest_single_chips(catalog: Catalog) -> None:
    """64 H100 -> 72 H800: 64 H800 step slower (H800's NVLink is 400 GB/s, not 900) and no
    count from 65 to 71 steps as fast."""
    result = training_equivalence(catalog, JOB_70B, "h100-sxm", 64, "h800-sxm")
    assert result.candidate_chips == 72
    assert result.candidate_value is not None
    assert result.time_ratio == pytest.approx(result.candidate_value / result.reference_value)
    assert result.time_ratio <= 1.0
    below = fastest_step_s(JOB_70B, build_cluster(catalog, "h800-sxm", 64))
    assert math.isfinite(below) and below > result.reference_value
    for count in range(1, 72):
        step = fastest_step_s(JOB_70B, build_cluster(catalog, "h800-sxm", count))
        assert step > result.reference_value


def test_910c_count_need_not_fill_a_supernode(catalog: Catalog) -> None:
    """1,024 H100 -> 2,048 910C (5.33 CloudMatrix 384 supernodes), step within the reference's."""
    result = training_equivalence(
        catalog, JOB_70B, "h100-sxm", 1024, "ascend-910c", "hgx-h100-8", "cloudmatrix-384"
    )
    assert result.candidate_chips == 2048 and result.candidate_chips % 384 != 0
    assert result.time_ratio is not None and 0.5 < result.time_ratio <= 1.0
    reference = build_cluster(catalog, "h100-sxm", 1024, "hgx-h100-8")
    candidate = build_cluster(catalog, "ascend-910c", 2048, "cloudmatrix-384")
    assert result.power_ratio == pytest.approx(
        fleet_it_power_w(candidate, 2048) / fleet_it_power_w(reference, 1024)
    )
    # CloudMatrix 384: 559 kW for 384 chips, hosts and network included (SemiAnalysis).
    load = catalog.assumptions.chip_load.require()
    assert fleet_it_power_w(candidate, 384) == pytest.approx(load * 559e3)


def test_reference_runs_on_exactly_its_count(catalog: Catalog) -> None:
    """The reference step is `train --chips N`'s best plan on N chips, not a smaller count;
    960 = 64 x 15 splits badly (15 pipeline stages), so fewer H100 (864 = 96 x 9 with this
    catalog) step as fast."""
    result = training_equivalence(catalog, JOB_70B, "h100-sxm", 960, "h100-sxm")
    cluster = build_cluster(catalog, "h100-sxm", 960)
    best = search(JOB_70B, cluster, "time", top_k=1).best
    assert best is not None and best.plan.chips == 960
    assert result.reference_value == pytest.approx(float(best.totals["step_s"]))
    assert result.candidate_chips < 960
    assert result.time_ratio is not None and result.time_ratio <= 1.0


def test_reference_without_a_plan_names_nearby_counts(catalog: Catalog) -> None:
    """1,000 = 8 x 125: dp must divide the 1,024-sequence batch, so tp x pp x cp would hold
    125; the nearest counts with a plan are 960 = 64 x 15 and 1,024."""
    with pytest.raises(ValueError) as error:
        training_equivalence(catalog, JOB_70B, "h100-sxm", 1000, "ascend-910c")
    assert str(error.value) == (
        "reference 1,000 h100-sxm: no plan fits exactly 1,000 chips for llama3-70b with a "
        "global batch of 1,024 sequences; nearby counts that work: 960, 1,024"
    )


def test_search_names_nearby_counts_only_when_it_picks_the_counts(catalog: Catalog) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 1000)
    with pytest.raises(NoPlanError) as error:
        search(JOB_70B, cluster)
    assert str(error.value) == (
        "no plan fits exactly 1,000 chips for llama3-70b with a global batch "
        "of 1,024 sequences; nearby counts that work: 960, 1,024"
    )
    with pytest.raises(NoPlanError) as fixed:
        search(JOB_70B, cluster, "time", {"chips": 1000})
    assert "nearby" not in str(fixed.value)


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 600), batch=st.sampled_from([96, 512, 1000]))
def test_plan_counts_are_the_counts_enumerate_plans_accepts(count: int, batch: int) -> None:
    job = TrainingJob(CATALOG.model("llama3-8b"), 4096, batch)
    cluster = build_cluster(CATALOG, "h100-sxm", count)
    try:
        enumerate_plans(job, cluster, {"chips": count}, coarse=True)
        accepted = True
    except NoPlanError:
        accepted = False
    assert (plan_counts(job, {}, count, count) == [count]) == accepted


def test_train_cli_names_nearby_counts(run_cli: CliRunner) -> None:
    code, out, err = run_cli(
        ["train", "--model", "llama3-70b", "--chip", "h100-sxm", "--chips", "1000"]
    )
    assert code == 2 and out == ""
    assert "nearby counts that work: 960, 1,024" in err


def test_equiv_cli_takes_systems(run_cli: CliRunner) -> None:
    ref = ["equiv", "--ref", "h100-sxm:1024@hgx-h100-8", "--model", "llama3-70b", "--json"]
    code, out, _ = run_cli([*ref, "--candidate", "ascend-910c", "--system", "cloudmatrix-384"])
    assert code == 0
    payload = json.loads(out)
    assert payload["candidate_chips"] == 2048 and payload["time_ratio"] <= 1.0
    assert payload["reference_system"] == "hgx-h100-8"
    assert payload["candidate_system"] == "cloudmatrix-384"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("h100-sxm:8,a100-sxm-80gb:8", "--ref takes one CHIP:COUNT[@SYSTEM]"),
        ("h100-sxm", "--ref: item 'h100-sxm' is not CHIP:COUNT[@SYSTEM]"),
        ("h100-sxm:0", "count must be 1 to 1,048,576"),
        ("h100-sxm:-4", "is not CHIP:COUNT[@SYSTEM]"),
        ("h10-sxm:8", "did you mean"),
        ("h100-sxm:8@hgx-h100", "did you mean hgx-h100-8"),
    ],
)
def test_bad_ref_exits_2(ref: str, message: str, run_cli: CliRunner) -> None:
    code, out, err = run_cli(
        ["equiv", "--ref", ref, "--candidate", "ascend-910c", "--model", "llama3-70b"]
    )
    assert code == 2 and out == "" and message in err
