"""Shared fixtures: the shipped catalog, and a scratch copy of it for bad-file tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from swarmscale.catalog import Catalog, default_catalog
from swarmscale.catalog.loader import DATA_ROOT


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return default_catalog()


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped catalog data tree."""
    target = tmp_path / "data"
    shutil.copytree(DATA_ROOT, target)
    return target
