"""The `swarmscale` command line: verbs print tables, or one JSON object with --json.

Exit codes: 0 done, 2 bad input (unknown id, bad file, bad option), 1 internal failure.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from swarmscale.calibrate.measure import CalibrationUnavailable
from swarmscale.catalog import CatalogError, UnknownIdError, UnknownValueError, default_catalog
from swarmscale.catalog.loader import PROFILE_ENV
from swarmscale.cli import (
    calibrate_commands,
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


@app.callback()
def _global_options(
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            envvar=PROFILE_ENV,
            help="Device profile file from `swarmscale calibrate` to use for its chip, or "
            "'none' for datasheet-derived efficiencies only. Default: the shipped profiles.",
        ),
    ] = None,
) -> None:
    """Plan, predict and simulate AI training and inference on mixed accelerator fleets."""
    if profile:
        # Through the environment, so sweep workers and the web server see the same choice.
        os.environ[PROFILE_ENV] = profile
        default_catalog()  # a bad profile file fails here, before any command runs


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
app.command("calibrate")(calibrate_commands.calibrate)

# NoServingPlanError is a ValueError: listed to show that an unmeetable SLO is bad input.
BAD_INPUT = (
    CatalogError,
    UnknownIdError,
    UnknownValueError,
    NoServingPlanError,
    TraceError,
    StoreError,
    ValueError,
    CalibrationUnavailable,
)


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move `--profile X` (or `--profile=X`) to the front, so it works after any command too:
    `swarmscale train --profile p.yaml ...` as well as `swarmscale --profile p.yaml train ...`."""
    hoisted: list[str] = []
    rest: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            rest += [token, *tokens]
        elif token == "--profile":
            value = next(tokens, None)  # none: Click then reports the missing value
            hoisted += [token] if value is None else [token, value]
        elif token.startswith("--profile="):
            hoisted.append(token)
        else:
            rest.append(token)
    return hoisted + rest


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning errors into a message on stderr and exit code 2 (input) or 1."""
    chosen_profile = os.environ.get(PROFILE_ENV)
    try:
        app(args=hoist_global_options(sys.argv[1:] if argv is None else argv))
    except BAD_INPUT as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    except Exception as exc:  # last resort: a one-line report, never a traceback dump
        sys.stderr.write(f"internal error: {type(exc).__name__}: {exc}\n")
        sys.exit(1)
    finally:  # in-process callers (tests, notebooks) get their environment back
        if chosen_profile is None:
            os.environ.pop(PROFILE_ENV, None)
        else:
            os.environ[PROFILE_ENV] = chosen_profile
