"""CLI verbs over the catalog: chips, models, compare-specs, catalog check, headline."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from swarmscale.api.inputs import TrainInput
from swarmscale.api.serve import serving_design
from swarmscale.api.train import plan_training
from swarmscale.catalog import Chip, Model, default_catalog
from swarmscale.catalog.audit import audit
from swarmscale.catalog.schemas import EFFICIENCY_FACTORS
from swarmscale.catalog.units import from_si
from swarmscale.cli.output import console, fmt, fmt_ratio, print_json
from swarmscale.perf.params import count_params
from swarmscale.plan.serving import ServingTarget
from swarmscale.report.specs import HEADLINE_FIELDS, SPEC_FIELDS, compare, fields_named

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]

chips_app = typer.Typer(help="Accelerators in the catalog.", no_args_is_help=False)
models_app = typer.Typer(help="Model architectures in the catalog.", no_args_is_help=False)
catalog_app = typer.Typer(help="Catalog maintenance.", no_args_is_help=True)

ARTICLE_CHIPS = (
    "h100-sxm",
    "h800-sxm",
    "h20",
    "a100-sxm-80gb",
    "a800-sxm",
    "ascend-910b",
    "ascend-910c",
    "mlu590",
    "metax-c500",
    "thead-ppu",
)


def _tflops(chip: Chip, precision: str) -> float | None:
    quantity = getattr(chip.peak, precision)
    if quantity is None or quantity.value is None:
        return None
    return float(from_si(quantity.value, "TFLOPS", "flops"))


@chips_app.callback(invoke_without_command=True)
def chips_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List every chip with its headline specs."""
    if ctx.invoked_subcommand is not None:
        return
    catalog = default_catalog()
    if as_json:
        print_json(
            {
                "catalog_version": catalog.version,
                "chips": [chip.model_dump(mode="json") for chip in catalog.chips.values()],
            }
        )
        return
    table = Table(title=f"{len(catalog.chips)} chips (peak dense; ? = unknown, - = no such unit)")
    for header in ("id", "vendor", "market", "BF16 TF", "FP8 TF", "mem GB", "HBM TB/s", "TDP W"):
        table.add_column(header, justify="right" if "TF" in header or "W" in header else "left")
    for chip in catalog.chips.values():
        table.add_row(
            chip.id,
            chip.vendor,
            chip.market,
            fmt(_tflops(chip, "bf16")) if chip.peak.bf16 else "-",
            fmt(_tflops(chip, "fp8")) if chip.peak.fp8 else "-",
            fmt(from_si(chip.memory.value, "GB", "bytes") if chip.memory.value else None),
            fmt(
                from_si(chip.memory_bandwidth.value, "TB/s", "bandwidth")
                if chip.memory_bandwidth.value
                else None
            ),
            fmt(chip.tdp.value),
        )
    console.print(table)


HEADLINE_SERVING = (
    "llama3-70b",
    20.0,
    2000,
    300,
    2.0,
    0.05,
    ("h100-sxm", "h20", "ascend-910c", "ascend-910b"),
)


def _headline_serving() -> None:
    """The articles' inference comparison: one load, each chip sized to meet the same SLO."""
    model_id, rate, input_len, output_len, ttft, tpot, chip_ids = HEADLINE_SERVING
    target = ServingTarget(rate, input_len, output_len, ttft, tpot)
    table = Table(
        title=f"Serving {model_id} at {rate:g} req/s ({input_len} in / {output_len} "
        f"out, TTFT <= {ttft:g} s, TPOT <= {tpot:g} s), fp8 weights"
    )
    for header in ("chip", "replica", "chips", "out tok/s/chip", "vs H100", "$/M out"):
        table.add_column(header)
    reference: float | None = None
    for chip_id in chip_ids:
        result = serving_design(model_id, chip_id, target, "fp8", 0.0, False)
        per_chip = result.output_tokens_per_s_per_chip
        reference = reference or per_chip
        usd = result.usd_per_million_tokens
        table.add_row(
            chip_id,
            result.plan.describe(),
            str(result.chips),
            fmt(per_chip),
            f"{per_chip / reference:.2f}x",
            "?" if usd is None else fmt(usd),
        )
    console.print(table)


