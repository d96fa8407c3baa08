"""Shared fixtures: the shipped catalog, and a scratch copy of it for bad-file tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from swarmscale.catalog import Catalog, default_catalog
from swarmscale.catalog.loader import DATA_ROOT
from swarmscale.cli import main

CliRunner = Callable[[list[str]], tuple[int, str, str]]
DELETE = object()  # an edit value that removes the key


def apply_edits(entry: dict[str, Any], edits: dict[str, object]) -> None:
    """Set (or, with DELETE, remove) dotted keys such as "efficiency.gemm.value" in a YAML entry."""
    for dotted, value in edits.items():
        *parents, leaf = dotted.split(".")
        target = entry
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value


@pytest.fixture(autouse=True)
def results_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test writes runs to its own store, never to the user's."""
    path = tmp_path_factory.mktemp("store") / "results.duckdb"
    monkeypatch.setenv("SWARMSCALE_STORE", str(path))
    return path


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return default_catalog()


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped catalog data tree."""
    target = tmp_path / "data"
    shutil.copytree(DATA_ROOT, target)
    return target


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""

    def run(args: list[str]) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        captured = capsys.readouterr()
        code = exit_info.value.code
        return (code if isinstance(code, int) else 0), captured.out, captured.err

    return run
