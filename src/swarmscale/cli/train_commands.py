"""`swarmscale train`: the best parallel plan, its step breakdown and what training costs."""

from __future__ import annotations

import time
from typing import Annotated, Any, cast

import typer
from rich.table import Table

from swarmscale.catalog import default_catalog
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.hardware import build_cluster
from swarmscale.perf.plans import parse_plan
from swarmscale.plan.search import OBJECTIVES, RankedPlan, SearchResult, search
from swarmscale.plan.swarm import batch_sequences
from swarmscale.workload import TrainingJob, TrainPrecision

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
DEFAULT_SEQ = 4096
DEFAULT_BATCH_TOKENS = 4e6  # GPT-3 trained with 3.2M-token batches, Llama 3 405B with 4M-16M


def ranked_dict(ranked: RankedPlan) -> dict[str, Any]:
    return {
        "plan": ranked.plan.__dict__,
        "plan_text": ranked.plan.describe(),
        "mfu": ranked.mfu,
        "hfu": ranked.hfu,
        "breakdown": ranked.breakdown,
        "totals": ranked.totals,
        "feasible": ranked.feasible,
        "reason": ranked.reason,
    }


def plan_training(
    model: str,
    chip: str,
    chips: int,
    tokens: float | None,
    seq: int,
    batch: int,
    precision: str,
    system: str | None,
    objective: str,
    plan: str | None,
    top: int,
) -> tuple[TrainingJob, SearchResult]:
    """Shared by the CLI and the web API: build the job and search it."""
    if precision not in ("bf16", "fp8"):
        raise ValueError(f"--precision must be bf16 or fp8, got {precision!r}")
    if objective not in OBJECTIVES:
        raise ValueError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    catalog = default_catalog()
    job = TrainingJob(catalog.model(model), seq, batch, cast(TrainPrecision, precision), tokens)
    cluster = build_cluster(catalog, chip, chips, system)
    fixed = parse_plan(plan) if plan else {}
    return job, search(job, cluster, objective, fixed, top_k=top)


def train_payload(
    model: str,
    chip: str,
    chips: int,
    tokens: float | None,
    seq: int,
    global_batch_tokens: float,
    precision: str,
    system: str | None,
    objective: str,
    plan: str | None,
    top: int,
    started: float,
) -> tuple[TrainingJob, SearchResult, dict[str, Any]]:
    """Search the plans, shape the answer and record the run: the CLI and the web share this."""
    batch = batch_sequences(global_batch_tokens, seq)
    job, result = plan_training(
        model, chip, chips, tokens, seq, batch, precision, system, objective, plan, top
    )
    payload: dict[str, Any] = {
        "job": {
            "model": job.model.id,
            "seq_len": seq,
            "global_batch": batch,
            "tokens": tokens,
            "precision": precision,
        },
        "hardware": {"chip": chip, "chips": chips, "system": system},
        "objective": objective,
        "evaluated": result.evaluated,
        "feasible": result.feasible,
        "rejected": result.rejected,
        "best": ranked_dict(result.best) if result.best else None,
        "top": [ranked_dict(ranked) for ranked in result.top],
        "catalog_version": default_catalog().version,
    }
    payload["run_id"] = record_run(
        "train",
        {**payload["job"], **payload["hardware"], "objective": objective, "plan": plan},
        payload,
        started,
    )
    return job, result, payload


def train(
    model: Annotated[str, typer.Option(help="Model id, e.g. llama3-405b.")],
    chip: Annotated[str, typer.Option(help="Chip id, e.g. h100-sxm.")],
    chips: Annotated[int, typer.Option(min=1, help="Chips available.")],
    tokens: Annotated[float | None, typer.Option(help="Training tokens, e.g. 15.6e12.")] = None,
    seq: Annotated[int, typer.Option(min=1, help="Sequence length.")] = DEFAULT_SEQ,
    global_batch_tokens: Annotated[float, typer.Option(help="Tokens per optimizer step.")] = (
        DEFAULT_BATCH_TOKENS
    ),
    precision: Annotated[str, typer.Option(help="bf16 or fp8.")] = "bf16",
    system: Annotated[str | None, typer.Option(help="Scale-up system id.")] = None,
    objective: Annotated[str, typer.Option(help="time, cost or energy.")] = "time",
    plan: Annotated[str | None, typer.Option(help="Fix plan fields: tp=8,pp=16,...")] = None,
    top: Annotated[int, typer.Option(min=1, help="How many runners-up to show.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Search every parallel plan for a training job and report the best."""
    started = time.perf_counter()
    with error_console.status("searching parallel plans"):
        job, result, payload = train_payload(
            model,
            chip,
            chips,
            tokens,
            seq,
            global_batch_tokens,
            precision,
            system,
            objective,
            plan,
            top,
            started,
        )
    if as_json:
        print_json(payload)
        return
    if result.best is None:
        reasons = "; ".join(f"{count} {why}" for why, count in result.rejected.items())
        raise ValueError(f"no feasible plan among {result.evaluated}: {reasons}")
    _print_best(result, job, chips)


def _print_best(result: SearchResult, job: TrainingJob, chips: int) -> None:
    best = result.best
    assert best is not None
    totals = best.totals
    console.print(
        f"[bold]{job.model.name}[/bold] on {best.plan.chips} of {chips} chips: "
        f"{result.evaluated:,} plans evaluated, {result.feasible:,} feasible"
    )
    console.print(
        f"best plan: [bold]{best.plan.describe()}[/bold]  MFU {100 * best.mfu:.1f}%  "
        f"HFU {100 * best.hfu:.1f}%"
    )
    step = totals["step_s"] or 0.0
    table = Table(title="step time breakdown (per optimizer step)")
    table.add_column("part")
    table.add_column("seconds", justify="right")
    table.add_column("share", justify="right")
    for key, value in best.breakdown.items():
        if key.endswith("_s"):
            table.add_row(key.removesuffix("_s"), fmt(value), f"{100 * value / step:.1f}%")
    table.add_row("[bold]step[/bold]", fmt(step), "")
    console.print(table)
    memory = best.breakdown
    console.print(
        "memory per device: "
        + ", ".join(
            f"{key.removesuffix('_bytes')} {memory[key] / 1e9:.1f} GB"
            for key in (
                "weights_bytes",
                "grads_bytes",
                "optimizer_bytes",
                "activation_bytes",
                "memory_bytes",
            )
        )
    )
    if job.tokens:
        cost = totals["cost_usd"]
        console.print(
            f"time to train {fmt(totals['time_days'])} days, {fmt(totals['chip_hours'])} "
            f"chip-hours, {fmt(totals['power_mw'])} MW, {fmt(totals['energy_mwh'])} MWh, "
            f"cost {'unknown (no price in the catalog)' if cost is None else '$' + fmt(cost)}"
            f" ({totals['cost_basis']} basis)"
        )
    else:
        console.print(f"{fmt(totals['tokens_per_s'])} tokens/s (give --tokens for totals)")
    alt = Table(title="runners-up")
    for header in ("plan", "step s", "MFU"):
        alt.add_column(header)
    for ranked in result.top[1:]:
        alt.add_row(
            ranked.plan.describe(), fmt(ranked.totals["step_s"]), f"{100 * ranked.mfu:.1f}%"
        )
    console.print(alt)
    if result.rejected:
        console.print(
            "rejected: " + "; ".join(f"{n:,} {why}" for why, n in result.rejected.items())
        )
