"""Shared output helpers for CLI verbs: one JSON object on stdout, or Rich tables."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console

# Piped output (make run, CI logs) gets a wide table instead of Rich's 80-column default.
console = Console() if sys.stdout.isatty() else Console(width=160)
error_console = Console(stderr=True)


def _clean(value: Any) -> Any:
    """Make a value JSON-safe: NaN and infinity become null, tuples become lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


def print_json(payload: dict[str, Any]) -> None:
    """Print exactly one JSON object on stdout, nothing else."""
    sys.stdout.write(json.dumps(_clean(payload), indent=2, default=str) + "\n")


def fmt(value: float | None, digits: int = 3) -> str:
    """Human formatting with a fixed number of significant digits; '?' for unknown."""
    if value is None:
        return "?"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10 ** (digits + 2):
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}" if magnitude < 10**digits else f"{value:,.0f}"


def fmt_ratio(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}x"
