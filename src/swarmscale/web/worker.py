"""What runs in the web's worker processes: one verb's computation, within a deadline.

A worker answers with an `Outcome` (plain data) and never raises: exceptions are turned into a
status and a message here, because some (an unknown catalog id, a pydantic error) do not survive
pickling back, and one that fails to unpickle would break the whole pool. This module imports
the api layer only, so that a freshly spawned worker starts quickly.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from swarmscale.api.fleet import fleet_payload, fleet_request
from swarmscale.api.inputs import Input, ServeInput, TrainInput
from swarmscale.api.serve import serve_payload
from swarmscale.api.simulate import run_network_simulation
from swarmscale.api.train import train_payload
from swarmscale.catalog import CatalogError, UnknownIdError, UnknownValueError, default_catalog
from swarmscale.catalog.loader import PROFILE_ENV
from swarmscale.web.inputs import WebFleetInput, WebSimulateInput

# Every failure that is the request's to change; ValueError covers InputError, TraceError,
# NoServingPlanError, InfeasibleFleetError and NoFeasiblePlanError.
BAD_INPUT = (CatalogError, UnknownIdError, UnknownValueError, ValueError)


@dataclass(frozen=True)
class Outcome:
    """A payload (status 200), or why not: 422 bad input, 504 past the deadline, 500 a bug."""

    status: int
    payload: dict[str, Any] | None
    message: str
    wall_s: float


class DeadlinePassed(BaseException):
    """Raised by SIGALRM inside a computation; a BaseException so no `except Exception` in the
    layers below swallows it."""


def _train(query: TrainInput) -> dict[str, Any]:
    return train_payload(query)[2]


def _fleet(query: WebFleetInput) -> dict[str, Any]:
    catalog = default_catalog()
    policy = catalog.policy(query.policy)  # a catalog id: the web never reads a policy file
    return fleet_payload(
        catalog, fleet_request(query), policy, query.objective, query.budget, query.pareto
    )


def _serve(query: ServeInput) -> dict[str, Any]:
    return serve_payload(query)


def _simulate(query: WebSimulateInput) -> dict[str, Any]:
    return run_network_simulation(query)[1]


COMPUTE: dict[str, Callable[[Any], dict[str, Any]]] = {
    "train": _train,
    "serve": _serve,
    "fleet": _fleet,
    "simulate": _simulate,
}


def warm() -> None:
    """Load the catalog once, so that a worker's first request does not pay for it."""
    default_catalog()


def compute(verb: str, query: Input, profile: str | None, deadline: float) -> Outcome:
    """Run `verb` on `query` with the server's profile choice, stopping at `deadline` (epoch s).

    The profile travels with each task rather than through the environment the worker was
    started with, so a worker always sees the catalog the server sees."""
    _use_profile(profile)
    started = time.perf_counter()
    try:
        with _until(deadline):
            payload = COMPUTE[verb](query)
    except DeadlinePassed:
        return Outcome(504, None, "", time.perf_counter() - started)
    except BAD_INPUT as exc:
        return Outcome(422, None, message_of(exc), time.perf_counter() - started)
    except Exception as exc:  # a bug: the message and traceback go to the server's log
        traceback.print_exc()
        message = f"internal error: {type(exc).__name__}: {exc}"
        return Outcome(500, None, message, time.perf_counter() - started)
    return Outcome(200, payload, "", time.perf_counter() - started)


def _use_profile(profile: str | None) -> None:
    if profile is None:
        os.environ.pop(PROFILE_ENV, None)
    else:
        os.environ[PROFILE_ENV] = profile


def message_of(exc: Exception) -> str:
    """The user's message: a KeyError's str() would quote it."""
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise DeadlinePassed


@contextmanager
def _until(deadline: float) -> Iterator[None]:
    """Interrupt the body at `deadline`; a task that waited past it in the queue never starts.
    Worker tasks run in the process's main thread, where signals are delivered."""
    remaining = deadline - time.time()
    if remaining <= 0:
        raise DeadlinePassed
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, remaining)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
