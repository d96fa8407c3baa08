"""Mixed fleets, swarms and chip equivalence: `mixed`, `swarm`, `equiv`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmscale.api.inputs import EquivInput, InputError, MixedInput, SwarmInput
from swarmscale.api.serve import inference_job
from swarmscale.catalog import default_catalog
from swarmscale.cli.options import option, parse_counted, parse_options
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.serve_commands import LENGTH_FLAGS
from swarmscale.cli.train_commands import DEFAULT_BATCH_TOKENS, DEFAULT_SEQ
from swarmscale.files import PLOT_SUFFIXES, check_output_path, write_text_atomic
from swarmscale.hardware import Cluster, build_cluster
from swarmscale.plan.equiv import MAX_FACTOR, serving_equivalence, training_equivalence
from swarmscale.plan.hetero import plan_mixed
from swarmscale.plan.serving import ServingTarget
from swarmscale.plan.swarm import (
    DEFAULT_TOKENS_PER_CHIP,
    batch_sequences,
    points_table,
    swarm_sweep,
)
from swarmscale.workload import TrainingJob

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def parse_reference(text: str) -> tuple[str, int, str | None]:
    """`--ref h100-sxm:1024@hgx-h100-8` -> (chip, count, system): exactly one fleet item."""
    items = parse_counted(text, "--ref", "SYSTEM")
    if len(items) != 1:
        raise InputError(
            f"--ref takes one CHIP:COUNT[@SYSTEM], e.g. h100-sxm:1024@hgx-h100-8; got "
            f"{len(items)} items in {text!r}"
        )
    return items[0]


def _job(model: str, seq: int, batch_tokens: float, tokens: float | None) -> TrainingJob:
    catalog = default_catalog()
    return TrainingJob(catalog.model(model), seq, batch_sequences(batch_tokens, seq), tokens=tokens)


def mixed(
    model: Annotated[str, option(MixedInput, "model")],
    fleet: Annotated[str, typer.Option(help="CHIP:COUNT[@SYSTEM], comma separated.")],
    tokens: Annotated[float | None, option(MixedInput, "tokens")] = None,
    seq: Annotated[int, option(MixedInput, "seq")] = DEFAULT_SEQ,
    global_batch_tokens: Annotated[float, option(MixedInput, "global_batch_tokens")] = (
        DEFAULT_BATCH_TOKENS
    ),
    as_json: JsonFlag = False,
) -> None:
    """Train one job on several chip kinds at once; compare with the sum of the parts."""
    query = parse_options(MixedInput, locals())
    catalog = default_catalog()
    job = _job(model, seq, query.global_batch_tokens, query.tokens)
    clusters: list[Cluster] = [
        build_cluster(catalog, chip, count, system)
        for chip, count, system in parse_counted(fleet, "--fleet", "SYSTEM")
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
    model: Annotated[str, option(SwarmInput, "model")],
    chip: Annotated[str, option(SwarmInput, "chip")],
    max_chips: Annotated[float, option(SwarmInput, "max_chips")] = SwarmInput.default("max_chips"),
    system: Annotated[str | None, option(SwarmInput, "system")] = None,
    reference: Annotated[str | None, typer.Option(help="Reference CHIP[@SYSTEM].")] = (
        "h100-sxm@hgx-h100-8"
    ),
    seq: Annotated[int, option(SwarmInput, "seq")] = DEFAULT_SEQ,
    global_batch_tokens: Annotated[float, option(SwarmInput, "global_batch_tokens")] = (
        DEFAULT_BATCH_TOKENS
    ),
    tokens_per_chip: Annotated[int, option(SwarmInput, "tokens_per_chip")] = (
        DEFAULT_TOKENS_PER_CHIP
    ),
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the curves here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Throughput, goodput, power and cost of one job from 64 to a million chips."""
    query = parse_options(SwarmInput, locals())
    if plot is not None:
        check_output_path(plot, "--plot", PLOT_SUFFIXES)
    catalog = default_catalog()
    job = _job(model, seq, query.global_batch_tokens, None)
    top = int(query.max_chips)
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


def _fleet_label(chip: str, system: str | None) -> str:
    return chip if system is None else f"{chip}@{system}"