@chips_app.command("show")
def chips_show(chip_id: str, as_json: JsonFlag = False) -> None:
    """Every spec of one chip with its source, kind and range."""
    catalog = default_catalog()
    chip = catalog.chip(chip_id)
    controls = [rule.model_dump(mode="json") for rule in catalog.controls_for(chip.id)]
    efficiency = catalog.efficiency_for(chip)
    if as_json:
        print_json({
            "chip": chip.model_dump(mode="json"), "export_controls": controls,
            "efficiency": efficiency.model_dump(mode="json"),
        })  # fmt: skip
        return
    console.print(
        f"[bold]{chip.name}[/bold] ({chip.id}); {chip.vendor}, designed in "
        f"{chip.design_country}, fab {chip.foundry or '?'} ({chip.fab_country or '?'}), "
        f"{chip.process_node or '?'}, launched {chip.launch_date}, {chip.software_stack}"
    )
    table = Table()
    for header in ("spec", "value", "unit", "range", "kind", "source"):
        table.add_column(header, overflow="fold")
    for spec in SPEC_FIELDS:
        quantity = spec.quantity(chip)
        if quantity is None:
            table.add_row(spec.label, "-", spec.unit, "", "", "no such unit")
            continue
        low, high = quantity.low, quantity.high
        shown = (
            ""
            if low is None and high is None
            else (
                f"{fmt(from_si(low, spec.unit, spec.dimension) if low is not None else None)}"
                f" - {fmt(from_si(high, spec.unit, spec.dimension) if high is not None else None)}"
            )
        )
        table.add_row(
            spec.label,
            fmt(spec.display(chip)),
            spec.unit,
            shown,
            quantity.kind,
            quantity.source if quantity.known else f"{quantity.note} ({quantity.source})",
        )
    console.print(table)
    for rule in catalog.controls_for(chip.id):
        console.print(f"{rule.date} {rule.authority} {rule.action}: {rule.summary}")
    factors = Table(title=f"efficiency factors (top layer: {efficiency.applies_to})")
    for header in ("factor", "value", "range", "kind", "source"):
        factors.add_column(header, overflow="fold")
    for factor in EFFICIENCY_FACTORS:
        quantity = getattr(efficiency, factor)
        factors.add_row(factor, fmt(quantity.value), f"{fmt(quantity.low)} - {fmt(quantity.high)}",
                        quantity.kind, quantity.source)  # fmt: skip
    console.print(factors)


def _model_summary(model: Model) -> dict[str, Any]:
    counts = count_params(model)
    return {
        "id": model.id,
        "name": model.name,
        "family": model.family,
        "total_params": counts.total,
        "active_params": counts.active,
        "published_total_params": (
            model.published_total_params.value if model.published_total_params else None
        ),
        "layers": model.layers,
        "d_model": model.d_model,
        "heads": model.heads,
        "kv_heads": model.kv_heads,
        "attention": "mla" if model.mla else ("gqa" if model.kv_heads < model.heads else "mha"),
    }


