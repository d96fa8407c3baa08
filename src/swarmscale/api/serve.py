"""Serving plans: per chip kind, the replica layout, batch and count that meet a load's SLOs."""

from __future__ import annotations

from typing import Any, cast

from swarmscale.api.inputs import ServeInput
from swarmscale.catalog import UnknownValueError, default_catalog
from swarmscale.hardware import build_cluster
from swarmscale.plan.serving import NoServingPlanError, ServingDesign, ServingTarget, design
from swarmscale.workload import InferenceJob, ServePrecision

POOL_CHIPS = 1_000_000  # size the pool as one large fleet: the scale-up domain is the chip's


def kv_bytes_for(precision: str) -> float:
    """Bytes per KV-cache element: fp8 and int8 deployments keep an fp8 cache."""
    return 1.0 if precision in ("fp8", "int8") else 2.0


def inference_job(model: str, precision: str, prefix_hit: float = 0.0) -> InferenceJob:
    return InferenceJob(
        default_catalog().model(model),
        cast(ServePrecision, precision),
        kv_bytes=kv_bytes_for(precision),
        prefix_hit=prefix_hit,
    )


def serving_design(
    model: str,
    chip: str,
    target: ServingTarget,
    precision: str,
    prefix_hit: float,
    disaggregate: bool,
    system: str | None = None,
) -> ServingDesign:
    """The cheapest deployment of `model` on `chip` that meets `target`."""
    job = inference_job(model, precision, prefix_hit)
    cluster = build_cluster(default_catalog(), chip, POOL_CHIPS, system)
    return design(job, cluster, target, disaggregate)


def target_of(query: ServeInput) -> ServingTarget:
    return ServingTarget(query.rate, query.input_len, query.output_len, query.ttft, query.tpot)


def serve_payload(query: ServeInput) -> dict[str, Any]:
    """One row per chip, compared to the first; a chip that cannot meet the target (or lacks a
    catalog number) gets a row saying why, and the other chips are still sized. When no chip
    can, that is the caller's to change: `NoServingPlanError` with every chip's reason."""
    catalog = default_catalog()
    target = target_of(query)
    rows: list[dict[str, Any]] = []
    for chip_id in query.chips:
        chip = catalog.chip(chip_id).id  # an unknown id is the caller's typo: fail the request
        try:
            result = serving_design(
                query.model, chip, target, query.precision, query.prefix_hit, query.disaggregate
            )
        except (NoServingPlanError, UnknownValueError) as exc:
            rows.append({"chip": chip, "feasible": False, "reason": str(exc)})
            continue
        rows.append({"chip": chip, "feasible": True, "reason": None, **result.as_dict()})
    if not any(row["feasible"] for row in rows):
        raise NoServingPlanError("; ".join(f"{row['chip']}: {row['reason']}" for row in rows))
    first = rows[0]
    for row in rows:
        both = first["feasible"] and row["feasible"]
        row["chips_ratio"] = row["chips"] / first["chips"] if both else None
        row["throughput_ratio"] = (
            row["output_tokens_per_s_per_chip"] / first["output_tokens_per_s_per_chip"]
            if both
            else None
        )
    return {
        "model": query.model,
        "target": target.__dict__,
        "precision": query.precision,
        "designs": rows,
    }
