"""`swarmscale policy check` and `swarmscale fleet`: sourcing rules and what to buy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmscale.api.fleet import fleet_inputs, fleet_payload, fleet_request, resolve_policy
from swarmscale.api.inputs import FleetInput, InputError
from swarmscale.catalog import default_catalog
from swarmscale.cli.options import option, parse_counted, parse_options
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.files import PLOT_SUFFIXES, check_output_path
from swarmscale.fleet.optimize import Offer, Site, figures_of
from swarmscale.fleet.workloads import TrainingWork, build_problem
from swarmscale.policy.rules import FleetItem, check_fleet

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
policy_app = typer.Typer(help="Sourcing policies.", no_args_is_help=True)


def parse_site_fleet(text: str) -> list[FleetItem]:
    """`h100-sxm:512@beijing,ascend-910c:1024` -> fleet items (site 'default' if none)."""
    return [
        FleetItem(chip, count, site or "default")
        for chip, count, site in parse_counted(text, "--fleet", "SITE")
    ]


@policy_app.command("check")
def policy_check(
    policy: Annotated[str, typer.Option(help="Policy id or YAML file.")],
    fleet: Annotated[str, typer.Option(help="CHIP:COUNT[@SITE], comma separated.")],
    workload: Annotated[str, typer.Option(help="training or inference.")] = "training",
    as_json: JsonFlag = False,
) -> None:
    """List every rule the fleet breaks, with the numbers."""
    if workload not in ("training", "inference"):
        raise InputError(f"--workload: must be training or inference, got {workload!r}")
    catalog = default_catalog()
    chosen = resolve_policy(catalog, policy)
    items = [FleetItem(catalog.chip(i.chip).id, i.count, i.site) for i in parse_site_fleet(fleet)]
    offers = [Offer(chip) for chip in sorted({item.chip for item in items})]
    work = TrainingWork("llama3-8b", 1e9, 1.0)
    problem = build_problem(catalog, work, offers, [Site()], chosen)
    if problem.unusable:
        raise ValueError(
            "cannot check: " + "; ".join(f"{c}: {w}" for c, w in problem.unusable.items())
        )
    violations = check_fleet(catalog, chosen, items, workload, figures_of(problem.kinds))  # type: ignore[arg-type]
    payload = {
        "policy": chosen.id,
        "ok": not violations,
        "violations": [v.__dict__ for v in violations],
    }
    if as_json:
        print_json(payload)
        return
    if not violations:
        console.print(f"[green]the fleet complies with {chosen.id}[/green]")
        return
    console.print(f"[red]{len(violations)} violation(s) of {chosen.id}:[/red]")
    for violation in violations:
        console.print(f"  {violation.rule}: {violation.message}")


def fleet(
    policy: Annotated[str, option(FleetInput, "policy")] = FleetInput.default("policy"),
    workload: Annotated[Path | None, typer.Option(help="Fleet request YAML.")] = None,
    model: Annotated[str | None, option(FleetInput, "model")] = None,
    tokens: Annotated[float | None, option(FleetInput, "tokens")] = None,
    deadline_days: Annotated[float | None, option(FleetInput, "deadline_days")] = None,
    objective: Annotated[str, option(FleetInput, "objective")] = FleetInput.default("objective"),
    budget: Annotated[float | None, option(FleetInput, "budget")] = None,
    pareto: Annotated[bool, option(FleetInput, "pareto")] = False,
    plot: Annotated[Path | None, typer.Option(help="PNG of the Pareto front.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The cheapest (or least-energy) fleet that does the workload under a policy."""
    started = time.perf_counter()
    query = parse_options(FleetInput, locals())
    if plot is not None:
        check_output_path(plot, "--plot", PLOT_SUFFIXES)
    catalog = default_catalog()
    request = fleet_request(query, workload)
    chosen = resolve_policy(catalog, query.policy)
    with error_console.status("optimising the fleet"):
        result = fleet_payload(
            catalog, request, chosen, query.objective, query.budget, query.pareto
        )
    front = result["pareto"]
    if plot is not None and front:
        from swarmscale.report.plots import plot_pareto

        plot_pareto(front, plot, f"{request.workload.model}: cost against days ({chosen.id})")
    inputs = fleet_inputs(request, chosen, query.objective, query.budget)
    result["run_id"] = record_run("fleet", inputs, result, started)
    if as_json:
        print_json(result)
        return
    _print_fleet(result, front)


def _print_fleet(result: dict[str, Any], front: list[dict[str, float]]) -> None:
    table = Table(title=f"Fleet under {result['policy']} (objective: {result['objective']})")
    for header in ("chip", "site", "chips"):
        table.add_column(header)
    for row in result["fleet"]:
        table.add_row(row["chip"], row["site"], f"{row['chips']:,}")
    console.print(table)
    days = result["days"]
    console.print(
        f"{result['chips']:,} chips, cost ${fmt(result['cost_usd'])}, "
        f"{fmt(result['power_mw'])} MW, {fmt(result['energy_mwh'])} MWh"
        + (f", trains in {fmt(days)} days (full plan search)" if days else "")
    )
    for effect in result["rule_costs"]:
        change = effect["cost_change"]
        if change:
            saved = effect["days_saved"]
            days_text = f" and {fmt(saved)} days" if saved else ""
            console.print(
                f"  rule {effect['constraint']} adds {100 * change:.1f}% to cost{days_text}"
            )
    for chip, why in sorted(result["forbidden"].items()):
        console.print(f"  not allowed: {chip}: {why}")
    for point in front:
        console.print(
            f"  pareto: {fmt(point['days'])} days for ${fmt(point['cost_usd'])} "
            f"({point['chips']:,} chips)"
        )
