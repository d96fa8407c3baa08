"""The DuckDB results store: round trip, CLI, export, concurrent writers, failed runs."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import duckdb
import pytest

from swarmscale.store import ResultsStore, StoreError, content_hash
from tests.conftest import CliRunner


def test_round_trip(results_store: Path) -> None:
    store = ResultsStore(results_store)
    run_id = store.record("train", {"model": "m", "chips": 8}, {"mfu": 0.5}, 1.5, "abc")
    run = store.get(run_id)
    assert run.inputs == {"model": "m", "chips": 8} and run.outputs == {"mfu": 0.5}
    assert run.input_hash == content_hash({"chips": 8, "model": "m"})
    assert [r.id for r in store.list()] == [run_id]
    with pytest.raises(StoreError, match="no run"):
        store.get("nope")


def _writer(path: str, worker: int) -> None:
    store = ResultsStore(Path(path))
    for index in range(10):
        store.record("train", {"worker": worker, "index": index}, {"ok": True}, 0.0, "v")


def test_concurrent_writers_lose_nothing(results_store: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(results_store), w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    runs = ResultsStore(results_store).list(limit=1000)
    assert len(runs) == 40
    assert {(r.inputs["worker"], r.inputs["index"]) for r in runs} == {
        (w, i) for w in range(4) for i in range(10)
    }


def test_cli_records_runs_and_exports(run_cli: CliRunner, tmp_path: Path) -> None:
    code, out, _ = run_cli(
        ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "16", "--json"]
    )
    assert code == 0
    run_id = json.loads(out)["run_id"]
    code, out, _ = run_cli(
        [
            "serve",
            "--model",
            "llama3-8b",
            "--chip",
            "h100-sxm",
            "--rate",
            "2",
            "--input",
            "500",
            "--output",
            "100",
            "--json",
        ]
    )
    second = json.loads(out)["run_id"]
    code, out, _ = run_cli(["runs", "list", "--json"])
    assert {r["id"] for r in json.loads(out)["runs"]} == {run_id, second}
    code, out, _ = run_cli(["runs", "compare", run_id, second, "--json"])
    assert code == 0 and json.loads(out)["rows"]
    for file_format in ("csv", "parquet"):
        target = tmp_path / f"runs.{file_format}"
        code, _, _ = run_cli(["runs", "export", "--out", str(target), "--format", file_format])
        assert code == 0
        connection = duckdb.connect()
        rows = connection.execute(f"SELECT count(*) FROM '{target}'").fetchall()
        connection.close()
        assert rows == [(2,)]


def test_failed_runs_are_not_stored(run_cli: CliRunner, results_store: Path) -> None:
    code, _, _ = run_cli(
        [
            "fleet",
            "--model",
            "llama3-405b",
            "--tokens",
            "1e15",
            "--deadline-days",
            "1",
            "--policy",
            "cn-beijing-100",
        ]
    )
    assert code == 2
    assert not results_store.exists() or ResultsStore(results_store).list() == []


def test_unknown_run_exits_2(run_cli: CliRunner) -> None:
    code, _, err = run_cli(["runs", "show", "missing"])
    assert code == 2 and "no run" in err
