"""`swarmscale serve`: chips, layout and cost to serve a model at a request rate within SLOs."""

from __future__ import annotations

import time
from typing import Annotated, Any, cast

import typer
from rich.table import Table

from swarmscale.catalog import default_catalog
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.hardware import build_cluster
from swarmscale.plan.serving import ServingDesign, ServingTarget, design
from swarmscale.workload import InferenceJob, ServePrecision

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
PRECISIONS = ("bf16", "fp8", "int8", "int4")


def serving_design(
    model: str,
    chip: str,
    target: ServingTarget,
    precision: str,
    prefix_hit: float,
    disaggregate: bool,
    system: str | None = None,
) -> ServingDesign:
    """Shared by the CLI and the web API."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    catalog = default_catalog()
    kv_bytes = 1.0 if precision in ("fp8", "int8") else 2.0
    job = InferenceJob(
        catalog.model(model),
        cast(ServePrecision, precision),
        kv_bytes=kv_bytes,
        prefix_hit=prefix_hit,
    )
    # Size the pool as one large fleet so the scale-up domain is the chip's (or system's).
    cluster = build_cluster(catalog, chip, 1_000_000, system)
    return design(job, cluster, target, disaggregate)


def serve_payload(
    model: str,
    chips: list[str],
    target: ServingTarget,
    precision: str,
    prefix_hit: float,
    disaggregate: bool,
    started: float,
) -> dict[str, Any]:
    """Size a deployment on each chip, compare them to the first and record the run."""
    rows: list[dict[str, Any]] = []
    for chip_id in chips:
        result = serving_design(model, chip_id, target, precision, prefix_hit, disaggregate)
        rows.append({"chip": default_catalog().chip(chip_id).id, **result.as_dict()})
    first = rows[0]
    for row in rows:
        row["chips_ratio"] = row["chips"] / first["chips"]
        row["throughput_ratio"] = (
            row["output_tokens_per_s_per_chip"] / first["output_tokens_per_s_per_chip"]
        )
    payload: dict[str, Any] = {
        "model": model,
        "target": target.__dict__,
        "precision": precision,
        "designs": rows,
    }
    inputs = {
        "model": model,
        **target.__dict__,
        "precision": precision,
        "chips": chips,
        "prefix_hit": prefix_hit,
        "disaggregate": disaggregate,
    }
    payload["run_id"] = record_run("serve", inputs, payload, started)
    return payload


def serve(
    model: Annotated[str, typer.Option(help="Model id, e.g. llama3-70b.")],
    chip: Annotated[str, typer.Option(help="Chip id, e.g. h20.")],
    rate: Annotated[float, typer.Option(help="Requests per second.")],
    input_len: Annotated[int, typer.Option("--input", help="Prompt tokens per request.")],
    output_len: Annotated[int, typer.Option("--output", help="Output tokens per request.")],
    ttft: Annotated[float, typer.Option(help="Time-to-first-token target, seconds.")] = 2.0,
    tpot: Annotated[float, typer.Option(help="Time-per-output-token target, seconds.")] = 0.05,
    precision: Annotated[str, typer.Option(help="bf16, fp8, int8 or int4 weights.")] = "bf16",
    prefix_hit: Annotated[float, typer.Option(help="Share of prompts in prefix cache.")] = 0.0,
    disaggregate: Annotated[bool, typer.Option(help="Separate prefill and decode pools.")] = False,
    compare: Annotated[str | None, typer.Option(help="More chips, comma separated.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Choose parallelism, batch and replica count to serve a load within TTFT and TPOT."""
    started = time.perf_counter()
    target = ServingTarget(rate, input_len, output_len, ttft, tpot)
    chips = [chip, *[c.strip() for c in (compare or "").split(",") if c.strip()]]
    with error_console.status("sizing serving deployments"):
        payload = serve_payload(model, chips, target, precision, prefix_hit, disaggregate, started)
    rows = payload["designs"]
    if as_json:
        print_json(payload)
        return
    table = Table(
        title=f"Serving {model} at {rate:g} req/s ({input_len} in / {output_len} out), "
        f"TTFT <= {ttft:g} s, TPOT <= {tpot:g} s, {precision}"
    )
    headers = (
        "chip",
        "replica",
        "replicas",
        "chips",
        "TTFT s",
        "TPOT s",
        "out tok/s/chip",
        "vs first",
        "$/M out",
        "kWh/M out",
    )
    for header in headers:
        table.add_column(header)
    for row in rows:
        replica = row["plan"] + (
            f" + prefill {row['prefill_replicas']}x {row['prefill_plan']}"
            if row["prefill_plan"]
            else ""
        )
        usd = row["usd_per_million_output_tokens"]
        table.add_row(
            row["chip"],
            replica,
            str(row["replicas"]),
            str(row["chips"]),
            fmt(row["ttft_s"]),
            fmt(row["tpot_s"]),
            fmt(row["output_tokens_per_s_per_chip"]),
            f"{row['throughput_ratio']:.2f}x",
            "?" if usd is None else fmt(usd),
            fmt(row["kwh_per_million_output_tokens"]),
        )
    console.print(table)


