"""Mooncake conversation trace (Qin et al., FAST'25): JSON lines with `timestamp` (ms),
`input_length`, `output_length` and `hash_ids`, one id per 512-token prompt block.

A block whose id an earlier request already sent is a prefix-cache hit if every block before it
in the prompt also hit; the cached length is that run of leading hits (an unbounded cache, the
best case the trace allows).
"""

from __future__ import annotations

import json
from pathlib import Path

from swarmscale.traces import RequestTrace, TraceError, build_trace

BLOCK_TOKENS = 512


def load_mooncake(path: Path) -> RequestTrace:
    arrivals: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    cached: list[int] = []
    seen: set[int] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror}") from exc
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
            arrival = float(row["timestamp"]) / 1000.0
            input_len = max(int(row["input_length"]), 1)
            output_len = max(int(row["output_length"]), 1)
            blocks = [int(block) for block in row.get("hash_ids", [])]
        except (ValueError, KeyError, TypeError) as exc:
            raise TraceError(f"{path}: line {number}: {exc!r}") from exc
        hits = 0
        for block in blocks:
            if block not in seen:
                break
            hits += 1
        seen.update(blocks)
        arrivals.append(arrival)
        inputs.append(input_len)
        outputs.append(output_len)
        cached.append(min(hits * BLOCK_TOKENS, input_len - 1))
    if not arrivals:
        raise TraceError(f"{path}: no requests")
    return build_trace(path.stem, arrivals, inputs, outputs, cached)
