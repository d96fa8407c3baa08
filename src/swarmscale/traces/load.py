"""One entry point for every trace format: by shipped name or by file (format from content)."""

from __future__ import annotations

from pathlib import Path

from swarmscale.traces import SHIPPED, RequestTrace, TraceError
from swarmscale.traces.azure_llm import load_azure_llm
from swarmscale.traces.mooncake import load_mooncake


def load_trace(name_or_path: str) -> RequestTrace:
    """`azure-conv`, `azure-code`, `mooncake` (shipped subsamples) or a path to a full trace."""
    path = SHIPPED.get(name_or_path, Path(name_or_path))
    if not path.exists():
        raise TraceError(
            f"trace {name_or_path!r}: no such file; shipped traces: {', '.join(SHIPPED)}"
        )
    if path.suffix == ".jsonl":
        return load_mooncake(path)
    if path.suffix == ".csv":
        return load_azure_llm(path)
    raise TraceError(
        f"{path}: unknown trace format; expected .csv (Azure LLM) or .jsonl (Mooncake)"
    )
