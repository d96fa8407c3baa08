"""Inference step model: invariants under hypothesis and memory accounting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.catalog import Catalog, default_catalog
from swarmscale.hardware import build_cluster
from swarmscale.perf.inference import ReplicaModel, ServingPlan
from swarmscale.workload import InferenceJob

CATALOG = default_catalog()
MODELS = ["llama3-8b", "llama3-70b", "mixtral-8x7b", "deepseek-v3"]


def _replica(
    model_id: str, chip: str = "h100-sxm", plan: ServingPlan | None = None, precision: str = "fp8"
) -> ReplicaModel:
    plan = plan or ServingPlan(tp=8)
    job = InferenceJob(CATALOG.model(model_id), precision, kv_bytes=1.0)  # type: ignore[arg-type]
    return ReplicaModel(job, build_cluster(CATALOG, chip, plan.chips), plan)


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(MODELS[:3]),
    batch=st.integers(1, 512),
    extra=st.integers(1, 256),
    context=st.integers(1, 32768),
    more_context=st.integers(1, 32768),
)
def test_decode_step_never_falls_when_batch_or_context_grows(
    model: str, batch: int, extra: int, context: int, more_context: int
) -> None:
    replica = _replica(model)
    base = float(replica.decode_step_s(batch, batch * context))
    assert float(replica.decode_step_s(batch + extra, (batch + extra) * context)) >= base
    assert float(replica.decode_step_s(batch, batch * (context + more_context))) >= base


@settings(max_examples=40, deadline=None)
@given(factor=st.floats(1.01, 8.0), batch=st.integers(1, 256))
def test_more_memory_bandwidth_never_slows_decode(factor: float, batch: int) -> None:
    replica = _replica("llama3-70b")
    chip = replica.cluster.chip
    faster_chip = chip.model_copy(
        update={
            "memory_bandwidth": chip.memory_bandwidth.model_copy(
                update={"value": (chip.memory_bandwidth.value or 0) * factor}
            )
        }
    )
    faster = ReplicaModel(
        replica.job, dataclasses.replace(replica.cluster, chip=faster_chip), replica.plan
    )
    assert float(faster.decode_step_s(batch, batch * 2048)) <= float(
        replica.decode_step_s(batch, batch * 2048)
    )


def test_small_batch_decode_is_weight_streaming(catalog: Catalog) -> None:
    """Batch-1 decode of Llama 3.1 8B in bf16 on one H100 reads 16 GB of weights: at the GEMM
    streaming rate measured on H100 (2.0 TB/s) that is 8 ms, plus per-step overheads."""
    replica = _replica("llama3-8b", plan=ServingPlan(tp=1), precision="bf16")
    weights_s = 2 * 8.03e9 / (3.35e12 * 0.6)
    step = float(replica.decode_step_s(1, 1))
    assert weights_s < step < weights_s * 1.35


def test_batch_one_decode_matches_a_measured_whole_step() -> None:
    """torchao's README (pytorch/ao torchao/quantization/README.md, Oct 2024) measures
    Llama-3.1-8B bf16 decode at batch 1 on one H100 with torch.compile and CUDA graphs at an
    effective 1,905 GB/s of weights per token: the whole step, launch gaps included, within
    10%."""
    replica = _replica("llama3-8b", plan=ServingPlan(tp=1), precision="bf16")
    effective = replica.weights_bytes_per_chip / float(replica.decode_step_s(1, 1))
    assert effective == pytest.approx(1905e9, rel=0.10)


def test_batch_one_decode_on_a100_matches_the_torchao_measurement() -> None:
    """torchao's AWQ README (pytorch/ao@03b83ec, torchao/prototype/awq/README.md) measures
    Llama-2-7B bf16 decode at batch 1 on one A100 80GB SXM4 (generate.py, torch.compile) at
    1,418.93 GB/s of weights per token. The A100 factor is that fraction of the datasheet; the
    whole step reads about 11% lower because it also pays a serving engine's 1 ms of host work
    per iteration (an estimate), which generate.py's compiled loop hardly has."""
    replica = _replica("llama2-7b", chip="a100-sxm-80gb", plan=ServingPlan(tp=1), precision="bf16")
    effective = replica.weights_bytes_per_chip / float(replica.decode_step_s(1, 1))
    assert 0.85 * 1418.93e9 < effective < 1418.93e9


