"""Kernel and collective times against measured or hand-computed numbers."""

from __future__ import annotations

import json

import pytest

from swarmscale.catalog import Catalog
from swarmscale.catalog.loader import DATA_ROOT
from swarmscale.hardware import build_cluster
from swarmscale.perf.comm import all_reduce_time, all_to_all_time, group_links
from swarmscale.perf.compute import attended_keys, attention_share, gemm_rates, gemm_time

MICROBENCH = DATA_ROOT / "measurements" / "h100-microbench.jsonl"


def _h100_gemm_rows() -> list[dict[str, float]]:
    rows = [json.loads(line) for line in MICROBENCH.read_text().splitlines() if line.strip()]
    return [row for row in rows if row.get("part") == "gemm"]


def test_gemm_time_follows_the_h100_measurements(catalog: Catalog) -> None:
    """catalog/data/measurements/h100-microbench.jsonl: bf16 GEMMs M x 8192 x 8192 on one H100 SXM.
    The roofline blend stays within 20% from M=1 (memory-bound) to M=16384 (compute-bound)."""
    h100 = catalog.chip("h100-sxm")
    eff = catalog.efficiency_for(h100)
    for row in _h100_gemm_rows():
        rates = gemm_rates(h100, eff, "bf16", 2.0, 2.0, eff.kernel_overhead.require())
        predicted = gemm_time(row["M"], row["K"], row["N"], rates)
        assert float(predicted) == pytest.approx(row["seconds"], rel=0.2), row["M"]


@pytest.mark.parametrize(
    ("m", "n", "k", "flops_per_s"),
    [
        (4096, 4096, 4096, 780193877565849),
        (2048, 2048, 2048, 641039894925373),
        (1024, 1024, 1024, 252764082862523),
        (256, 4096, 4096, 418449658612626),
        (4096, 256, 4096, 398863976225854),
    ],
)
def test_gemm_time_follows_xla_measured_h100_table(
    catalog: Catalog, m: int, n: int, k: int, flops_per_s: float
) -> None:
    """XLA's measured GEMM table for sm_90 (openxla/xla@71feeddf, xla/service/gpu/model/
    matmul_interpolator_data.h, bf16, batch 1): kernel FLOP/s by shape; within 25%."""
    h100 = catalog.chip("h100-sxm")
    eff = catalog.efficiency_for(h100)
    rates = gemm_rates(h100, eff, "bf16", 2.0, 2.0, eff.kernel_overhead.require())
    measured_s = 2.0 * m * n * k / flops_per_s
    assert float(gemm_time(m, k, n, rates)) == pytest.approx(measured_s, rel=0.25)


@pytest.mark.parametrize(
    ("precision", "m", "n", "k", "tflops"),
    [
        ("fp4", 8192, 8192, 8192, 5239.0),  # DeepGEMM PR 348: cuBLAS MXF4 on B200
        ("fp4", 16384, 6144, 4096, 3904.0),  # vLLM PR 20646: NVFP4 CUTLASS, no quantisation
        ("fp8", 16384, 6144, 4096, 2545.0),  # vLLM PR 19566: fp8 CUTLASS, no quantisation
    ],
)
def test_b200_low_precision_gemms_follow_published_kernel_rates(
    catalog: Catalog, precision: str, m: int, n: int, k: int, tflops: float
) -> None:
    """Large block-scaled fp4 GEMMs on B200 reach a smaller share of their doubled peak than
    fp8 ones do (the `gemm_fp4` factor): within 30% of each published kernel rate, and an fp4
    GEMM is at most 1.7x as fast as the same fp8 GEMM (1.53x measured at the vLLM shape), never
    the 2x of the peaks."""
    b200 = catalog.chip("b200")
    eff = catalog.efficiency_for(b200)
    weight_bytes = 0.5625 if precision == "fp4" else 1.0
    rates = gemm_rates(b200, eff, precision, weight_bytes, weight_bytes, 0.0)
    fp8 = gemm_rates(b200, eff, "fp8", 1.0, 1.0, 0.0)
    measured_s = 2.0 * m * n * k / (tflops * 1e12)
    assert float(gemm_time(m, k, n, rates)) == pytest.approx(measured_s, rel=0.3)
    assert float(gemm_time(m, k, n, fp8)) / float(gemm_time(m, k, n, rates)) <= 1.7


def test_all_reduce_inside_an_nvlink_domain(catalog: Catalog) -> None:
    """1 GB ring all-reduce over 8 H100s: 2 x 7/8 x 1 GB / (450 GB/s x 0.8) + 6 x 3 us."""
    cluster = build_cluster(catalog, "h100-sxm", 8)
    links = group_links(cluster, 8, 1)
    expected = 2 * 7 / 8 * 1e9 / (450e9 * 0.8) + 2 * 3 * 3e-6
    assert float(all_reduce_time(1e9, 8, links)) == pytest.approx(expected, rel=1e-9)


def test_groups_spanning_nodes_use_the_nic(catalog: Catalog) -> None:
    cluster = build_cluster(catalog, "h100-sxm", 64)
    inside, across = group_links(cluster, 8, 1), group_links(cluster, 8, 8)
    assert float(inside.bw) == pytest.approx(450e9 * 0.8)
    assert float(across.bw) == pytest.approx(50e9 * 0.85)
    assert float(all_reduce_time(1e9, 8, across)) > float(all_reduce_time(1e9, 8, inside))


def test_single_member_groups_cost_nothing(catalog: Catalog) -> None:
    links = group_links(build_cluster(catalog, "h100-sxm", 8), 1, 1)
    assert float(all_reduce_time(1e9, 1, links)) == 0.0
    assert float(all_to_all_time(1e9, 1, links, 0.7)) == 0.0


@pytest.mark.parametrize(
    ("plateau", "seq_len", "measured"),
    [
        # FlashAttention-2 forward+backward, causal, head dim 128 (Dao-AILab/flash-attention
        # README figures flash2_a100_fwd_bwd_benchmark.png and flash2_h100_fwd_bwd_benchmark.png)
        (195.0, 512, 99.0),
        (195.0, 2048, 155.0),
        (195.0, 16384, 189.0),
        (340.0, 512, 163.0),
        (340.0, 2048, 265.0),
        (340.0, 16384, 328.0),
    ],
)
def test_attention_rate_rises_with_keys_per_query(
    plateau: float, seq_len: int, measured: float
) -> None:
    assert plateau * float(attention_share(seq_len / 2, 128)) == pytest.approx(measured, rel=0.06)


def test_narrow_heads_reach_less_of_the_attention_plateau() -> None:
    """Head dim 64 vs 128 at 16k causal: A100 171 vs 189, H100 284 vs 328 TFLOP/s (same figures)."""
    ratio = float(attention_share(8192, 64) / attention_share(8192, 128))
    assert ratio == pytest.approx((171 / 189 + 284 / 328) / 2, rel=0.03)


def test_sliding_window_caps_the_keys_a_query_attends() -> None:
    """Mistral 7B's 4,096-token window over a 32K sequence: the first 4,096 queries see their
    prefix (2,048 keys on average), the other 28,672 see 4,096 each: 3,840 on average against
    16,384 for the whole causal prefix; a window longer than the sequence changes nothing."""
    assert float(attended_keys(32768, 4096)) == pytest.approx(3840.0)
    assert float(attended_keys(32768, None)) == 16384
    assert float(attended_keys(2048, 4096)) == 1024
