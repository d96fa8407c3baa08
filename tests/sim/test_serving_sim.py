"""The serving simulator against the analytical steady state, on real and synthetic traces."""

from __future__ import annotations

import numpy as np
import pytest

from swarmscale.catalog import default_catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.inference import ReplicaModel, ServingPlan
from swarmscale.perf.serving import max_rate, steady_state
from swarmscale.sim.serving import simulate_serving
from swarmscale.traces import SHIPPED, RequestTrace
from swarmscale.traces.load import load_trace
from swarmscale.traces.synthetic import poisson_trace
from swarmscale.workload import InferenceJob

CATALOG = default_catalog()


def _replica(prefix_hit: float = 0.0) -> ReplicaModel:
    job = InferenceJob(CATALOG.model("llama3-8b"), "bf16", prefix_hit=prefix_hit)
    return ReplicaModel(job, build_cluster(CATALOG, "h100-sxm", 1), ServingPlan())


def _at_load(trace: RequestTrace, replica: ReplicaModel, load: float) -> tuple[RequestTrace, float]:
    capacity, _, _ = max_rate(
        replica, int(trace.input_len.mean()), int(trace.output_len.mean()), 1e9, 1e9
    )
    rate = load * capacity
    return trace.scaled(rate / trace.rate), rate


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_real_trace_throughput_matches_steady_state(name: str) -> None:
    """1,500 real requests at 30% of the replica's analytical capacity."""
    trace = load_trace(name).head(1500)
    hit = float(trace.cached_len.sum() / trace.input_len.sum())
    replica = _replica(hit)
    scaled, rate = _at_load(trace, replica, 0.3)
    result = simulate_serving(scaled, replica, 1)
    assert np.all(np.isfinite(result.finish_s))
    window = float(result.finish_s.max() - scaled.arrival_s[0])
    simulated = float(scaled.output_len.sum()) / window
    analytic = steady_state(
        replica, rate, int(trace.input_len.mean()), int(trace.output_len.mean())
    ).output_tokens_per_s
    assert simulated == pytest.approx(analytic, rel=0.10)


def test_poisson_tpot_matches_steady_state() -> None:
    replica = _replica()
    trace = poisson_trace(6.0, 2000, 1100, 260, seed=3)
    result = simulate_serving(trace, replica, 1)
    state = steady_state(replica, 6.0, 1100, 260)
    weights = trace.output_len - 1
    tpot = float(np.sum(result.tpot_s * weights) / np.sum(weights))
    assert tpot == pytest.approx(state.tpot_s, rel=0.10)


def test_latencies_are_bounded_below_by_the_step_times() -> None:
    replica = _replica()
    trace = load_trace("azure-conv").head(1000)
    result = simulate_serving(trace, replica, 2)
    shortest_prefill = float(replica.prefill_s(float(trace.input_len.min()), 0.0))
    assert np.all(result.ttft_s >= shortest_prefill * 0.999)
    multi = trace.output_len > 1
    assert np.all(result.tpot_s[multi] >= float(replica.decode_step_s(1, 1)) * 0.999)
    assert np.all(result.finish_s >= trace.arrival_s)


def test_more_replicas_never_raise_median_ttft() -> None:
    replica = _replica()
    trace = load_trace("azure-code").head(1200).scaled(3.0)
    ttft = [simulate_serving(trace, replica, n).percentile("ttft_s", 50) for n in (1, 2, 4)]
    assert ttft[0] >= ttft[1] >= ttft[2]


def test_request_larger_than_the_kv_cache_is_an_error() -> None:
    replica = _replica()
    trace = poisson_trace(1.0, 3, 10_000_000, 10)
    with pytest.raises(ValueError, match="tokens of KV cache"):
        simulate_serving(trace, replica, 1)


def test_slo_attainment_and_summary() -> None:
    result = simulate_serving(load_trace("azure-conv").head(1000), _replica(), 1)
    summary = result.summary(ttft_s=2.0, tpot_s=0.1)
    assert 0.0 <= summary["slo_attainment"] <= 1.0
    assert summary["ttft_p50_s"] <= summary["ttft_p99_s"]
