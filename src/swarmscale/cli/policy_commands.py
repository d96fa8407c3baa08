"""`swarmscale policy check` and `swarmscale fleet`: sourcing rules and what to buy."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmscale.catalog import Catalog, Policy, default_catalog
from swarmscale.catalog.loader import load_fleet_request, load_policy
from swarmscale.catalog.schemas import FleetRequest, WorkloadSpec
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.fleet.explain import explain_infeasible, shadow_costs
from swarmscale.fleet.optimize import (
    InfeasibleFleetError,
    Offer,
    Site,
    figures_of,
)
from swarmscale.fleet.workloads import ServingWork, TrainingWork, build_problem, optimise
from swarmscale.policy.rules import FleetItem, check_fleet

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
FASTEST_STEPS = 7  # bisection steps on the deadline (x256 range to within ~5%)
policy_app = typer.Typer(help="Sourcing policies.", no_args_is_help=True)


def resolve_policy(catalog: Catalog, name: str) -> Policy:
    """A catalog policy id, or a YAML file holding exactly one policy."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_policy(path)
    return catalog.policy(name)


def parse_site_fleet(text: str) -> list[FleetItem]:
    """`h100-sxm:512@beijing,ascend-910c:1024` -> fleet items (site 'default' if none)."""
    items = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        spec, _, site = part.partition("@")
        chip, sep, count = spec.partition(":")
        if not sep or not count.isdigit():
            raise ValueError(f"--fleet item {part!r}: expected CHIP:COUNT[@SITE]")
        items.append(FleetItem(chip.strip(), int(count), site.strip() or "default"))
    if not items:
        raise ValueError("--fleet is empty; expected CHIP:COUNT[@SITE],...")
    return items


@policy_app.command("check")
def policy_check(
    policy: Annotated[str, typer.Option(help="Policy id or YAML file.")],
    fleet: Annotated[str, typer.Option(help="CHIP:COUNT[@SITE], comma separated.")],
    workload: Annotated[str, typer.Option(help="training or inference.")] = "training",
    as_json: JsonFlag = False,
) -> None:
    """List every rule the fleet breaks, with the numbers."""
    if workload not in ("training", "inference"):
        raise ValueError(f"--workload must be training or inference, got {workload!r}")
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


def _work(spec: WorkloadSpec) -> TrainingWork | ServingWork:
    if spec.kind == "training":
        assert spec.tokens is not None and spec.deadline_days is not None
        return TrainingWork(
            spec.model, spec.tokens, spec.deadline_days, spec.seq_len, spec.batch_tokens
        )
    assert spec.rate and spec.input_len and spec.output_len
    return ServingWork(
        spec.model,
        spec.rate,
        spec.input_len,
        spec.output_len,
        spec.ttft_s,
        spec.tpot_s,
        spec.precision,
        spec.hours,
    )


def _request(
    workload: Path | None, model: str | None, tokens: float | None, deadline_days: float | None
) -> FleetRequest:
    if workload is not None:
        return load_fleet_request(workload)
    if model is None or tokens is None or deadline_days is None:
        raise ValueError("give --workload FILE, or --model, --tokens and --deadline-days")
    spec = WorkloadSpec(kind="training", model=model, tokens=tokens, deadline_days=deadline_days)
    return FleetRequest(workload=spec)


def fleet_answer(
    catalog: Catalog,
    request: FleetRequest,
    policy: Policy,
    objective: str,
    budget_usd: float | None = None,
) -> dict[str, Any]:
    """Solve one fleet request; shared by the CLI, `make run` and the web API.

    `time` finds the earliest deadline that a fleet costing at most `budget_usd` meets under
    the full plan search (bisection on the deadline), and answers with that fleet."""
    if objective not in ("cost", "energy", "time"):
        raise ValueError(f"--objective must be cost, time or energy, got {objective!r}")
    if objective == "time":
        return {**_answer_fastest(catalog, request, policy, budget_usd), "objective": "time"}
    return _answer(catalog, request, policy, objective, None)


def _answer(
    catalog: Catalog, request: FleetRequest, policy: Policy, objective: str, cost_cap: float | None
) -> dict[str, Any]:
    offers, sites = _offers_and_sites(catalog, request)
    site_policies = {s.id: [catalog.policy(p) for p in s.policies] for s in sites}
    work = _work(request.workload)
    problem = build_problem(catalog, work, offers, sites, policy, objective, site_policies)  # type: ignore[arg-type]
    problem = dataclasses.replace(problem, cost_cap=cost_cap)
    try:
        solved = optimise(catalog, work, offers, sites, policy, problem=problem)
    except InfeasibleFleetError as exc:
        failed = exc.problem or problem
        raise InfeasibleFleetError(f"{exc}. {explain_infeasible(catalog, failed)}") from exc
    shadows = shadow_costs(catalog, solved.problem, solved.solution.cost_usd)
    return {
        "policy": policy.id,
        "objective": objective,
        **solved.as_dict(),
        "unusable": problem.unusable,
        "rule_costs": [e.__dict__ for e in shadows],
    }


