"""Request traces: real public LLM serving traces in their original formats, and synthetic ones.

Every loader returns a `RequestTrace` of NumPy arrays sorted by arrival, times in seconds from
the first request. Errors name the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from swarmscale.files import read_text
from swarmscale.limits import MAX_TRACE_BYTES, MAX_TRACE_ROWS

DATA = Path(__file__).parent / "data"
SHIPPED = {
    "azure-conv": DATA / "azure_conv_2023_head2000.csv",
    "azure-code": DATA / "azure_code_2023_head2000.csv",
    "mooncake": DATA / "mooncake_conversation_head2000.jsonl",
}


class TraceError(ValueError):
    """A trace file is unreadable or malformed; the message says where."""


def read_trace_text(path: Path) -> str:
    """A trace file's text: a regular UTF-8 file of at most `MAX_TRACE_BYTES`."""
    return read_text(path, MAX_TRACE_BYTES, TraceError)


def csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV trace with `columns` among its header's, at most
    `MAX_TRACE_ROWS` rows."""
    reader = csv.DictReader(io.StringIO(read_trace_text(path), newline=""))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise TraceError(f"{path}: missing columns {missing}; expected {list(columns)}")
    for line, row in enumerate(reader, start=2):
        if line - 1 > MAX_TRACE_ROWS:
            raise TraceError(f"{path}: more than {MAX_TRACE_ROWS:,} rows; cut the file")
        yield line, row


def finite(text: str | float, column: str, low: float = 0.0, high: float = math.inf) -> float:
    """A trace number that must be finite and within [low, high] (the column names it)."""
    value = float(text)
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{column} {text!r} must be a finite number from {low:g} to {high:g}")
    return value


def count(text: str | int, column: str, high: int) -> int:
    """A whole count from 0 to `high` (zeros are kept; loaders decide what zero means)."""
    value = int(text)
    if not 0 <= value <= high:
        raise ValueError(f"{column} {text!r} must be a whole number from 0 to {high:,}")
    return value


@dataclass(frozen=True)
class RequestTrace:
    """Requests as parallel arrays. `cached_len`: leading prompt tokens a prefix cache holds
    (from Mooncake's block hashes; zero for traces without them)."""

    name: str
    arrival_s: NDArray[np.float64]
    input_len: NDArray[np.int64]
    output_len: NDArray[np.int64]
    cached_len: NDArray[np.int64]

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        for field in ("input_len", "output_len", "cached_len"):
            if len(getattr(self, field)) != n:
                raise TraceError(f"trace {self.name}: {field} has a different length")
        if n and (np.any(self.input_len < 1) or np.any(self.output_len < 1)):
            raise TraceError(f"trace {self.name}: lengths must be at least 1 token")

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) > 1 else 0.0

    @property
    def rate(self) -> float:
        """Mean arrival rate, requests per second."""
        return (len(self) - 1) / self.duration_s if self.duration_s > 0 else float("inf")

    def head(self, count: int) -> RequestTrace:
        return self.slice(slice(0, count))

    def slice(self, selection: slice) -> RequestTrace:
        return RequestTrace(
            self.name,
            self.arrival_s[selection],
            self.input_len[selection],
            self.output_len[selection],
            self.cached_len[selection],
        )

    def scaled(self, speedup: float) -> RequestTrace:
        """The same requests arriving `speedup` times faster."""
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        return RequestTrace(
            f"{self.name} x{speedup:g}",
            self.arrival_s / speedup,
            self.input_len,
            self.output_len,
            self.cached_len,
        )


def build_trace(
    name: str,
    arrival_s: list[float],
    input_len: list[int],
    output_len: list[int],
    cached_len: list[int] | None = None,
) -> RequestTrace:
    """Sort by arrival and start the clock at the first request."""
    arrivals = np.asarray(arrival_s, dtype=float)
    order = np.argsort(arrivals, kind="stable")
    start = arrivals[order][0] if len(arrivals) else 0.0
    cached = (
        np.zeros(len(arrivals), dtype=np.int64)
        if cached_len is None
        else np.asarray(cached_len, dtype=np.int64)
    )
    return RequestTrace(
        name,
        arrivals[order] - start,
        np.asarray(input_len, dtype=np.int64)[order],
        np.asarray(output_len, dtype=np.int64)[order],
        cached[order],
    )
