"""The `swarmscale` command line: verbs print tables, or one JSON object with --json.

Exit codes: 0 done, 2 bad input (unknown id, bad file, bad option), 1 internal failure.
"""

from __future__ import annotations

import sys

import typer

from swarmscale.catalog import CatalogError, UnknownIdError, UnknownValueError
from swarmscale.cli import (
    catalog_commands,
    fleet_commands,
    policy_commands,
    runs_commands,
    serve_commands,
    simulate_commands,
    sweep_commands,
    train_commands,
    validate_commands,
    web_commands,
)
from swarmscale.plan.serving import NoServingPlanError
from swarmscale.store import StoreError
from swarmscale.traces import TraceError

app = typer.Typer(
    name="swarmscale",
    help="Plan, predict and simulate AI training and inference on mixed accelerator fleets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(catalog_commands.chips_app, name="chips")
app.add_typer(catalog_commands.models_app, name="models")
app.add_typer(catalog_commands.catalog_app, name="catalog")
app.command("compare-specs")(catalog_commands.compare_specs)
app.command("headline")(catalog_commands.headline)
app.command("train")(train_commands.train)
app.command("serve")(serve_commands.serve)
app.command("serve-sim")(serve_commands.serve_sim)
app.command("mixed")(fleet_commands.mixed)
app.command("swarm")(fleet_commands.swarm)
app.command("equiv")(fleet_commands.equiv)
app.command("claims")(fleet_commands.claims)
app.add_typer(policy_commands.policy_app, name="policy")
app.command("fleet")(policy_commands.fleet)
app.command("simulate")(simulate_commands.simulate)
app.add_typer(runs_commands.runs_app, name="runs")
app.command("sweep")(sweep_commands.sweep)
app.command("report")(runs_commands.report)
app.command("web")(web_commands.web)
app.command("validate")(validate_commands.validate)
app.command("fit")(validate_commands.fit)

# NoServingPlanError is a ValueError: listed to show that an unmeetable SLO is bad input.
BAD_INPUT = (
    CatalogError,
    UnknownIdError,
    UnknownValueError,
    NoServingPlanError,
    TraceError,
    StoreError,
    ValueError,
)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning errors into a message on stderr and exit code 2 (input) or 1."""
    try:
        app(args=argv)
    except BAD_INPUT as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    except Exception as exc:  # last resort: a one-line report, never a traceback dump
        sys.stderr.write(f"internal error: {type(exc).__name__}: {exc}\n")
        sys.exit(1)
