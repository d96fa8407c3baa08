"""`swarmscale serve`: chips, layout and cost to serve a model at a request rate within SLOs."""

from __future__ import annotations

from typing import Annotated, Any, cast

import typer
from rich.table import Table

from swarmscale.catalog import default_catalog
from swarmscale.cli.output import console, error_console, fmt, print_json
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
    target = ServingTarget(rate, input_len, output_len, ttft, tpot)
    chips = [chip, *[c.strip() for c in (compare or "").split(",") if c.strip()]]
    rows: list[dict[str, Any]] = []
    with error_console.status("sizing serving deployments"):
        for chip_id in chips:
            result = serving_design(model, chip_id, target, precision, prefix_hit, disaggregate)
            rows.append({"chip": default_catalog().chip(chip_id).id, **result.as_dict()})
    first = rows[0]
    for row in rows:
        row["chips_ratio"] = row["chips"] / first["chips"]
        row["throughput_ratio"] = (
            row["output_tokens_per_s_per_chip"] / first["output_tokens_per_s_per_chip"]
        )
    payload = {"model": model, "target": target.__dict__, "precision": precision, "designs": rows}
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
