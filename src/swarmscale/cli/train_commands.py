"""`swarmscale train`: the best parallel plan, its step breakdown and what training costs."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from swarmscale.api.inputs import TrainInput
from swarmscale.api.train import train_payload
from swarmscale.cli.options import option, parse_options
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.plan.search import SearchResult
from swarmscale.workload import TrainingJob

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
DEFAULT_SEQ: int = TrainInput.default("seq")
DEFAULT_BATCH_TOKENS: float = TrainInput.default("global_batch_tokens")


def train(
    model: Annotated[str, option(TrainInput, "model")],
    chip: Annotated[str, option(TrainInput, "chip")],
    chips: Annotated[int, option(TrainInput, "chips")],
    tokens: Annotated[float | None, option(TrainInput, "tokens")] = None,
    seq: Annotated[int, option(TrainInput, "seq")] = DEFAULT_SEQ,
    global_batch_tokens: Annotated[float, option(TrainInput, "global_batch_tokens")] = (
        DEFAULT_BATCH_TOKENS
    ),
    precision: Annotated[str, option(TrainInput, "precision")] = TrainInput.default("precision"),
    system: Annotated[str | None, option(TrainInput, "system")] = None,
    objective: Annotated[str, option(TrainInput, "objective")] = TrainInput.default("objective"),
    plan: Annotated[str | None, option(TrainInput, "plan")] = None,
    software: Annotated[str | None, option(TrainInput, "software")] = None,
    top: Annotated[int, option(TrainInput, "top")] = TrainInput.default("top"),
    as_json: JsonFlag = False,
) -> None:
    """Search every parallel plan for a training job and report the best."""
    started = time.perf_counter()
    query = parse_options(TrainInput, locals())
    with error_console.status("searching parallel plans"):
        job, result, payload = train_payload(query)
    payload["run_id"] = record_run("train", query.model_dump(), payload, started)
    if as_json:
        print_json(payload)
        return
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
    if best.plan.recompute == "partial":
        console.print(
            "partial recompute: the backward rebuilds "
            f"{best.breakdown['rebuilt_layers']:.0f} layer(s) of the largest pipeline stage, "
            "the fewest that fit"
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
