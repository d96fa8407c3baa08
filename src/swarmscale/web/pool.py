"""The web's compute pool: heavy requests run in worker processes, a bounded number at a time.

Semantics:
- At most `workers` computations run at once, each in its own process (CPU work in parallel,
  and the server's event loop stays free for cheap pages); at most `queue` more wait.
- A request that finds `workers + queue` admitted is refused at once (503, retry) rather than
  queued without bound. A slot is freed when its computation really ends, not when its
  request gives up, so the bound holds for work in the workers too.
- Each request has `limit_s` seconds from admission, waiting included: past it the answer is
  504, and the worker interrupts the computation itself (see `worker.compute`), so that a slow
  request never holds a worker for longer.
- Workers are spawned (not forked from a threaded server) by `start` from the app's lifespan,
  or when first needed where no lifespan runs; `close` stops them. A pool whose worker died
  is replaced.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from swarmscale.api.inputs import Input
from swarmscale.catalog.loader import PROFILE_ENV
from swarmscale.web.worker import Outcome, compute, warm

TIME_LIMIT_S = 60.0
GRACE_S = 2.0  # for a worker stuck in native code that the alarm cannot interrupt
QUEUE_PER_WORKER = 8


DEFAULT_MAX_WORKERS = 8  # each worker holds its own catalog and NumPy (~150 MB)


def default_workers() -> int:
    """One worker per core, at most `DEFAULT_MAX_WORKERS` (`--workers` may ask for more)."""
    return max(1, min(os.cpu_count() or 1, DEFAULT_MAX_WORKERS))


@dataclass(frozen=True)
class PoolSettings:
    workers: int = field(default_factory=default_workers)
    queue: int = field(default_factory=lambda: QUEUE_PER_WORKER * default_workers())
    limit_s: float = TIME_LIMIT_S


class ComputeError(Exception):
    """A request the pool could not answer: its HTTP status and a message for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Answer:
    payload: dict[str, Any]
    wall_s: float


class ComputePool:
    """Bounded, time-limited process pool shared by every heavy request of one app."""

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self._slots = threading.BoundedSemaphore(settings.workers + settings.queue)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Spawn the workers now and wait until they are ready, so that the first requests do
        not pay for starting them (each worker loads the catalog as it starts)."""
        executor = self._pool()
        wait([executor.submit(warm) for _ in range(self.settings.workers)])

    def close(self) -> None:
        """Cancel what waits, let what runs finish (it stops by its deadline), stop workers."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    async def run(self, verb: str, query: Input) -> Answer:
        """Compute `verb` in a worker; `ComputeError` when busy, too slow or the input is bad."""
        if not self._slots.acquire(blocking=False):
            admitted = self.settings.workers + self.settings.queue
            raise ComputeError(503, f"busy: {admitted} requests are computing or waiting; retry")
        executor = self._pool()
        try:
            deadline = time.time() + self.settings.limit_s
            profile = os.environ.get(PROFILE_ENV)
            future = executor.submit(compute, verb, query, profile, deadline)
            future.add_done_callback(self._release)
        except BaseException as exc:
            self._slots.release()
            if isinstance(exc, BrokenProcessPool):
                raise self._failure(executor, exc) from exc
            raise
        try:
            outcome = await asyncio.wait_for(
                asyncio.wrap_future(future), self.settings.limit_s + GRACE_S
            )
        except (TimeoutError, BrokenProcessPool) as exc:
            raise self._failure(executor, exc) from exc
        if outcome.status == 504:
            raise ComputeError(504, self._too_slow())
        if outcome.status != 200 or outcome.payload is None:
            raise ComputeError(outcome.status, outcome.message)
        return Answer(outcome.payload, outcome.wall_s)

    def _failure(self, executor: ProcessPoolExecutor, exc: Exception) -> ComputeError:
        """What to tell the caller when a task could not finish in time, or at all."""
        if isinstance(exc, TimeoutError):
            return ComputeError(504, self._too_slow())
        self._discard(executor)  # a worker was killed (out of memory, a signal)
        return ComputeError(503, "a worker process died; retry")

    def _too_slow(self) -> str:
        return (
            f"stopped after {self.settings.limit_s:g} s (waiting included); ask for less "
            "(fewer chips, jobs or options), or retry when the server is less busy"
        )

    def _release(self, _: Future[Outcome]) -> None:
        self._slots.release()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.settings.workers, mp_context=get_context("spawn"), initializer=warm
                )
            return self._executor

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        """Replace a broken pool (once, however many of its requests notice)."""
        with self._lock:
            if self._executor is not broken:
                return
            self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)
