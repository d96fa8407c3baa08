"""The compute pool: a full pool refuses at once (503), a slow request is stopped at its time
limit (504) and frees its worker, and cheap pages answer while heavy requests run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient

from swarmscale.api.inputs import TrainInput
from swarmscale.api.train import train_payload
from swarmscale.catalog.loader import PROFILE_ENV
from swarmscale.web.app import create_app
from swarmscale.web.inputs import WebFleetInput
from swarmscale.web.limits import json_depth
from swarmscale.web.pool import ComputeError, ComputePool, PoolSettings

QUICK = TrainInput(model="llama3-8b", chip="h100-sxm", chips=64)
SLOW = WebFleetInput(model="llama3-70b", tokens=15e12, deadline_days=60, pareto=True)


@pytest.fixture(scope="module")
def pool() -> Iterator[ComputePool]:
    """One worker, no queue, a one-second limit; the quick job takes about 0.1 s, the slow
    one (a fleet with its cost-days front) several seconds."""
    started = ComputePool(PoolSettings(workers=1, queue=0, limit_s=1.0))
    started.start()
    yield started
    started.close()


def test_a_full_pool_refuses_at_once(pool: ComputePool) -> None:
    async def two_at_once() -> Sequence[object]:
        return await asyncio.gather(
            pool.run("train", QUICK), pool.run("train", QUICK), return_exceptions=True
        )

    first, second = asyncio.run(two_at_once())
    assert not isinstance(first, BaseException)
    assert isinstance(second, ComputeError) and second.status == 503
    assert "busy" in second.message


def test_a_slow_request_stops_at_the_limit_and_frees_its_worker(pool: ComputePool) -> None:
    with pytest.raises(ComputeError) as refused:
        asyncio.run(pool.run("fleet", SLOW))
    assert refused.value.status == 504 and "1 s" in refused.value.message
    answer = asyncio.run(pool.run("train", QUICK))  # within the limit: the worker is free
    assert answer.payload["best"]["plan_text"]


def test_bad_input_comes_back_as_a_message(pool: ComputePool) -> None:
    with pytest.raises(ComputeError) as refused:
        asyncio.run(pool.run("train", QUICK.model_copy(update={"chip": "h1000"})))
    assert refused.value.status == 422 and "unknown chip 'h1000'" in refused.value.message


def test_workers_use_the_servers_profile_choice(
    pool: ComputePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker was started with the shipped profiles; the choice travels with each task."""
    shipped = asyncio.run(pool.run("train", QUICK)).payload
    monkeypatch.setenv(PROFILE_ENV, "none")
    bare = asyncio.run(pool.run("train", QUICK)).payload
    assert bare == train_payload(QUICK)[2]  # what the server process computes with "none"
    assert bare["catalog_version"] != shipped["catalog_version"]


def test_busy_and_slow_answers_over_http() -> None:
    app = create_app(PoolSettings(workers=1, queue=0, limit_s=1.0))
    with TestClient(app) as client:
        slow = client.post("/api/fleet", json=SLOW.model_dump())
        assert slow.status_code == 504 and "stopped after 1 s" in slow.json()["detail"]
        assert client.get("/api/chips").status_code == 200


def test_json_depth_counts_only_structure() -> None:
    assert json_depth(b'{"a": [1, {"b": []}]}') == 4
    assert json_depth(b'{"a": "[[[[{{{{", "b": "\\"[["}') == 1
    assert json_depth(b"") == 0
