"""Mooncake conversation trace (Qin et al., FAST'25): JSON lines with `timestamp` (ms),
`input_length`, `output_length` and `hash_ids`, one id per 512-token prompt block.

A block whose id an earlier request already sent is a prefix-cache hit if every block before it
in the prompt also hit; the cached length is that run of leading hits (an unbounded cache, the
best case the trace allows).
"""

from __future__ import annotations

import json
from pathlib import Path

from swarmscale.limits import MAX_OUTPUT, MAX_PROMPT, MAX_TRACE_ROWS
from swarmscale.traces import (
    RequestTrace,
    TraceError,
    build_trace,
    count,
    finite,
    read_trace_text,
)

BLOCK_TOKENS = 512


def load_mooncake(path: Path) -> RequestTrace:
    arrivals: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    cached: list[int] = []
    seen: set[int] = set()
    lines = read_trace_text(path).splitlines()
    if len(lines) > MAX_TRACE_ROWS:
        raise TraceError(f"{path}: more than {MAX_TRACE_ROWS:,} lines; cut the file")
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
            if not isinstance(row, dict):
                raise TypeError(f"expected a JSON object, got {type(row).__name__}")
            arrival = finite(row["timestamp"], "timestamp") / 1000.0
            input_len = max(count(row["input_length"], "input_length", MAX_PROMPT), 1)
            output_len = max(count(row["output_length"], "output_length", MAX_OUTPUT), 1)
            blocks = [int(block) for block in row.get("hash_ids", [])]
        except RecursionError:
            raise TraceError(f"{path}: line {number}: JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: line {number}: not valid JSON: {exc.msg}") from exc
        except KeyError as exc:
            raise TraceError(f"{path}: line {number}: missing field {exc}") from exc
        except (ValueError, TypeError, AttributeError) as exc:
            raise TraceError(f"{path}: line {number}: {exc}") from exc
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
