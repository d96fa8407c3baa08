"""`swarmscale simulate`: a job trace through a national compute network."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from swarmscale.api.inputs import SimulateInput
from swarmscale.api.simulate import run_network_simulation
from swarmscale.cli.options import option, parse_options
from swarmscale.cli.output import console, error_console, fmt, print_json
from swarmscale.cli.runs_commands import record_run
from swarmscale.files import PLOT_SUFFIXES, check_output_path
from swarmscale.sim.engine import SimResult

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def simulate_with_progress(query: SimulateInput) -> tuple[SimResult, dict[str, Any]]:
    """The simulation with a progress bar on stderr; also used by the docs and benchmarks."""
    with Progress(console=error_console, transient=True) as bar:
        task = bar.add_task(f"simulating {query.trace} on {query.network}", total=None)
        return run_network_simulation(
            query, lambda done, total: bar.update(task, completed=done, total=total)
        )


def simulate(
    network: Annotated[str, option(SimulateInput, "network")],
    trace: Annotated[str, option(SimulateInput, "trace")] = SimulateInput.default("trace"),
    scheduler: Annotated[str, option(SimulateInput, "scheduler")] = "fifo",
    policy_aware: Annotated[bool, option(SimulateInput, "policy_aware")] = False,
    speedup: Annotated[float, option(SimulateInput, "speedup")] = 1.0,
    jobs: Annotated[int | None, option(SimulateInput, "jobs")] = None,
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
    query = parse_options(SimulateInput, locals())
    for path, name, suffixes in (
        (plot, "--plot", PLOT_SUFFIXES),
        (markdown, "--markdown", (".md",)),
    ):
        if path is not None:
            check_output_path(path, name, suffixes)
    if markdown is not None:
        _compare(query, markdown)
        return
    result, summary = simulate_with_progress(query)
    if plot is not None:
        from swarmscale.report.plots import plot_simulation

        plot_simulation(result, plot, f"{trace} on {network}, {scheduler}")
    run_id = record_run("simulate", query.model_dump(), summary, started)
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


def _compare(query: SimulateInput, path: Path) -> None:
    from swarmscale.files import write_text_atomic
    from swarmscale.report.simulation import simulation_markdown
    from swarmscale.sim.schedulers import SCHEDULERS

    rows = []
    for name in SCHEDULERS:
        for aware in (False, True):
            variant = query.model_copy(update={"scheduler": name, "policy_aware": aware})
            _, summary = simulate_with_progress(variant)
            rows.append((name, aware, summary))
    command = (
        f"swarmscale simulate --network {query.network} --trace {query.trace} "
        f"--speedup {query.speedup:g} --markdown {path}"
    )
    write_text_atomic(path, simulation_markdown(rows, query.network, query.trace, command))
    console.print(f"wrote {path}")
