"""What every fuzzed run must satisfy: exit 0 with finite JSON, or exit 2 with a message that
names what was wrong; never exit 1; nothing stored and no output file left on failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swarmscale.store import ResultsStore
from tests.fuzz.conftest import tally


def _finite(value: Any) -> None:
    """`json.loads` with `parse_constant` raising: NaN or Infinity anywhere is a failure."""
    raise AssertionError(f"non-finite number {value!r} in the JSON output")


def check_outcome(
    kind: str,
    result: tuple[int, str, str],
    runs_before: int,
    names: tuple[str, ...],
    outputs: tuple[Path, ...] = (),
) -> None:
    code, out, err = result
    assert code in (0, 2), f"{kind}: exit {code}\n{err}"
    assert "internal error" not in err and "Traceback" not in err, err
    if code == 0:
        tally(kind, "exit 0")
        if out.strip():
            json.loads(out, parse_constant=_finite)
        return
    tally(kind, "exit 2")
    message = err.strip().lower()
    assert message.startswith("error:") or "usage:" in message, err
    spellings = {
        variant
        for name in names
        for variant in (
            name.lower(),
            name.lower().lstrip("-"),
            name.lower().lstrip("-").replace("-", "_"),
        )
    }
    assert any(word in message for word in spellings), f"{kind}: no field named in {err!r}"
    assert len(ResultsStore().list(limit=100_000)) == runs_before, "a failed run was stored"
    for path in outputs:
        assert not path.exists(), f"{path} written by a failed run"


def stored_runs() -> int:
    return len(ResultsStore().list(limit=100_000))
