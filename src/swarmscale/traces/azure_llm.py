"""Azure LLM inference trace 2023 (Patel et al., Splitwise, ISCA'24): CSV with columns
`TIMESTAMP,ContextTokens,GeneratedTokens`, timestamps like `2023-11-16 18:15:46.6805900`."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from swarmscale.traces import RequestTrace, TraceError, build_trace

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def _timestamp(text: str) -> float:
    # Seven fractional digits: Python parses at most six.
    head, _, fraction = text.strip().partition(".")
    moment = dt.datetime.strptime(head, "%Y-%m-%d %H:%M:%S")
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)


def load_azure_llm(path: Path) -> RequestTrace:
    arrivals: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise TraceError(f"{path}: missing columns {missing}; expected {list(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            try:
                arrivals.append(_timestamp(row["TIMESTAMP"]))
                inputs.append(max(int(row["ContextTokens"]), 1))
                outputs.append(max(int(row["GeneratedTokens"]), 1))
            except ValueError as exc:
                raise TraceError(f"{path}: line {line}: {exc}") from exc
    if not arrivals:
        raise TraceError(f"{path}: no requests")
    return build_trace(path.stem, arrivals, inputs, outputs)
