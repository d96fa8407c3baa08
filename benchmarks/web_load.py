"""Web under load (`python -m benchmarks.web_load`): cheap pages stay quick while heavy requests
run and queue in the compute pool.

Starts the real server (`python -m swarmscale web` in a subprocess, on a free loopback port,
with a scratch results store), fires `HEAVY` fleet requests at once, and while they run times
the cheap requests (the chip catalog and an empty planner form) one after another. Each
scenario runs against a fresh server: with the default queue the overflow is refused with 503
at once; with a queue that holds every request all of them wait their turn (or hit the time
limit, 504).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from swarmscale.web.pool import QUEUE_PER_WORKER, default_workers

HEAVY = 40
TRAIN_405B = {"model": "llama3-405b", "chip": "h100-sxm", "chips": 16384, "tokens": 15.6e12}
FLEET_70B = {"model": "llama3-70b", "tokens": 15e12, "deadline_days": 60, "policy": "cn-no-h20"}
SCENARIOS: tuple[tuple[str, str, dict[str, object], int | None], ...] = (
    ("train: Llama 3.1 405B on 16,384 H100", "/api/train", TRAIN_405B, None),
    ("train: Llama 3.1 405B on 16,384 H100", "/api/train", TRAIN_405B, HEAVY),
    ("fleet: Llama 3.1 70B, 15T tokens, 60 days, cn-no-h20", "/api/fleet", FLEET_70B, None),
)
CHEAP_PATHS = ("/api/chips", "/train")
PROBE_GAP_S = 0.05
STARTUP_S = 120.0
GOAL_S = 1.0


@dataclass(frozen=True)
class Load:
    statuses: list[int]
    heavy_s: float
    cheap_s: list[float]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(port: int, store: Path, queue: int | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "swarmscale", "web", "--port", str(port)]
    command += [] if queue is None else ["--queue", str(queue)]
    env = {**os.environ, "SWARMSCALE_STORE": str(store)}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)  # its stderr: ours


async def _ready(client: httpx.AsyncClient) -> None:
    deadline = time.perf_counter() + STARTUP_S
    while time.perf_counter() < deadline:
        try:
            if (await client.get("/api/chips")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {STARTUP_S:g} s")


async def _cheap_once(client: httpx.AsyncClient) -> list[float]:
    times = []
    for path in CHEAP_PATHS:
        started = time.perf_counter()
        response = await client.get(path)
        response.raise_for_status()
        times.append(time.perf_counter() - started)
    return times


async def _load(client: httpx.AsyncClient, path: str, body: dict[str, object]) -> Load:
    started = time.perf_counter()
    heavy = [asyncio.ensure_future(client.post(path, json=body)) for _ in range(HEAVY)]
    cheap: list[float] = []
    while not all(task.done() for task in heavy):
        cheap += await _cheap_once(client)
        await asyncio.sleep(PROBE_GAP_S)
    statuses = [task.result().status_code for task in heavy]
    return Load(statuses, time.perf_counter() - started, cheap)


async def _measure(port: int, path: str, body: dict[str, object]) -> tuple[list[float], Load]:
    limits = httpx.Limits(max_connections=HEAVY + 10)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        await _ready(client)
        idle = [t for _ in range(10) for t in await _cheap_once(client)]
        return idle, await _load(client, path, body)


def _run(path: str, body: dict[str, object], queue: int | None) -> tuple[list[float], Load]:
    with tempfile.TemporaryDirectory() as scratch:
        port = _free_port()
        server = _serve(port, Path(scratch) / "results.duckdb", queue)
        try:
            return asyncio.run(_measure(port, path, body))
        finally:
            server.terminate()
            server.wait(timeout=60)


def _row(label: str, idle: list[float], load: Load) -> str:
    counts = {status: load.statuses.count(status) for status in (200, 503)}
    other = len(load.statuses) - sum(counts.values())
    cheap = sorted(load.cheap_s)
    p95 = cheap[min(len(cheap) - 1, int(0.95 * len(cheap)))]
    return (
        f"| {label} | {counts[200]} / {counts[503]} / {other} | {load.heavy_s:.1f} | "
        f"{len(cheap)} | {statistics.median(cheap):.3f} | {p95:.3f} | {cheap[-1]:.3f} | "
        f"{statistics.median(idle):.3f} |"
    )


def web_load() -> list[str]:
    workers = default_workers()
    rows = []
    for label, path, body, queue in SCENARIOS:
        idle, load = _run(path, body, queue)
        shown = f"{QUEUE_PER_WORKER * workers} (default)" if queue is None else str(queue)
        rows.append(_row(f"{label} | {shown}", idle, load))
    return [
        f"## Web under load: {HEAVY} concurrent heavy requests against the real server",
        "",
        f"`python -m swarmscale web` on loopback ({workers} worker processes, 60 s limit); "
        f"{HEAVY} heavy `POST`s",
        "at once while `GET /api/chips` and the empty `GET /train` form are timed back to back.",
        f"Goal from the web issue: cheap requests under {GOAL_S:g} s during the load.",
        "",
        "| heavy request | queue | heavy 200 / 503 / other | heavy wall s | cheap requests "
        "| median s | p95 s | max s | idle median s |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]


def main() -> None:
    print("\n".join(web_load()))


if __name__ == "__main__":
    main()