def test_weights_by_precision_and_kv_capacity(catalog: Catalog) -> None:
    bf16 = _replica("llama3-70b", plan=ServingPlan(tp=4), precision="bf16")
    int4 = _replica("llama3-70b", plan=ServingPlan(tp=4), precision="int4")
    assert bf16.weights_bytes_per_chip == pytest.approx(4 * int4.weights_bytes_per_chip)
    assert bf16.weights_bytes_per_chip == pytest.approx(70.55e9 * 2 / 4, rel=0.01)
    assert int4.kv_capacity_tokens > bf16.kv_capacity_tokens > 0
    assert bf16.max_batch(4096) == int(bf16.kv_capacity_tokens / 4096)


def test_mla_cache_is_one_latent_per_token(catalog: Catalog) -> None:
    """DeepSeek-V3: 512-dim latent + 64-dim rotary key per token per layer (arXiv:2412.19437)."""
    replica = _replica("deepseek-v3", plan=ServingPlan(tp=1, ep=32))
    assert replica.shapes.kv_width == 576
    assert replica.kv_bytes_per_token == pytest.approx(61 * 576 * 1.0)


def test_model_too_big_for_the_replica_has_no_batch(catalog: Catalog) -> None:
    replica = _replica("llama3-405b", plan=ServingPlan(tp=1), precision="bf16")
    assert replica.kv_capacity_tokens == 0
    assert replica.max_batch(1000) == 0


def test_prefix_cache_hits_cut_prefill(catalog: Catalog) -> None:
    base = _replica("llama3-8b", plan=ServingPlan(tp=1))
    cached = ReplicaModel(dataclasses.replace(base.job, prefix_hit=0.5), base.cluster, base.plan)
    assert float(cached.prefill_s(8192, 8192**2)) < 0.6 * float(base.prefill_s(8192, 8192**2))


@pytest.mark.parametrize("plan", [ServingPlan(tp=3), ServingPlan(tp=1, ep=3)])
def test_invalid_serving_plans_are_errors(plan: ServingPlan) -> None:
    with pytest.raises(ValueError, match="serving plan"):
        _replica("llama3-8b", plan=plan)


def test_decode_arrays_match_scalars() -> None:
    replica = _replica("mixtral-8x7b")
    batches = np.asarray([1.0, 8.0, 64.0])
    vector = replica.decode_step_s(batches, batches * 1000)
    scalars = [float(replica.decode_step_s(b, b * 1000)) for b in batches]
    assert np.allclose(vector, scalars)


def test_per_head_decode_kernels_read_a_kv_group_once_per_query_head(catalog: Catalog) -> None:
    """TensorRT-LLM's masked MHA (one thread block per query head, gpt_attention.md at
    138f96d) reads Llama 2 70B's K and V once per query head: 64 heads over 8 KV heads, so 8
    reads on any TP up to 8; a grouped kernel reads them once, and an MHA model has nothing to
    share."""
    cluster = build_cluster(catalog, "h100-sxm", 2)
    grouped = InferenceJob(catalog.model("llama2-70b"), "fp8", kv_bytes=1.0)
    per_head = dataclasses.replace(grouped, per_head_decode_attention=True)
    plan = ServingPlan(tp=2)
    assert ReplicaModel(grouped, cluster, plan).kv_reads == 1.0
    assert ReplicaModel(per_head, cluster, plan).kv_reads == 8.0
    slow = ReplicaModel(per_head, cluster, plan).decode_step_s(64, 64 * 3072)
    fast = ReplicaModel(grouped, cluster, plan).decode_step_s(64, 64 * 3072)
    assert slow > fast
    mha = InferenceJob(catalog.model("llama2-7b"), per_head_decode_attention=True)
    assert ReplicaModel(mha, build_cluster(catalog, "h100-sxm", 1), ServingPlan()).kv_reads == 1.0


