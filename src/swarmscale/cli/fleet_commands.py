"""Mixed fleets, swarms and chip equivalence: `mixed`, `swarm`, `equiv`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmscale.catalog import default_catalog
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.train_commands import DEFAULT_BATCH_TOKENS, DEFAULT_SEQ
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.plan.equiv import serving_equivalence, training_equivalence
from swarmscale.plan.hetero import plan_mixed
from swarmscale.plan.serving import ServingTarget
from swarmscale.plan.swarm import (
    DEFAULT_TOKENS_PER_CHIP,
    batch_sequences,
    points_table,
    swarm_sweep,
)
from swarmscale.workload import InferenceJob, TrainingJob

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def parse_fleet(text: str) -> list[tuple[str, int, str | None]]:
    """`a100-sxm-80gb:512,h800-sxm:256@hgx-h800-8` -> [(chip, count, system), ...]."""
    fleet = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        spec, _, system = item.partition("@")
        chip, sep, count = spec.partition(":")
        if not sep or not count.isdigit() or int(count) < 1:
            raise ValueError(
                f"--fleet item {item!r}: expected CHIP:COUNT[@SYSTEM], e.g. h800-sxm:256@hgx-h800-8"
            )
        fleet.append((chip.strip(), int(count), system.strip() or None))
    if not fleet:
        raise ValueError("--fleet is empty; expected CHIP:COUNT[,CHIP:COUNT...]")
    return fleet


def _job(model: str, seq: int, batch_tokens: float, tokens: float | None) -> TrainingJob:
    catalog = default_catalog()
    return TrainingJob(catalog.model(model), seq, batch_sequences(batch_tokens, seq), tokens=tokens)


def mixed(
    model: Annotated[str, typer.Option(help="Model id.")],
    fleet: Annotated[str, typer.Option(help="CHIP:COUNT[@SYSTEM], comma separated.")],
    tokens: Annotated[float | None, typer.Option(help="Training tokens.")] = None,
    seq: Annotated[int, typer.Option(min=1, help="Sequence length.")] = DEFAULT_SEQ,
    global_batch_tokens: Annotated[float, typer.Option(help="Tokens per step.")] = (
        DEFAULT_BATCH_TOKENS
    ),
    as_json: JsonFlag = False,
) -> None:
    """Train one job on several chip kinds at once; compare with the sum of the parts."""
    catalog = default_catalog()
    job = _job(model, seq, global_batch_tokens, tokens)
    clusters: list[Cluster] = [
        build_cluster(catalog, chip, count, system) for chip, count, system in parse_fleet(fleet)
    ]
    with error_console.status("balancing the fleet"):
        result = plan_mixed(job, clusters)
    if as_json:
        print_json({"model": model, "global_batch": job.global_batch, **result.as_dict()})
        return
    table = Table(title=f"{job.model.name}: {job.global_batch} sequences of {seq} per step")
    for header in ("chip", "chips", "batch share", "plan", "step s", "memory GB"):
        table.add_column(header)
    for kind in result.kinds:
        table.add_row(
            kind.chip,
            str(kind.chips),
            str(kind.batch),
            kind.plan,
            fmt(kind.step_s),
            fmt(kind.memory_bytes / 1e9),
        )
    console.print(table)
    for chip, why in result.dropped.items():
        console.print(f"not used: {chip}: {why}")
    console.print(
        f"mixed step {fmt(result.step_s)} s (cross-kind gradient exchange "
        f"{fmt(result.sync_s)} s), {fmt(result.tokens_per_s)} tokens/s = "
        f"{100 * result.efficiency:.1f}% of the parts' sum "
        f"({fmt(result.sum_of_parts_tokens_per_s)} tokens/s)"
    )
    totals = result.totals
    if tokens:
        cost = totals["cost_usd"]
        console.print(
            f"time to train {fmt(totals['time_days'])} days, "
            f"{fmt(totals['power_mw'])} MW, {fmt(totals['energy_mwh'])} MWh, cost "
            f"{'unknown (a price is missing)' if cost is None else '$' + fmt(cost)}"
        )


def swarm(
    model: Annotated[str, typer.Option(help="Model id.")],
    chip: Annotated[str, typer.Option(help="Chip id of the swarm.")],
    max_chips: Annotated[float, typer.Option(help="Largest swarm, e.g. 1e6.")] = 1e6,
    system: Annotated[str | None, typer.Option(help="Scale-up system of the swarm.")] = None,
    reference: Annotated[str | None, typer.Option(help="Reference CHIP[@SYSTEM].")] = (
        "h100-sxm@hgx-h100-8"
    ),
    seq: Annotated[int, typer.Option(min=1, help="Sequence length.")] = DEFAULT_SEQ,
    global_batch_tokens: Annotated[float, typer.Option(help="Smallest batch, tokens.")] = (
        DEFAULT_BATCH_TOKENS
    ),
    tokens_per_chip: Annotated[int, typer.Option(help="Batch tokens per chip at scale.")] = (
        DEFAULT_TOKENS_PER_CHIP
    ),
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the curves here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Throughput, goodput, power and cost of one job from 64 to a million chips."""
    catalog = default_catalog()
    job = _job(model, seq, global_batch_tokens, None)
    top = int(max_chips)
    series: dict[str, Any] = {}
    runs = [(chip, system)]
    if reference:
        ref_chip, _, ref_system = reference.partition("@")
        runs.append((ref_chip, ref_system or None))
    with error_console.status("sweeping swarm sizes"):
        for chip_id, system_id in runs:
            label = catalog.chip(chip_id).id + (f" ({system_id})" if system_id else "")
            series[label] = swarm_sweep(catalog, job, chip_id, top, system_id, tokens_per_chip)
    if plot is not None:
        from swarmscale.report.plots import plot_swarm  # Matplotlib only when asked for

        plot_swarm(series, plot, f"{job.model.name}: swarm scaling")
    if as_json:
        print_json(
            {
                "model": model,
                "series": {k: points_table(v) for k, v in series.items()},
                "plot": str(plot) if plot else None,
            }
        )
        return
    for label, points in series.items():
        table = Table(title=f"{job.model.name} on {label}")
        for header in ("chips", "batch", "plan", "MFU", "tokens/s", "goodput", "MW", "$/h"):
            table.add_column(header)
        for p in points:
            table.add_row(
                f"{p.chips:,}",
                f"{p.global_batch:,}",
                p.plan,
                f"{100 * p.mfu:.0f}%",
                fmt(p.tokens_per_s),
                f"{100 * p.goodput:.0f}%",
                fmt(p.power_mw),
                "?" if p.cost_usd_per_hour is None else fmt(p.cost_usd_per_hour),
            )
        console.print(table)
    if plot is not None:
        console.print(f"plot: {plot}")


