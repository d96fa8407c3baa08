"""Fuzzing support: how many examples each property tries, and a tally of outcomes.

`SWARMSCALE_FUZZ_EXAMPLES=N` raises the examples per property for a long campaign (the suite
default keeps `make test` fast); `SWARMSCALE_FUZZ_REPORT=FILE` writes the tally as JSON at the
end of the session (docs/reliability.md quotes one).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("SWARMSCALE_FUZZ_EXAMPLES", "0")) or None
TALLY: Counter[str] = Counter()


def fuzz_settings(default_examples: int) -> settings:
    """Few examples in the suite, `SWARMSCALE_FUZZ_EXAMPLES` in a campaign; no deadline (some
    valid inputs run a whole plan search)."""
    return settings(
        max_examples=EXAMPLES or default_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        database=None,
    )


def tally(kind: str, outcome: str) -> None:
    TALLY[f"{kind}: {outcome}"] += 1


@pytest.fixture(scope="session", autouse=True)
def fuzz_report() -> Iterator[None]:
    yield
    target = os.environ.get("SWARMSCALE_FUZZ_REPORT")
    if target:
        Path(target).write_text(json.dumps(dict(sorted(TALLY.items())), indent=2) + "\n")
