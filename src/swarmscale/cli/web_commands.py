"""`swarmscale web`: serve the UI and JSON API on this machine."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from swarmscale.cli.output import error_console
from swarmscale.limits import MAX_WORKERS
from swarmscale.web.pool import QUEUE_PER_WORKER, default_workers

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_WORKERS, help="Computations at once [default: one per core, at most 8]."
        ),
    ] = None,
    queue: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=10_000,
            help=f"Computations that may wait for a worker; more get 503 "
            f"[default: {QUEUE_PER_WORKER} per worker].",
        ),
    ] = None,
) -> None:
    """Catalog browser, planners and past runs in the browser; OpenAPI at /docs."""
    import uvicorn

    from swarmscale.web.app import create_app
    from swarmscale.web.pool import PoolSettings

    if not is_loopback(host):
        error_console.print(
            f"warning: listening on {host}: the web API has no authentication; anyone who can "
            "reach this address can run computations and store and read runs"
        )
    count = workers or default_workers()
    settings = PoolSettings(count, QUEUE_PER_WORKER * count if queue is None else queue)
    uvicorn.run(create_app(settings), host=host, port=port)