def equiv(
    reference: Annotated[str, typer.Option("--ref", help="CHIP:COUNT, e.g. h100-sxm:100.")],
    candidate: Annotated[str, typer.Option(help="Candidate chip id.")],
    model: Annotated[str, typer.Option(help="Model id.")],
    serve: Annotated[bool, typer.Option(help="Match serving throughput instead of training.")] = (
        False
    ),
    seq: Annotated[int, typer.Option(min=1, help="Training sequence length.")] = DEFAULT_SEQ,
    global_batch_tokens: Annotated[float, typer.Option(help="Training tokens per step.")] = (
        DEFAULT_BATCH_TOKENS
    ),
    input_len: Annotated[int, typer.Option("--input", help="Serving prompt tokens.")] = 2000,
    output_len: Annotated[int, typer.Option("--output", help="Serving output tokens.")] = 300,
    ttft: Annotated[float, typer.Option(help="Serving TTFT target, s.")] = 2.0,
    tpot: Annotated[float, typer.Option(help="Serving TPOT target, s.")] = 0.05,
    precision: Annotated[str, typer.Option(help="Serving weights: bf16, fp8, int8, int4.")] = (
        "bf16"
    ),
    as_json: JsonFlag = False,
) -> None:
    """How many candidate chips match a reference fleet, with power, cost and floor ratios."""
    catalog = default_catalog()
    ((ref_chip, ref_count, ref_system),) = parse_fleet(reference)
    with error_console.status("searching candidate counts"):
        if serve:
            if precision not in ("bf16", "fp8", "int8", "int4"):
                raise ValueError(f"--precision must be bf16, fp8, int8 or int4, got {precision!r}")
            job = InferenceJob(
                catalog.model(model),
                precision,  # type: ignore[arg-type]
                kv_bytes=1.0 if precision in ("fp8", "int8") else 2.0,
            )
            target = ServingTarget(1.0, input_len, output_len, ttft, tpot)
            result = serving_equivalence(catalog, job, target, ref_chip, ref_count, candidate)
        else:
            result = training_equivalence(
                catalog,
                _job(model, seq, global_batch_tokens, None),
                ref_chip,
                ref_count,
                candidate,
                ref_system,
            )
    if as_json:
        print_json(result.as_dict())
        return
    if result.candidate_chips is None:
        console.print(
            f"no number of {result.candidate} up to 64x matches {ref_count} "
            f"{result.reference} for {result.workload}"
        )
        return
    cost = (
        "n/a (no comparable prices)" if result.cost_ratio is None else f"x{fmt(result.cost_ratio)}"
    )
    console.print(
        f"{result.workload}: {result.candidate_chips:,} {result.candidate} ~ "
        f"{ref_count:,} {result.reference} ({fmt(result.chips_ratio)} per reference "
        f"chip); power x{fmt(result.power_ratio)}, floor space "
        f"x{fmt(result.floor_ratio)}, cost {cost}"
    )


def claims(
    markdown: Annotated[Path | None, typer.Option(help="Write docs/claims.md here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the seed articles' quantitative claims with the model."""
    import dataclasses

    from swarmscale.report.claims import claims_markdown, evaluate_claims

    with error_console.status("checking claims"):
        results = evaluate_claims(default_catalog())
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(
            claims_markdown(results, f"swarmscale claims --markdown {markdown}"), encoding="utf-8"
        )
    if as_json:
        print_json({"claims": [dataclasses.asdict(result) for result in results]})
        return
    table = Table(title="The articles' claims")
    for header in ("claim", "claimed", "swarmscale", "verdict"):
        table.add_column(header, overflow="fold")
    for result in results:
        claimed = "-" if result.claimed is None else f"{result.claimed[0]:g}-{result.claimed[1]:g}"
        table.add_row(result.id, claimed, result.answer, result.verdict)
    console.print(table)