def test_sliding_window_bounds_the_kv_cache_and_its_reads(catalog: Catalog) -> None:
    """A windowed model keeps and reads only the last `sliding_window` tokens of each
    sequence: past the window more sequences fit and decode stops slowing with context;
    prefill of a prompt longer than the window does less attention."""
    model = catalog.model("llama3-8b")
    windowed = model.model_copy(update={"sliding_window": 4096})
    cluster = build_cluster(catalog, "h100-sxm", 1)
    full = ReplicaModel(InferenceJob(model), cluster, ServingPlan())
    window = ReplicaModel(InferenceJob(windowed), cluster, ServingPlan())
    assert window.max_batch(32768) >= 7 * full.max_batch(32768)
    assert window.max_batch(2048) == full.max_batch(2048)
    assert window.decode_step_s(8, 8 * 32768) == pytest.approx(window.decode_step_s(8, 8 * 4096))
    assert full.decode_step_s(8, 8 * 32768) > window.decode_step_s(8, 8 * 32768)
    assert window.prefill_s(32768, 32768.0**2) < full.prefill_s(32768, 32768.0**2)
    assert window.prefill_s(2048, 2048.0**2) == pytest.approx(full.prefill_s(2048, 2048.0**2))


def test_a_plain_forward_computes_logits_for_every_prompt_position(catalog: Catalog) -> None:
    """`model(tokens)` (calibrate's prefill) multiplies every position by the output head; an
    engine only the last: the difference is the head GEMM over the other positions."""
    cluster = build_cluster(catalog, "h100-sxm", 1)
    engine = InferenceJob(catalog.model("llama3-8b"))
    plain = dataclasses.replace(engine, all_prompt_logits=True)
    last = float(ReplicaModel(engine, cluster, ServingPlan()).prefill_s(2048, 2048.0**2))
    every = float(ReplicaModel(plain, cluster, ServingPlan()).prefill_s(2048, 2048.0**2))
    head_flops = 2.0 * 2047 * 4096 * 128256
    assert head_flops / 989e12 < every - last < 3 * head_flops / 989e12


def test_a_bare_graph_replay_pays_no_engine_step_overhead(catalog: Catalog) -> None:
    """Calibrate times decode as a CUDA graph replay between device events: no scheduler or
    sampler runs, so the engine's per-step host work (`serving_step_overhead`) is not there."""
    cluster = build_cluster(catalog, "h100-sxm", 1)
    engine = InferenceJob(catalog.model("llama3-8b"))
    bare = dataclasses.replace(engine, serving_engine=False)
    with_engine = float(ReplicaModel(engine, cluster, ServingPlan()).decode_step_s(8, 8 * 1024))
    replay = float(ReplicaModel(bare, cluster, ServingPlan()).decode_step_s(8, 8 * 1024))
    overhead = cluster.efficiency.serving_step_overhead.require()
    assert with_engine - replay == pytest.approx(overhead)


def test_mla_decodes_in_the_absorbed_form(catalog: Catalog) -> None:
    """DeepSeek-V3 decodes with W_UK and W_UV absorbed (DeepSeek-V2 paper sec. 2.1.2,
    FlashMLA): each of the 128 heads scores the 576-wide latent-plus-rope cache and sums the
    512-wide latent, 128 x (512 + 64 + 512) = 139,264 multiply-adds per cached token, 3.4x
    the decompressed q.k + v widths (128 x (192 + 128)) that a prefill uses."""
    replica = _replica("deepseek-v3", plan=ServingPlan(tp=1, ep=8))
    assert replica.decode_attention_widths() == 128 * (512 + 64 + 512)
    assert replica.shapes.qk_width + replica.shapes.v_width == 128 * (192 + 128)
    dense = _replica("llama3-70b")
    assert dense.decode_attention_widths() == (8192 + 8192) / 8


