"""`swarmscale simulate`: a job trace through a national compute network."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from swarmscale.catalog import default_catalog
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.sim.engine import simulate as run_simulation
from swarmscale.sim.jobs import RateTable, build_jobs
from swarmscale.sim.metrics import summarize
from swarmscale.sim.networks import resolve_network
from swarmscale.sim.schedulers import make_scheduler
from swarmscale.traces.jobs import load_job_trace

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def run_network_simulation(
    network: str, trace: str, scheduler: str, policy_aware: bool, speedup: float, jobs: int | None
) -> tuple[Any, dict[str, Any]]:
    """Shared by the CLI, the docs and the benchmark."""
    catalog = default_catalog()
    chosen = resolve_network(catalog, network)
    job_trace = load_job_trace(trace)
    if jobs is not None:
        job_trace = job_trace.head(jobs)
    if speedup != 1.0:
        job_trace = job_trace.scaled(speedup)
    rates = RateTable(catalog)
    kinds = {catalog.chip(chip).id for site in chosen.sites for chip in site.inventory}
    sim_jobs = build_jobs(job_trace, rates, kinds)
    with Progress(console=error_console, transient=True) as bar:
        task = bar.add_task(f"simulating {len(sim_jobs):,} jobs", total=2 * len(sim_jobs))
        result = run_simulation(
            catalog,
            chosen,
            sim_jobs,
            make_scheduler(scheduler),
            rates,
            policy_aware,
            lambda done: bar.update(task, completed=done),
        )
    return result, summarize(result)


def simulate(
    network: Annotated[str, typer.Option(help="Network id, YAML file or synthetic-N.")],
    trace: Annotated[str, typer.Option(help="philly, alibaba or a trace file.")] = "philly",
    scheduler: Annotated[str, typer.Option(help="fifo, sjf, hetero or energy.")] = "fifo",
    policy_aware: Annotated[bool, typer.Option(help="Never break a site's rules.")] = False,
    speedup: Annotated[float, typer.Option(help="Arrivals this many times faster.")] = 1.0,
    jobs: Annotated[int | None, typer.Option(help="Only the first N jobs.")] = None,
    plot: Annotated[Path | None, typer.Option(help="PNG: utilisation over time, JCT CDF.")] = (
        None
    ),
    markdown: Annotated[
        Path | None, typer.Option(help="Compare every scheduler and write this Markdown report.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a job trace through a network of sites under a scheduler."""
    started = time.perf_counter()
    if markdown is not None:
        _compare(network, trace, speedup, jobs, markdown)
        return
    result, summary = run_network_simulation(network, trace, scheduler, policy_aware, speedup, jobs)
    inputs = {
        "network": network,
        "trace": trace,
        "scheduler": scheduler,
        "policy_aware": policy_aware,
        "speedup": speedup,
        "jobs": jobs,
    }
    run_id = record_run("simulate", inputs, summary, started)
    if plot is not None:
        from swarmscale.report.plots import plot_simulation

        plot_simulation(result, plot, f"{trace} on {network}, {scheduler}")
    if as_json:
        print_json(
            {
                "network": network,
                "trace": trace,
                "scheduler": scheduler,
                "policy_aware": policy_aware,
                "run_id": run_id,
                "summary": summary,
            }
        )
        return
    table = Table(
        title=f"{trace} on {network}: {scheduler}{' (policy-aware)' if policy_aware else ''}"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key != "utilisation":
            table.add_row(key, fmt(value) if isinstance(value, float) else str(value))
    console.print(table)


def _compare(network: str, trace: str, speedup: float, jobs: int | None, path: Path) -> None:
    from swarmscale.report.simulation import simulation_markdown
    from swarmscale.sim.schedulers import SCHEDULERS

    rows = []
    for name in SCHEDULERS:
        for aware in (False, True):
            _, summary = run_network_simulation(network, trace, name, aware, speedup, jobs)
            rows.append((name, aware, summary))
    command = (
        f"swarmscale simulate --network {network} --trace {trace} --speedup {speedup:g}"
        f" --markdown {path}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(simulation_markdown(rows, network, trace, command), encoding="utf-8")
    console.print(f"wrote {path}")