def equiv(
    reference: Annotated[
        str, typer.Option("--ref", help="CHIP:COUNT[@SYSTEM], e.g. h100-sxm:1024@hgx-h100-8.")
    ],
    candidate: Annotated[str, option(EquivInput, "candidate")],
    model: Annotated[str, option(EquivInput, "model")],
    system: Annotated[
        str | None,
        typer.Option(help="Candidate's scale-up system id; default the chip's own, as in train."),
    ] = None,
    serve: Annotated[bool, typer.Option(help="Match serving throughput instead of training.")] = (
        False
    ),
    seq: Annotated[int, option(EquivInput, "seq")] = DEFAULT_SEQ,
    global_batch_tokens: Annotated[float, option(EquivInput, "global_batch_tokens")] = (
        DEFAULT_BATCH_TOKENS
    ),
    input_len: Annotated[int, option(EquivInput, "input_len", "--input")] = EquivInput.default(
        "input_len"
    ),
    output_len: Annotated[int, option(EquivInput, "output_len", "--output")] = (
        EquivInput.default("output_len")
    ),
    ttft: Annotated[float, option(EquivInput, "ttft")] = EquivInput.default("ttft"),
    tpot: Annotated[float, option(EquivInput, "tpot")] = EquivInput.default("tpot"),
    precision: Annotated[str, option(EquivInput, "precision")] = EquivInput.default("precision"),
    as_json: JsonFlag = False,
) -> None:
    """Fewest candidate chips that match a reference fleet, with time, power, cost and floor
    ratios (the same computation as `swarmscale claims`)."""
    query = parse_options(EquivInput, locals(), LENGTH_FLAGS)
    catalog = default_catalog()
    ref_chip, ref_count, ref_system = parse_reference(reference)
    with error_console.status("searching candidate counts"):
        if serve:
            job = inference_job(model, query.precision)
            target = ServingTarget(1.0, query.input_len, query.output_len, query.ttft, query.tpot)
            result = serving_equivalence(
                catalog,
                job,
                target,
                ref_chip,
                ref_count,
                candidate,
                reference_system=ref_system,
                candidate_system=system,
            )
        else:
            result = training_equivalence(
                catalog,
                _job(model, seq, query.global_batch_tokens, None),
                ref_chip,
                ref_count,
                candidate,
                ref_system,
                system,
            )
    if as_json:
        print_json(result.as_dict())
        return
    ref_label = _fleet_label(result.reference, result.reference_system)
    cand_label = _fleet_label(result.candidate, result.candidate_system)
    if result.candidate_chips is None:
        console.print(
            f"no number of {cand_label} up to {MAX_FACTOR}x matches {ref_count:,} "
            f"{ref_label} for {result.workload}"
        )
        return
    cost = (
        "n/a (no comparable prices)" if result.cost_ratio is None else f"x{fmt(result.cost_ratio)}"
    )
    console.print(
        f"{result.workload}: {result.candidate_chips:,} {cand_label} ~ {ref_count:,} "
        f"{ref_label} ({fmt(result.chips_ratio)} per reference chip); {result.metric} "
        f"{fmt(result.candidate_value)} vs {fmt(result.reference_value)}, time "
        f"x{result.time_ratio:.3f}; IT power (hosts and network included) "
        f"x{fmt(result.power_ratio)}, floor space x{fmt(result.floor_ratio)}, cost {cost}"
    )


def claims(
    markdown: Annotated[Path | None, typer.Option(help="Write docs/claims.md here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the seed articles' quantitative claims with the model."""
    import dataclasses

    from swarmscale.report.claims import claims_markdown, evaluate_claims

    if markdown is not None:
        check_output_path(markdown, "--markdown", (".md",))

    with error_console.status("checking claims"):
        results = evaluate_claims(default_catalog())
    if markdown is not None:
        write_text_atomic(
            markdown, claims_markdown(results, f"swarmscale claims --markdown {markdown}")
        )
    if as_json:
        claims = [
            {
                **dataclasses.asdict(result),
                "equivalences": [item.as_dict() for item in result.equivalences],
            }
            for result in results
        ]
        print_json({"claims": claims})
        return
    table = Table(title="The articles' claims")
    for header in ("claim", "claimed", "swarmscale", "verdict"):
        table.add_column(header, overflow="fold")
    for result in results:
        claimed = "-" if result.claimed is None else f"{result.claimed[0]:g}-{result.claimed[1]:g}"
        table.add_row(result.id, claimed, result.answer, result.verdict)
    console.print(table)
