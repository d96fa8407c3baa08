"""Fuzzed files of every kind a user hands swarmscale: a valid document with one value replaced
(by NaN, infinity, a negative, zero, a huge number, the wrong type, a deep list, an unknown
key...), or random YAML. The loader accepts it or raises the catalog's error naming the file;
the command reading it exits 0 with finite JSON or 2 naming the file, never 1 (`checks.py`)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from swarmscale.catalog.loader import DATA_ROOT
from tests.conftest import CliRunner
from tests.fuzz.checks import check_outcome, stored_runs
from tests.fuzz.conftest import fuzz_settings


def _first(path: Path, key: str, wanted: str | None = None) -> dict[str, Any]:
    records = yaml.safe_load(path.read_text(encoding="utf-8"))[key]
    return next(r for r in records if wanted is None or r.get("id") == wanted)


# Each kind: a valid document, and the command that reads it (FILE stands for its path).
KINDS: dict[str, tuple[Any, list[str]]] = {
    "network": (
        {"networks": [_first(DATA_ROOT / "networks" / "china-hubs.yaml", "networks",
                             "test-3-sites")]},
        ["simulate", "--network", "FILE", "--jobs", "20", "--json"],
    ),
    "policy": (
        {"policies": [_first(DATA_ROOT / "policies" / "china.yaml", "policies")]},
        ["policy", "check", "--policy", "FILE", "--fleet", "h100-sxm:64,ascend-910b:64", "--json"],
    ),
    "case": (
        {"cases": [_first(DATA_ROOT / "cases" / "training.yaml", "cases")]},
        ["validate", "FILE", "--json"],
    ),
    "profile": (
        {"profiles": [_first(DATA_ROOT / "profiles" / "h100-sxm.yaml", "profiles")]},
        ["--profile", "FILE", "train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips",
         "8", "--json"],
    ),
    "scenario": (
        {"model": "llama3-8b", "chip": "h100-sxm", "chips": 8, "tokens": 1.0e12, "draws": 4,
         "grid": {"chips": [8, 16]}},
        ["sweep", "FILE", "--workers", "1", "--json"],
    ),
}  # fmt: skip

REPLACEMENTS: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [float("nan"), float("inf"), -float("inf"), -1, 0, 0.0, 1e300, -1e300, 10**30, "", "x",
         None, True, [], {}, [[[[[[]]]]]], {"unknown": 1}, "1e3", 2**63]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=10),
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the document a value sits (mapping keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def _nearby(value: Any) -> st.SearchStrategy[Any]:
    """A plausible edit of the value there (a number scaled, a list shortened), so that part
    of the fuzzed documents pass validation and run through the command."""
    if isinstance(value, bool) or value is None:
        return st.just(value)
    if isinstance(value, int | float):
        return st.sampled_from([0.5, 0.9, 1.1, 2.0]).map(
            lambda f: type(value)(value * f) if isinstance(value, float) else max(1, int(value * f))
        )
    if isinstance(value, list):
        return st.just(value[:1])
    return st.just(value)


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def _run(run_cli: CliRunner, tmp_path: Path, kind: str, text: str) -> None:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text, encoding="utf-8")
    _, command = KINDS[kind]
    args = [str(path) if arg == "FILE" else arg for arg in command]
    check_outcome(kind, run_cli(args), stored_runs(), (str(path), "--"))


@fuzz_settings(30)
@given(kind=st.sampled_from(sorted(KINDS)), data=st.data())
def test_one_value_replaced(
    run_cli: CliRunner, tmp_path: Path, kind: str, data: st.DataObject
) -> None:
    document, _ = KINDS[kind]
    path = data.draw(st.sampled_from(_paths(document)), label="path")
    value = data.draw(st.one_of(REPLACEMENTS, _nearby(_at(document, path))), label="value")
    changed = _replace(document, path, value)
    if data.draw(st.booleans(), label="extra key") and isinstance(changed, dict):
        changed["unexpected_key"] = 1
    _run(run_cli, tmp_path, kind, yaml.safe_dump(changed))


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@fuzz_settings(20)
@given(kind=st.sampled_from(sorted(KINDS)), value=yaml_values)
def test_random_documents(run_cli: CliRunner, tmp_path: Path, kind: str, value: Any) -> None:
    _run(run_cli, tmp_path, kind, yaml.safe_dump(value))


@fuzz_settings(20)
@given(kind=st.sampled_from(sorted(KINDS)), text=st.text(max_size=200))
def test_random_text(run_cli: CliRunner, tmp_path: Path, kind: str, text: str) -> None:
    _run(run_cli, tmp_path, kind, text)