def _offers_and_sites(catalog: Catalog, request: FleetRequest) -> tuple[list[Offer], list[Site]]:
    offers = [
        Offer(o.chip, o.available, o.price_usd, o.lead_time_days, o.system) for o in request.offers
    ] or [Offer(chip) for chip in catalog.chips]
    sites = [
        Site(s.id, s.power_cap_mw, s.energy_price_usd_per_kwh, s.pue, s.policies)
        for s in request.sites
    ] or [Site()]
    return offers, sites


def _answer_fastest(
    catalog: Catalog, request: FleetRequest, policy: Policy, budget_usd: float | None
) -> dict[str, Any]:
    spec = request.workload
    if spec.kind != "training" or budget_usd is None or spec.deadline_days is None:
        raise ValueError("--objective time needs a training workload and --budget (USD)")

    def attempt(days: float) -> dict[str, Any] | None:
        trial = request.model_copy(
            update={"workload": spec.model_copy(update={"deadline_days": days})}
        )
        try:
            return _answer(catalog, trial, policy, "cost", budget_usd)
        except InfeasibleFleetError:
            return None

    low, high = spec.deadline_days / 16.0, spec.deadline_days * 16.0
    best = attempt(high)
    if best is None:
        raise InfeasibleFleetError(
            f"no fleet within ${budget_usd:,.0f} trains the job within "
            f"{high:g} days under {policy.id}"
        )
    for _ in range(FASTEST_STEPS):
        middle = (low * high) ** 0.5
        answer = attempt(middle)
        if answer is None:
            low = middle
        else:
            best, high = answer, middle
    return best


def fleet_payload(
    catalog: Catalog,
    request: FleetRequest,
    policy: Policy,
    objective: str,
    budget: float | None,
    pareto: bool,
    started: float,
) -> dict[str, Any]:
    """Solve the fleet (and its cost-days front when asked) and record the run: CLI and web."""
    result = fleet_answer(catalog, request, policy, objective, budget)
    front = _pareto(catalog, request, policy, objective) if pareto else []
    inputs = {
        "request": request.model_dump(mode="json"),
        "policy": policy.id,
        "objective": objective,
        "budget": budget,
    }
    result["run_id"] = record_run("fleet", inputs, {**result, "pareto": front}, started)
    return {**result, "pareto": front}


def fleet(
    policy: Annotated[str, typer.Option(help="Policy id or YAML file.")] = "unrestricted",
    workload: Annotated[Path | None, typer.Option(help="Fleet request YAML.")] = None,
    model: Annotated[str | None, typer.Option(help="Model id (training, without --workload).")] = (
        None
    ),
    tokens: Annotated[float | None, typer.Option(help="Training tokens.")] = None,
    deadline_days: Annotated[float | None, typer.Option(help="Training deadline, days.")] = None,
    objective: Annotated[str, typer.Option(help="cost, time (needs --budget) or energy.")] = (
        "cost"
    ),
    budget: Annotated[float | None, typer.Option(help="Project budget, USD (time objective).")] = (
        None
    ),
    pareto: Annotated[bool, typer.Option(help="Trace cost against training time.")] = False,
    plot: Annotated[Path | None, typer.Option(help="PNG of the Pareto front.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The cheapest (or least-energy) fleet that does the workload under a policy."""
    started = time.perf_counter()
    catalog = default_catalog()
    request = _request(workload, model, tokens, deadline_days)
    chosen = resolve_policy(catalog, policy)
    with error_console.status("optimising the fleet"):
        result = fleet_payload(catalog, request, chosen, objective, budget, pareto, started)
    front = result.pop("pareto")
    if plot is not None and front:
        from swarmscale.report.plots import plot_pareto

        plot_pareto(front, plot, f"{request.workload.model}: cost against days ({chosen.id})")
    if as_json:
        print_json({**result, "pareto": front})
        return
    _print_fleet(result, front)


def _pareto(
    catalog: Catalog, request: FleetRequest, policy: Policy, objective: str
) -> list[dict[str, float]]:
    spec = request.workload
    if spec.kind != "training" or spec.deadline_days is None:
        raise ValueError("--pareto traces cost against training time; it needs a training workload")
    front = []
    for factor in (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0):
        days = spec.deadline_days * factor
        varied = request.model_copy(
            update={"workload": spec.model_copy(update={"deadline_days": days})}
        )
        try:
            answer = fleet_answer(catalog, varied, policy, objective)
        except InfeasibleFleetError:
            continue
        front.append(
            {
                "deadline_days": days,
                "days": answer["days"],
                "cost_usd": answer["cost_usd"],
                "chips": answer["chips"],
                "energy_mwh": answer["energy_mwh"],
            }
        )
    return front


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
