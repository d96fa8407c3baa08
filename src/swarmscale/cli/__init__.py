"""The `swarmscale` command line: verbs print tables, or one JSON object with --json.

Exit codes: 0 done, 2 bad input (unknown id, bad file, bad option), 1 internal failure.
"""

from __future__ import annotations

import sys

import typer

from swarmscale.catalog import CatalogError, UnknownIdError, UnknownValueError
from swarmscale.cli import catalog_commands
from swarmscale.cli.output import error_console

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

BAD_INPUT = (CatalogError, UnknownIdError, UnknownValueError, ValueError)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning errors into a message on stderr and exit code 2 (input) or 1."""
    try:
        app(args=argv)
    except BAD_INPUT as exc:
        error_console.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(2)
    except Exception as exc:
        error_console.print(f"internal error: {type(exc).__name__}: {exc}", markup=False)
        sys.exit(1)