def test_serving_and_training_exchange_moe_tokens_alike(catalog: Catalog) -> None:
    """One dispatch formula for both (`expert_dispatch_time`): inside an 8-GPU node each token's
    8 routed copies cross NVLink unless their expert is local (7/8 of them), the dispatch in
    FP8 (1 B per element, DeepEP's FP8 dispatch) and the combine in BF16 (2 B)."""
    replica = _replica("deepseek-v3", plan=ServingPlan(tp=1, ep=8))
    tokens = 4096.0
    links = replica.ep_links
    a2a = replica.cluster.efficiency.all_to_all.require()
    per_byte = tokens * 8 * 7 / 8 * 7168 / (float(links.up_bw) * a2a)
    latency = 2 * (1 + 3) * float(links.latency_s)  # two exchanges of 1 + log2(8) hops
    expected = per_byte * (1.0 + 2.0) + latency
    assert float(replica.expert_exchange_s(np.asarray(tokens))) == pytest.approx(expected)
    dense = _replica("llama3-70b")
    assert float(dense.expert_exchange_s(np.asarray(tokens))) == 0.0


def _with_factor(factor: str, value: float) -> Catalog:
    entry = CATALOG.efficiency["default"]
    quantity = getattr(entry, factor).model_copy(update={"value": value, "low": None})
    updated = entry.model_copy(update={factor: quantity})
    return dataclasses.replace(CATALOG, efficiency={**CATALOG.efficiency, "default": updated})


def test_serving_compute_runs_at_its_own_sustained_share() -> None:
    """A serving step's GEMMs and attention run at `serving_sustained` (fitted on serving
    cases), not at training's share: a compute-bound 8K prefill of Llama 3 8B on one H100
    takes about shipped / 0.9 times as long with the share raised from the shipped value to
    0.9, and does not move when `training_sustained` changes."""

    def prefill_s(catalog: Catalog) -> float:
        job = InferenceJob(catalog.model("llama3-8b"), "bf16")
        replica = ReplicaModel(job, build_cluster(catalog, "h100-sxm", 1), ServingPlan(tp=1))
        return float(replica.prefill_s(8192, 8192**2))

    shipped = prefill_s(CATALOG)
    share = CATALOG.efficiency["default"].serving_sustained.require()
    assert prefill_s(_with_factor("serving_sustained", 0.9)) == pytest.approx(
        shipped * share / 0.9, rel=0.05
    )
    assert prefill_s(_with_factor("training_sustained", 0.5)) == pytest.approx(shipped)


def test_an_eager_prefill_pays_a_host_launch_per_kernel() -> None:
    """calibrate's prefill is an eager PyTorch forward: every kernel is launched from the host
    (`kernel_overhead`, 4 us on CUDA) instead of replayed in a graph (1 us), and elementwise
    work moves its tensors twice. A 512-token Llama 3 8B prefill on one H100 is slower by the
    launches (32 layers x (GEMMs + 8 elementwise kernels) + the LM head, 3 us each) plus one
    more elementwise pass, and by nothing else."""
    model = CATALOG.model("llama3-8b")
    cluster = build_cluster(CATALOG, "h100-sxm", 1)

    def prefill_s(eager: bool) -> float:
        job = InferenceJob(model, "bf16", serving_engine=False, eager=eager)
        return float(ReplicaModel(job, cluster, ServingPlan(tp=1)).prefill_s(512, 512**2))

    shapes = ReplicaModel(InferenceJob(model, "bf16"), cluster, ServingPlan(tp=1)).shapes
    kernels = model.layers * (len(shapes.attention) + len(shapes.dense_mlp) + 8) + 1
    launches = kernels * 3e-6
    # One more pass over the norms', residuals' and rotary's bf16 tensors at 0.87 x 3.35 TB/s.
    elements = 512 * (10 * shapes.d_model + 2 * shapes.qk_width)
    one_pass = model.layers * elements * 2.0 / (3.35e12 * 0.87)
    extra = prefill_s(True) - prefill_s(False)
    assert extra == pytest.approx(launches + one_pass, rel=0.02)
