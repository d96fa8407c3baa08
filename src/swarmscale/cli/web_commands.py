"""`swarmscale web`: serve the UI and JSON API on this machine."""

from __future__ import annotations

from typing import Annotated

import typer


def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Catalog browser, training planner and past runs in the browser; OpenAPI at /docs."""
    import uvicorn

    from swarmscale.web.app import app

    uvicorn.run(app, host=host, port=port)