@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List every model with derived and published parameter counts."""
    if ctx.invoked_subcommand is not None:
        return
    catalog = default_catalog()
    summaries = [_model_summary(model) for model in catalog.models.values()]
    if as_json:
        print_json({"catalog_version": catalog.version, "models": summaries})
        return
    table = Table(title=f"{len(summaries)} models (parameter counts derived from the architecture)")
    for header in (
        "id",
        "family",
        "attention",
        "layers",
        "d_model",
        "total B",
        "active B",
        "published B",
    ):
        table.add_column(header)
    for row in summaries:
        table.add_row(
            row["id"],
            row["family"],
            row["attention"],
            str(row["layers"]),
            str(row["d_model"]),
            fmt(row["total_params"] / 1e9, 4),
            fmt(row["active_params"] / 1e9, 4),
            fmt(row["published_total_params"] / 1e9, 4),
        )
    console.print(table)


@models_app.command("show")
def models_show(model_id: str, as_json: JsonFlag = False) -> None:
    """Architecture and parameter breakdown of one model."""
    model = default_catalog().model(model_id)
    counts = count_params(model)
    breakdown = {key: value for key, value in counts.__dict__.items()}
    payload = {
        "model": model.model_dump(mode="json"),
        "params": {**breakdown, "total": counts.total, "active": counts.active},
    }
    if as_json:
        print_json(payload)
        return
    console.print(f"[bold]{model.name}[/bold] ({model.id}) - {model.source}")
    table = Table()
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in model.model_dump(
        exclude={"published_total_params", "published_active_params"}
    ).items():
        if value is not None and key not in ("id", "name", "source", "aliases"):
            table.add_row(key, str(value))
    for key, value in payload["params"].items():
        table.add_row(f"params.{key}", f"{value:,}")
    console.print(table)


def compare_specs(
    chip_ids: Annotated[list[str], typer.Argument(help="Chip ids; ratios are to the first.")],
    as_json: JsonFlag = False,
) -> None:
    """Side-by-side specs with ratios to the first chip (e.g. ascend-910c h100-sxm)."""
    catalog = default_catalog()
    chips = [catalog.chip(chip_id) for chip_id in chip_ids]
    result = compare(chips)
    if as_json:
        print_json(result)
        return
    _print_comparison(result, f"Specs relative to {chips[0].id}")


def _print_comparison(result: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    table.add_column("spec")
    table.add_column("unit")
    for chip_id in result["chips"]:
        table.add_column(chip_id, justify="right")
    for row in result["rows"]:
        cells = []
        for chip_id in result["chips"]:
            cell = row["values"][chip_id]
            if cell["state"] == "absent":
                cells.append("-")
                continue
            marker = "~" if cell["kind"] == "estimate" else ""
            ratio = "" if chip_id == result["reference"] else f" ({fmt_ratio(cell['ratio'])})"
            cells.append(f"{marker}{fmt(cell['value'])}{ratio if cell['ratio'] else ''}")
        table.add_row(row["label"], row["unit"], *cells)
    console.print(table)
    console.print(
        "? unknown in public sources, - no such unit, ~ estimate; "
        "`swarmscale chips show ID` gives every source."
    )


@catalog_app.command("check")
def catalog_check(as_json: JsonFlag = False) -> None:
    """Validate every catalog file and list numbers without a source, unknowns and estimates."""
    catalog = default_catalog()
    report = audit(catalog)
    payload = {
        "ok": report.ok,
        "catalog_version": catalog.version,
        "files": len(catalog.files),
        "records": report.records,
        "quantities": report.quantities,
        "by_kind": dict(report.by_kind),
        "with_range": report.with_range,
        "unsourced": report.unsourced,
        "unknown": [{"field": where, "note": note} for where, note in report.unknown],
    }
    if as_json:
        print_json(payload)
    else:
        console.print(
            f"{len(catalog.files)} files, {report.records} records, "
            f"{report.quantities} sourced numbers "
            f"({', '.join(f'{k} {v}' for k, v in sorted(report.by_kind.items()))}), "
            f"{report.with_range} with a range"
        )
        console.print(f"{len(report.unknown)} values unknown in public sources:")
        for where, note in report.unknown:
            console.print(f"  {where}: {note}")
        if report.unsourced:
            console.print(f"[red]{len(report.unsourced)} numbers without a source:[/red]")
            for where in report.unsourced:
                console.print(f"  {where}")
        else:
            console.print("[green]every number has a source[/green]")
    if not report.ok:
        raise typer.Exit(1)


HEADLINE_TRAINING = (
    ("llama3-70b", 15e12, 8192, 16e6),
    (("h100-sxm", "hgx-h100-8"), ("ascend-910c", "cloudmatrix-384"), ("ascend-910b", None)),
    2048,
)


def headline() -> None:
    """The scenario `make run` shows: the chips the articles name, then one training job on an
    all-NVIDIA and on all-Ascend fleets of the same size."""
    catalog = default_catalog()
    chips = [catalog.chip(chip_id) for chip_id in ARTICLE_CHIPS if chip_id in catalog.chips]
    result = compare(chips, fields_named(HEADLINE_FIELDS))
    _print_comparison(result, "Chips named in the articles, relative to the NVIDIA H100 SXM")
    (model_id, tokens, seq, batch_tokens), fleets, count = HEADLINE_TRAINING
    table = Table(
        title=f"Training {model_id} on {tokens / 1e12:g}T tokens with {count:,} chips "
        "(best plan each; estimates for Ascend efficiency)"
    )
    for header in ("chip", "system", "best plan", "MFU", "days", "MW", "MWh", "cost $M"):
        table.add_column(header)
    for chip_id, system_id in fleets:
        query = TrainInput(
            model=model_id,
            chip=chip_id,
            chips=count,
            tokens=tokens,
            seq=seq,
            global_batch_tokens=batch_tokens,
            system=system_id,
            top=1,
        )
        _, search_result = plan_training(query)
        best = search_result.best
        if best is None:
            table.add_row(chip_id, system_id or "-", "no feasible plan", "", "", "", "", "")
            continue
        totals = best.totals
        cost = totals["cost_usd"]
        table.add_row(
            chip_id,
            system_id or "-",
            best.plan.describe(),
            f"{100 * best.mfu:.0f}%",
            fmt(totals["time_days"]),
            fmt(totals["power_mw"]),
            fmt(totals["energy_mwh"]),
            "?" if cost is None else fmt(cost / 1e6),
        )
    console.print(table)
    _headline_serving()
    _headline_policy()


def _headline_policy() -> None:
    """The cheapest fleet for a 90-day training run under the 70% domestic rule, and without."""
    from swarmscale.api.fleet import fleet_answer
    from swarmscale.catalog.schemas import FleetRequest, WorkloadSpec

    catalog = default_catalog()
    spec = WorkloadSpec(kind="training", model="llama3-70b", tokens=15e12, deadline_days=90)
    table = Table(
        title="Cheapest fleet to train llama3-70b on 15T tokens within 90 days "
        "(every catalog chip on offer)"
    )
    for header in ("policy", "fleet", "days", "MW", "cost $M", "rule costs"):
        table.add_column(header)
    for policy_id in ("unrestricted", "cn-beijing-70"):
        answer = fleet_answer(
            catalog, FleetRequest(workload=spec), catalog.policy(policy_id), "cost"
        )
        fleet_text = ", ".join(f"{row['chips']:,} {row['chip']}" for row in answer["fleet"])
        costs = ", ".join(
            f"{e['constraint'].split(':')[1]} +{100 * e['cost_change']:.0f}%"
            for e in answer["rule_costs"]
            if e["cost_change"]
        )
        table.add_row(
            policy_id,
            fleet_text,
            fmt(answer["days"]),
            fmt(answer["power_mw"]),
            fmt(answer["cost_usd"] / 1e6),
            costs or "-",
        )
    console.print(table)
