"""Trace loaders read the shipped subsamples in their original formats; bad files say where."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swarmscale.traces import SHIPPED, TraceError
from swarmscale.traces.azure_llm import load_azure_llm
from swarmscale.traces.load import load_trace
from swarmscale.traces.mooncake import load_mooncake
from swarmscale.traces.synthetic import poisson_trace


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_subsamples_load(name: str) -> None:
    trace = load_trace(name)
    assert len(trace) == 2000
    assert trace.arrival_s[0] == 0.0 and np.all(np.diff(trace.arrival_s) >= 0)
    assert np.all(trace.input_len >= 1) and np.all(trace.output_len >= 1)


def test_azure_conversation_first_request() -> None:
    """First row of AzureLLMInferenceTrace_conv.csv: 374 context tokens, 44 generated."""
    trace = load_trace("azure-conv")
    assert (trace.input_len[0], trace.output_len[0]) == (374, 44)


def test_mooncake_prefix_hits_follow_block_reuse() -> None:
    trace = load_trace("mooncake")
    assert trace.cached_len[0] == 0
    assert 0 < trace.cached_len.mean() < trace.input_len.mean()
    assert np.all(trace.cached_len < trace.input_len)


def test_bad_azure_row_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.1,12,x\n")
    with pytest.raises(TraceError, match=r"bad.csv: line 2"):
        load_azure_llm(path)


def test_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,in,out\n1,2,3\n")
    with pytest.raises(TraceError, match="missing columns"):
        load_azure_llm(path)


def test_bad_mooncake_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"timestamp": 0, "input_length": 5, "output_length": 2}\n{"timestamp": 1}\n')
    with pytest.raises(TraceError, match=r"bad.jsonl: line 2"):
        load_mooncake(path)


def test_unknown_trace_name() -> None:
    with pytest.raises(TraceError, match="shipped traces"):
        load_trace("philly-llm")


def test_poisson_trace_is_seeded() -> None:
    first = poisson_trace(3.0, 500, 100, 50, seed=7, length_sigma=0.5)
    second = poisson_trace(3.0, 500, 100, 50, seed=7, length_sigma=0.5)
    assert np.array_equal(first.arrival_s, second.arrival_s)
    assert first.rate == pytest.approx(3.0, rel=0.15)
