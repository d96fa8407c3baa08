"""Predict inference cases: decode steps, prefills, and full serving runs at a fixed or the
largest batch, on the plan the case names (or the best one for its chip count)."""

from __future__ import annotations

import math
from typing import Any

from swarmscale.catalog import Catalog
from swarmscale.catalog.schemas import Case
from swarmscale.hardware import Cluster
from swarmscale.perf.inference import ReplicaModel, ServingPlan
from swarmscale.perf.serving import (
    chunk_prefill_s,
    first_token_s,
    offline_throughput,
    prompts_per_chunk,
)
from swarmscale.plan.serving import candidate_plans
from swarmscale.validate.frameworks import tuned_attention
from swarmscale.workload import InferenceJob


def inference_job(case: Case, model: Any) -> InferenceJob:
    kv_bytes = 1.0 if case.precision in ("fp8", "fp4", "int8") else 2.0
    if case.precision == "fp32":
        raise ValueError(
            f"case {case.id}: inference precision must be bf16, fp8, fp4, int8 or int4"
        )
    return InferenceJob(
        model,
        case.precision,
        kv_bytes=kv_bytes,
        tuned_attention=tuned_attention(case),
        per_head_decode_attention=case.software.per_head_decode_attention,
        all_prompt_logits=case.software.all_prompt_logits,
        serving_engine=case.software.serving_engine,
        eager=case.software.eager,
    )


def _case_plans(case: Case, job: InferenceJob, cluster: Cluster) -> list[ServingPlan]:
    """The case's replica plan (its `dp` is the replica count), or every candidate that
    divides its chips."""
    if case.plan is None:
        return [p for p in candidate_plans(job, cluster) if case.chips % p.chips == 0]
    fields = {key: int(value) for key, value in case.plan.items() if key != "dp"}
    plan = ServingPlan(**fields)
    replicas = int(case.plan.get("dp", case.chips // plan.chips))
    if plan.chips * replicas != case.chips:
        raise ValueError(
            f"case {case.id}: {case.chips} chips are not {replicas} replicas of {plan.chips} chips"
        )
    return [plan]


# The closed loop's TTFT enters its own cycle time; a few fixed-point steps settle it. A prefill
# server busier than this would queue without bound (the steady state calls it saturated).
CLOSED_LOOP_ITERATIONS = 20
MAX_PREFILL_SHARE = 0.95


def _tokens_per_target_step(case: Case, catalog: Catalog) -> float:
    """Tokens a sequence gains per target-model step: 1, or with speculative decoding the
    accepted drafts plus the target's own token (1 + p + ... + p^k for k drafts accepted in
    order with probability p each), from the case or, for multi-token prediction, DeepSeek-V3's
    measured acceptance."""
    spec = case.speculative
    if spec is None:
        return 1.0
    if spec.acceptance is not None:
        return spec.acceptance
    if spec.method != "mtp":
        raise ValueError(
            f"case {case.id}: speculative.acceptance is needed for method {spec.method!r} "
            "(no sourced default)"
        )
    p = catalog.assumptions.mtp_acceptance.require()
    return float(sum(p**i for i in range(spec.draft_tokens + 1)))


def _decode(
    case: Case, catalog: Catalog, replica: ReplicaModel, batch: float, context: float
) -> float:
    """Seconds per generated token of a sequence in a decode batch. With speculative decoding
    one target step verifies 1 + k tokens of every sequence against the same KV cache, and
    the draft (an MTP module: about one more layer per draft token) runs k times."""
    drafts = 0 if case.speculative is None else case.speculative.draft_tokens
    step = float(replica.decode_step_s(batch * (1 + drafts), batch * context))
    draft = drafts * step / replica.job.model.layers
    return (step + draft) / _tokens_per_target_step(case, catalog)


def _predict_one(
    case: Case, catalog: Catalog, replica: ReplicaModel, replicas: int
) -> dict[str, float]:
    assert case.input_len is not None
    per_replica = None if case.batch is None else max(case.batch / replicas, 1.0)
    if case.phase == "decode":
        assert per_replica is not None
        per_token = _decode(case, catalog, replica, per_replica, case.input_len)
        return {"tokens_per_s": replicas * per_replica / per_token, "tpot_s": per_token}
    if case.phase == "prefill":
        assert per_replica is not None
        tokens = per_replica * case.input_len
        step = float(replica.prefill_s(tokens, per_replica * case.input_len**2, per_replica))
        return {"tokens_per_s": replicas * tokens / step, "ttft_s": step}
    assert case.output_len is not None
    batch = None if per_replica is None else round(per_replica)
    tpot_limit = None if case.slo is None else case.slo.tpot_s
    throughput, running, tpot = offline_throughput(
        replica, case.input_len, case.output_len, batch, tpot_limit
    )
    if case.static_batch:
        ttft = _queued_ttft(replica, case.input_len, max(running, 1.0))
    else:
        users = 1.0 if per_replica is None else per_replica
        ttft = _concurrent_ttft(replica, case.input_len, case.output_len, users, tpot)
    return {"tokens_per_s": replicas * throughput, "tpot_s": tpot, "ttft_s": ttft}


def _concurrent_ttft(
    replica: ReplicaModel, input_len: int, output_len: int, users: float, tpot: float
) -> float:
    """Mean time to first token in a closed loop of `users` clients, each sending its next
    request when its last one ends (a fixed-concurrency benchmark such as AIPerf's): the other
    clients' prompts keep the prefill server busy rho of the time, and a prompt's first token
    comes as in the serving model's steady state (`perf.serving.first_token_s`). One client
    finds the replica idle."""
    prefill = float(replica.prefill_s(input_len, float(input_len) ** 2))
    if users <= 1.0:
        return prefill
    ttft = prefill
    for _ in range(CLOSED_LOOP_ITERATIONS):
        rate = (users - 1.0) / (ttft + output_len * tpot)
        ttft = first_token_s(prefill, min(rate * prefill, MAX_PREFILL_SHARE), tpot)
    return ttft


def _queued_ttft(replica: ReplicaModel, input_len: int, batch: float) -> float:
    """Mean time to first token of `batch` requests queued at once: they are prefilled in
    chunks of PREFILL_TOKEN_BUDGET tokens, and a request's first token comes when its chunk
    ends, so on average after (chunks + 1) / 2 chunk times."""
    per_chunk = float(prompts_per_chunk(input_len, batch))
    chunks = math.ceil(batch / per_chunk)
    return float(chunk_prefill_s(replica, input_len, per_chunk)) * (chunks + 1) / 2


def predict_inference(
    case: Case, catalog: Catalog, job: InferenceJob, cluster: Cluster
) -> tuple[dict[str, float], str, bool]:
    """Metrics for `case`, the plan they come from, and whether the batch fits in memory."""
    best: tuple[float, dict[str, float], ServingPlan, bool] | None = None
    for plan in _case_plans(case, job, cluster):
        try:
            replica = ReplicaModel(job, cluster, plan)
        except ValueError:
            continue
        replicas = case.chips // plan.chips
        metrics = _predict_one(case, catalog, replica, replicas)
        metrics["tokens_per_s_per_chip"] = metrics["tokens_per_s"] / case.chips
        context = case.input_len or 0
        fits = case.batch is None or case.batch / replicas <= replica.max_batch(
            context + (case.output_len or 0)
        )
        if best is None or metrics["tokens_per_s"] > best[0]:
            best = (metrics["tokens_per_s"], metrics, plan, fits)
    if best is None:
        raise ValueError(
            f"case {case.id}: no serving plan of {case.chips} {case.chip} holds {job.model.id}"
        )
    return best[1], best[2].describe(), best[3]
