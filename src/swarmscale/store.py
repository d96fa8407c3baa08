"""The results store: every computing run's inputs, outputs and timing in one DuckDB file.

Default location `~/.local/share/swarmscale/results.duckdb`; `SWARMSCALE_STORE` overrides it.
DuckDB lets one process write a file at a time, so each write takes an exclusive lock on a
sidecar `.lock` file first: concurrent writers queue instead of failing or corrupting runs.
Inputs are stored with a content hash (same inputs, same hash) and the catalog version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from swarmscale import __version__
from swarmscale.files import atomic_path, check_output_path

DEFAULT_PATH = Path.home() / ".local" / "share" / "swarmscale" / "results.duckdb"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id VARCHAR PRIMARY KEY,
    created TIMESTAMP,
    verb VARCHAR,
    input_hash VARCHAR,
    catalog_version VARCHAR,
    swarmscale_version VARCHAR,
    wall_s DOUBLE,
    inputs VARCHAR,
    outputs VARCHAR
)
"""
COLUMNS = (
    "id",
    "created",
    "verb",
    "input_hash",
    "catalog_version",
    "swarmscale_version",
    "wall_s",
    "inputs",
    "outputs",
)


class StoreError(ValueError):
    """A run that does not exist, or a store file that cannot be used."""


def store_path() -> Path:
    return Path(os.environ.get("SWARMSCALE_STORE", str(DEFAULT_PATH))).expanduser()


def content_hash(inputs: dict[str, Any]) -> str:
    """Stable hash of a run's inputs (keys sorted, so their order does not matter)."""
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Run:
    id: str
    created: dt.datetime
    verb: str
    input_hash: str
    catalog_version: str
    swarmscale_version: str
    wall_s: float
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created": self.created.isoformat()}


class ResultsStore:
    """Append runs, read them back, export them."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or store_path()

    @contextlib.contextmanager
    def _connect(self, write: bool) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A locked connection; for reading, None when no store file exists yet (reading never
        creates one)."""
        if not write and not self.path.exists():
            yield None
            return
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder, not a results store file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(self.path.suffix + ".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            try:
                connection = duckdb.connect(str(self.path), read_only=not write)
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: cannot open the results store: {exc}") from exc
            try:
                if write:
                    connection.execute(SCHEMA)
                yield connection
            except duckdb.CatalogException as exc:
                raise StoreError(f"{self.path}: not a swarmscale results store: {exc}") from exc
            finally:
                connection.close()
                fcntl.flock(lock, fcntl.LOCK_UN)

    def record(
        self,
        verb: str,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        wall_s: float,
        catalog_version: str,
    ) -> str:
        """Store one finished run; returns its id."""
        run_id = uuid.uuid4().hex[:12]
        row = (
            run_id,
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
            verb,
            content_hash(inputs),
            catalog_version,
            __version__,
            wall_s,
            json.dumps(inputs, default=str),
            json.dumps(outputs, default=str),
        )
        with self._connect(write=True) as connection:
            assert connection is not None
            connection.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(row))})", row)
        return run_id

    def list(self, verb: str | None = None, limit: int = 50) -> list[Run]:
        query = "SELECT * FROM runs" + (" WHERE verb = ?" if verb else "")
        query += " ORDER BY created DESC LIMIT ?"
        params: list[Any] = [verb, limit] if verb else [limit]
        with self._connect(write=False) as connection:
            rows = [] if connection is None else connection.execute(query, params).fetchall()
        return [_run(row) for row in rows]

    def get(self, run_id: str) -> Run:
        with self._connect(write=False) as connection:
            rows = (
                []
                if connection is None
                else connection.execute("SELECT * FROM runs WHERE id = ?", [run_id]).fetchall()
            )
        if not rows:
            raise StoreError(
                f"no run {run_id!r} in {self.path}; `swarmscale runs list` shows the ids"
            )
        return _run(rows[0])

    def export(self, out: Path, file_format: str) -> int:
        """Write every run to CSV or Parquet (atomically); returns the number of runs."""
        if file_format not in ("csv", "parquet"):
            raise StoreError(f"--format must be csv or parquet, got {file_format!r}")
        check_output_path(out, "--out")
        options = "FORMAT CSV, HEADER" if file_format == "csv" else "FORMAT PARQUET"
        with self._connect(write=False) as connection:
            if connection is None:
                raise StoreError(f"no results store at {self.path}: nothing to export")
            with atomic_path(out) as temporary:
                target = str(temporary).replace("'", "''")
                connection.execute(
                    f"COPY (SELECT * FROM runs ORDER BY created) TO '{target}' ({options})"
                )
            count = connection.execute("SELECT count(*) FROM runs").fetchone()
        return int(count[0]) if count else 0


def _run(row: tuple[Any, ...]) -> Run:
    values = dict(zip(COLUMNS, row, strict=True))
    return Run(
        values["id"],
        values["created"],
        values["verb"],
        values["input_hash"],
        values["catalog_version"],
        values["swarmscale_version"],
        values["wall_s"],
        json.loads(values["inputs"]),
        json.loads(values["outputs"]),
    )


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested outputs as dotted keys, for side-by-side comparison of runs."""
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    if isinstance(data, list):
        return {prefix.rstrip("."): json.dumps(data, default=str)} if prefix else {}
    return {prefix.rstrip("."): data}
