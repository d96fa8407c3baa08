"""Run validation cases: build the job and hardware a case describes, predict, compare.

Where a case fixes a plan the prediction uses it (searching only the fields it leaves open);
a fixed plan that the memory model says would not fit is still predicted, and flagged, since
the case reports what was actually run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from swarmscale.catalog import Catalog, Model, UnknownValueError
from swarmscale.catalog.schemas import Case
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.perf.training import attention_flops_per_token, model_flops_per_token
from swarmscale.plan.search import RankedPlan, search
from swarmscale.validate.frameworks import schedules, tuned_attention
from swarmscale.validate.inference import inference_job, predict_inference
from swarmscale.workload import SoftwareOptions, TrainingJob


@dataclass(frozen=True)
class CaseResult:
    """One measured metric of one case against its prediction."""

    id: str
    kind: str
    metric: str
    measured: float
    predicted: float
    plan: str
    feasible: bool
    split: str

    @property
    def error(self) -> float:
        """Signed relative error, predicted / measured - 1."""
        return self.predicted / self.measured - 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "metric": self.metric,
            "measured": self.measured,
            "predicted": self.predicted,
            "error": self.error,
            "plan": self.plan,
            "feasible": self.feasible,
            "split": self.split,
        }


def case_model(case: Case, catalog: Catalog) -> Model:
    """The catalog model a case names, or its inline architecture as a `Model`."""
    if case.model is not None:
        return catalog.model(case.model)
    assert case.architecture is not None
    arch = case.architecture.model_dump()
    seq = case.seq_len or case.input_len or 2048
    return Model.model_validate(
        {
            **arch,
            "id": case.id,
            "name": f"inline architecture of {case.id}",
            "family": "moe" if arch.get("moe") else "dense",
            "source": case.source,
            "max_seq_len": max(seq + (case.output_len or 0), 1),
        }
    )


def case_cluster(case: Case, catalog: Catalog) -> Cluster:
    return build_cluster(catalog, case.chip, case.chips, case.system)


def _training_plan(case: Case, job: TrainingJob, cluster: Cluster) -> RankedPlan:
    fixed: dict[str, Any] = {"chips": case.chips, **(case.plan or {})}
    if case.micro_batch is not None:
        fixed["micro_batch"] = case.micro_batch
    allowed = schedules(case)
    result = search(job, cluster, "time", fixed, top_k=1, schedules=allowed)
    if result.best is not None:
        return result.best
    only_memory = search(
        job, cluster, "time", fixed, top_k=1, ignore_memory=True, schedules=allowed
    )
    if only_memory.best is None:
        reasons = "; ".join(f"{count} x {why}" for why, count in result.rejected.items())
        raise ValueError(f"case {case.id}: no valid plan ({reasons})")
    return only_memory.best


TRAINING_OPTIONS = frozenset(f.name for f in fields(SoftwareOptions))


def predict_training(
    case: Case, catalog: Catalog, cluster: Cluster | None = None
) -> tuple[dict[str, float], RankedPlan]:
    """Every training metric for `case`, and the plan they come from."""
    assert case.seq_len is not None and case.global_batch is not None
    if case.precision not in ("bf16", "fp8", "fp4"):
        raise ValueError(f"case {case.id}: training precision must be bf16, fp8 or fp4")
    # The case's training options (its serving-only ones stay with `inference_job`).
    options = {k: v for k, v in case.software.model_dump().items() if k in TRAINING_OPTIONS}
    software = SoftwareOptions(**{**options, "tuned_attention": tuned_attention(case)})
    job = TrainingJob(
        case_model(case, catalog),
        case.seq_len,
        case.global_batch,
        case.precision,
        case.tokens,
        software,
    )
    cluster = cluster or case_cluster(case, catalog)
    ranked = _training_plan(case, job, cluster)
    peak = cluster.chip.peak_flops("bf16")
    step_s = float(ranked.totals["step_s"] or 0.0)
    tokens_per_s = job.tokens_per_step / step_s
    mfu = ranked.mfu * _source_flops_share(case, job)
    metrics = {
        "mfu": mfu,
        "hfu": ranked.hfu,
        "tflops_per_chip": mfu * peak / 1e12,
        "hw_tflops_per_chip": ranked.hfu * peak / 1e12,
        "tokens_per_s": tokens_per_s,
        "tokens_per_s_per_chip": tokens_per_s / case.chips,
        "step_seconds": step_s,
        "chip_hours": float(ranked.totals["chip_hours"] or 0.0),
        "memory_gb": ranked.breakdown["memory_bytes"] / 1e9,
    }
    return metrics, ranked


def _source_flops_share(case: Case, job: TrainingJob) -> float:
    """The source's model FLOPs per token over ours: a source that counts only the causal half
    of the attention square reports a lower MFU and TFLOP/s for the same step time."""
    if case.flops_attention == "full":
        return 1.0
    ours = model_flops_per_token(job)
    return (ours - attention_flops_per_token(job) / 2.0) / ours


class NotPredicted(ValueError):
    """The model cannot predict a case as given (a catalog number it needs is unknown, or no
    plan of the case's shape exists); the message names the case and why."""


def run_case(case: Case, catalog: Catalog, cluster: Cluster | None = None) -> list[CaseResult]:
    """Predict one case and compare every metric it measured."""
    try:
        cluster = cluster or case_cluster(case, catalog)
        if case.kind == "training":
            metrics, ranked = predict_training(case, catalog, cluster)
            plan, feasible = ranked.plan.describe(), ranked.feasible
        else:
            eager_prefill = case.phase == "prefill" and case.software.eager
            if not eager_prefill and (case.software.eager or not case.software.cuda_graphs):
                raise ValueError(
                    "decode without CUDA graphs is bound by host dispatch per operation, which "
                    "the serving model does not include (an eager prefill is predicted)"
                )
            job = inference_job(case, case_model(case, catalog))
            metrics, plan, feasible = predict_inference(case, catalog, job, cluster)
    except (UnknownValueError, ValueError) as exc:
        text = str(exc)
        named = text if text.startswith(f"case {case.id}") else f"case {case.id}: {text}"
        raise NotPredicted(named) from exc
    results = [
        CaseResult(
            case.id, case.kind, metric, measured, metrics[metric], plan, feasible, case.split
        )
        for metric, measured in case.measured.items()
    ]
    bad = [r.metric for r in results if not (math.isfinite(r.predicted) and r.predicted > 0)]
    if bad:
        raise NotPredicted(
            f"case {case.id}: no finite prediction of {', '.join(bad)} (a group crosses a link "
            "whose bandwidth the catalog does not know)"
        )
    return results


@dataclass(frozen=True)
class Validation:
    """Every metric predicted, and the cases the model could not predict with the reason."""

    results: list[CaseResult]
    unpredicted: list[tuple[str, str]]


def predict_cases(
    cases: Iterable[Case], catalog: Catalog, on_case: Callable[[Case], None] | None = None
) -> Validation:
    """Run every case; one the model cannot predict is listed, not fatal."""
    results: list[CaseResult] = []
    unpredicted: list[tuple[str, str]] = []
    for case in cases:
        if on_case is not None:
            on_case(case)
        try:
            results.extend(run_case(case, catalog))
        except NotPredicted as exc:
            unpredicted.append((case.id, str(exc)))
    return Validation(results, unpredicted)


def run_cases(cases: Iterable[Case], catalog: Catalog) -> list[CaseResult]:
    """Every case predicted; one the model cannot predict is an error (for tests and fits)."""
    outcome = predict_cases(cases, catalog)
    if outcome.unpredicted:
        raise NotPredicted("; ".join(reason for _, reason in outcome.unpredicted))
    return outcome.results


def profile_pairs(
    cases: list[Case], results: list[CaseResult], catalog: Catalog
) -> list[tuple[CaseResult, CaseResult]]:
    """Each metric of each case on a chip with a device profile: predicted without the profile
    (datasheet-derived factors), beside its result in `results` (the cases run on `catalog`,
    profile included), so only the datasheet side is predicted here."""
    datasheet = catalog.without_profiles()
    with_profile = {(result.id, result.metric): result for result in results}
    profiled = [
        case
        for case in cases
        if case.chip in catalog.chips and catalog.chip(case.chip).silicon in catalog.profiles
    ]
    return [
        (without, with_profile[(without.id, without.metric)])
        for without in predict_cases(profiled, datasheet).results
        if (without.id, without.metric) in with_profile
    ]


def summarize(results: list[CaseResult]) -> dict[str, float | int | None]:
    """Median and max absolute relative error over `results`."""
    errors = [abs(result.error) for result in results]
    if not errors:
        return {"median_abs_error": None, "max_abs_error": None, "n": 0}
    return {
        "median_abs_error": statistics.median(errors),
        "max_abs_error": max(errors),
        "n": len(errors),
    }