def serve_sim(
    model: Annotated[str, typer.Option(help="Model id.")],
    chip: Annotated[str, typer.Option(help="Chip id.")],
    trace: Annotated[str, typer.Option(help="azure-conv, azure-code, mooncake or a trace file.")],
    replicas: Annotated[int, typer.Option(min=1, help="Serving replicas.")] = 1,
    tp: Annotated[int, typer.Option(min=1, help="Tensor-parallel chips per replica.")] = 1,
    ep: Annotated[int, typer.Option(min=1, help="Expert-parallel chips (MoE).")] = 1,
    precision: Annotated[str, typer.Option(help="bf16, fp8, int8 or int4 weights.")] = "bf16",
    speedup: Annotated[float, typer.Option(help="Replay the trace this many times faster.")] = 1.0,
    requests: Annotated[int | None, typer.Option(help="Only the first N requests.")] = None,
    ttft: Annotated[float, typer.Option(help="TTFT target for SLO attainment, s.")] = 2.0,
    tpot: Annotated[float, typer.Option(help="TPOT target for SLO attainment, s.")] = 0.1,
    as_json: JsonFlag = False,
) -> None:
    """Replay a request trace through replicas with continuous batching."""
    from rich.progress import Progress

    from swarmscale.perf.inference import ReplicaModel, ServingPlan
    from swarmscale.sim.serving import simulate_serving
    from swarmscale.traces.load import load_trace

    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    catalog = default_catalog()
    requests_trace = load_trace(trace)
    if requests is not None:
        requests_trace = requests_trace.head(requests)
    if speedup != 1.0:
        requests_trace = requests_trace.scaled(speedup)
    job = InferenceJob(
        catalog.model(model),
        cast(ServePrecision, precision),
        kv_bytes=1.0 if precision in ("fp8", "int8") else 2.0,
    )
    plan = ServingPlan(tp=tp, ep=ep)
    replica = ReplicaModel(job, build_cluster(catalog, chip, plan.chips * replicas), plan)
    with Progress(console=error_console, transient=True) as bar:
        task = bar.add_task(
            f"replaying {len(requests_trace):,} requests", total=len(requests_trace)
        )
        result = simulate_serving(
            requests_trace, replica, replicas, lambda done: bar.update(task, completed=done)
        )
    summary = result.summary(ttft, tpot)
    payload = {
        "trace": requests_trace.name,
        "requests": len(requests_trace),
        "rate": requests_trace.rate,
        "replicas": replicas,
        "plan": plan.describe(),
        "chips": plan.chips * replicas,
        "summary": summary,
    }
    if as_json:
        print_json(payload)
        return
    table = Table(
        title=f"{model} on {replicas} x ({plan.describe()}) {chip}: "
        f"{len(requests_trace):,} requests of {requests_trace.name}"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, fmt(value))
    console.print(table)
