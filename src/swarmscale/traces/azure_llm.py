"""Azure LLM inference trace 2023 (Patel et al., Splitwise, ISCA'24): CSV with columns
`TIMESTAMP,ContextTokens,GeneratedTokens`, timestamps like `2023-11-16 18:15:46.6805900`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from swarmscale.limits import MAX_OUTPUT, MAX_PROMPT
from swarmscale.traces import RequestTrace, TraceError, build_trace, count, csv_rows

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def _timestamp(text: str) -> float:
    # Seven fractional digits: Python parses at most six.
    head, _, fraction = text.strip().partition(".")
    moment = dt.datetime.strptime(head, "%Y-%m-%d %H:%M:%S")
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)


def load_azure_llm(path: Path) -> RequestTrace:
    """Zero-token prompts or outputs (a few in the trace) count as one token."""
    arrivals: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    for line, row in csv_rows(path, COLUMNS):
        try:
            arrivals.append(_timestamp(row["TIMESTAMP"] or ""))
            inputs.append(max(count(row["ContextTokens"], "ContextTokens", MAX_PROMPT), 1))
            outputs.append(max(count(row["GeneratedTokens"], "GeneratedTokens", MAX_OUTPUT), 1))
        except ValueError as exc:
            raise TraceError(f"{path}: line {line}: {exc}") from exc
    if not arrivals:
        raise TraceError(f"{path}: no requests")
    return build_trace(path.stem, arrivals, inputs, outputs)
