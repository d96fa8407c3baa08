"""Predict inference cases: decode steps, prefills, and full serving runs at a fixed or the
largest batch, on the plan the case names (or the best one for its chip count)."""

from __future__ import annotations

from typing import Any

from swarmscale.catalog import Catalog
from swarmscale.catalog.schemas import Case
from swarmscale.hardware import Cluster
from swarmscale.perf.inference import ReplicaModel, ServingPlan
from swarmscale.perf.serving import offline_throughput
from swarmscale.plan.serving import candidate_plans
from swarmscale.workload import InferenceJob


def inference_job(case: Case, model: Any) -> InferenceJob:
    kv_bytes = 1.0 if case.precision in ("fp8", "fp4", "int8") else 2.0
    if case.precision == "fp32":
        raise ValueError(
            f"case {case.id}: inference precision must be bf16, fp8, fp4, int8 or int4"
        )
    return InferenceJob(model, case.precision, kv_bytes=kv_bytes)


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


def _predict_one(case: Case, replica: ReplicaModel, replicas: int) -> dict[str, float]:
    assert case.input_len is not None
    per_replica = None if case.batch is None else max(case.batch / replicas, 1.0)
    if case.phase == "decode":
        assert per_replica is not None
        step = float(replica.decode_step_s(per_replica, per_replica * case.input_len))
        return {"tokens_per_s": replicas * per_replica / step, "tpot_s": step}
    if case.phase == "prefill":
        assert per_replica is not None
        tokens = per_replica * case.input_len
        step = float(replica.prefill_s(tokens, per_replica * case.input_len**2, per_replica))
        return {"tokens_per_s": replicas * tokens / step, "ttft_s": step}
    assert case.output_len is not None
    batch = None if per_replica is None else round(per_replica)
    throughput, _, tpot = offline_throughput(replica, case.input_len, case.output_len, batch)
    ttft = float(replica.prefill_s(case.input_len, float(case.input_len) ** 2))
    return {"tokens_per_s": replicas * throughput, "tpot_s": tpot, "ttft_s": ttft}


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
        metrics = _predict_one(case, replica, replicas)
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
