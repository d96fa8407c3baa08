"""`swarmscale serve` and `serve-sim`: chips, layout and cost to serve a model at a request
rate within SLOs, and a request trace replayed through replicas."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from swarmscale.api.inputs import InputError, ServeInput, ServeSimInput
from swarmscale.api.serve import inference_job, serve_payload
from swarmscale.catalog import default_catalog
from swarmscale.cli.options import option, parse_options
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.hardware import build_cluster
from swarmscale.limits import MAX_REQUESTS

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
LENGTH_FLAGS = {"input_len": "--input", "output_len": "--output", "chips": "--chip/--compare"}
SERVE_HEADERS = (
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


def serve(
    model: Annotated[str, option(ServeInput, "model")],
    chip: Annotated[str, typer.Option(help="Chip id, e.g. h20.")],
    rate: Annotated[float, option(ServeInput, "rate")],
    input_len: Annotated[int, option(ServeInput, "input_len", "--input")],
    output_len: Annotated[int, option(ServeInput, "output_len", "--output")],
    ttft: Annotated[float, option(ServeInput, "ttft")] = ServeInput.default("ttft"),
    tpot: Annotated[float, option(ServeInput, "tpot")] = ServeInput.default("tpot"),
    precision: Annotated[str, option(ServeInput, "precision")] = ServeInput.default("precision"),
    prefix_hit: Annotated[float, option(ServeInput, "prefix_hit")] = 0.0,
    disaggregate: Annotated[bool, option(ServeInput, "disaggregate")] = False,
    compare: Annotated[str | None, typer.Option(help="More chips, comma separated.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Choose parallelism, batch and replica count to serve a load within TTFT and TPOT."""
    started = time.perf_counter()
    chips = [chip, *[c.strip() for c in (compare or "").split(",") if c.strip()]]
    query = parse_options(ServeInput, {**locals(), "chips": chips}, LENGTH_FLAGS)
    with error_console.status("sizing serving deployments"):
        payload = serve_payload(query)
    payload["run_id"] = record_run("serve", query.model_dump(), payload, started)
    if as_json:
        print_json(payload)
        return
    table = Table(
        title=f"Serving {model} at {rate:g} req/s ({input_len} in / {output_len} out), "
        f"TTFT <= {ttft:g} s, TPOT <= {tpot:g} s, {precision}"
    )
    for header in SERVE_HEADERS:
        table.add_column(header)
    for row in payload["designs"]:
        if not row["feasible"]:
            table.add_row(row["chip"], f"[red]cannot: {row['reason']}[/red]")
            continue
        replica = row["plan"] + (
            f" + prefill {row['prefill_replicas']}x {row['prefill_plan']}"
            if row["prefill_plan"]
            else ""
        )
        usd = row["usd_per_million_output_tokens"]
        ratio = row["throughput_ratio"]
        table.add_row(
            row["chip"],
            replica,
            str(row["replicas"]),
            str(row["chips"]),
            fmt(row["ttft_s"]),
            fmt(row["tpot_s"]),
            fmt(row["output_tokens_per_s_per_chip"]),
            "?" if ratio is None else f"{ratio:.2f}x",
            "?" if usd is None else fmt(usd),
            fmt(row["kwh_per_million_output_tokens"]),
        )
    console.print(table)


def serve_sim(
    model: Annotated[str, option(ServeSimInput, "model")],
    chip: Annotated[str, option(ServeSimInput, "chip")],
    trace: Annotated[str, option(ServeSimInput, "trace")],
    replicas: Annotated[int, option(ServeSimInput, "replicas")] = 1,
    tp: Annotated[int, option(ServeSimInput, "tp")] = 1,
    ep: Annotated[int, option(ServeSimInput, "ep")] = 1,
    precision: Annotated[str, option(ServeSimInput, "precision")] = "bf16",
    speedup: Annotated[float, option(ServeSimInput, "speedup")] = 1.0,
    requests: Annotated[int | None, option(ServeSimInput, "requests")] = None,
    ttft: Annotated[float, option(ServeSimInput, "ttft")] = ServeSimInput.default("ttft"),
    tpot: Annotated[float, option(ServeSimInput, "tpot")] = ServeSimInput.default("tpot"),
    as_json: JsonFlag = False,
) -> None:
    """Replay a request trace through replicas with continuous batching."""
    from rich.progress import Progress

    from swarmscale.perf.inference import ReplicaModel, ServingPlan
    from swarmscale.sim.serving import simulate_serving
    from swarmscale.traces.load import load_trace

    query = parse_options(ServeSimInput, locals())
    catalog = default_catalog()
    requests_trace = load_trace(query.trace)
    if query.requests is None and len(requests_trace) > MAX_REQUESTS:
        raise InputError(
            f"--requests: the trace holds {len(requests_trace):,} requests, more than the "
            f"{MAX_REQUESTS:,} one replay takes; give --requests"
        )
    if query.requests is not None:
        requests_trace = requests_trace.head(query.requests)
    if query.speedup != 1.0:
        requests_trace = requests_trace.scaled(query.speedup)
    job = inference_job(query.model, query.precision)
    plan = ServingPlan(tp=query.tp, ep=query.ep)
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
