"""Job-trace loaders: Philly and Alibaba GPU 2023 in their original formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swarmscale.traces import TraceError
from swarmscale.traces.jobs import load_alibaba_pods, load_job_trace, load_philly


def test_philly_subsample() -> None:
    trace = load_job_trace("philly")
    assert len(trace) == 3000
    assert np.all(np.diff(trace.arrival_s) >= 0) and trace.arrival_s[0] == 0
    assert set(np.unique(trace.gpus)) <= {1, 2, 4, 8, 12, 16, 24, 32, 64, 128}


def test_alibaba_keeps_gpu_pods_only() -> None:
    trace = load_job_trace("alibaba")
    assert 0 < len(trace) <= 2000 and np.all(trace.gpus >= 1)
    assert np.all(trace.duration_s > 0)


def test_bad_philly_row(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("timestamp,duration,num_gpus,gpu_time,cluster\nyesterday,1,1,1,x\n")
    with pytest.raises(TraceError, match=r"p.csv: line 2"):
        load_philly(path)


def test_bad_alibaba_columns(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name,num_gpu\nx,1\n")
    with pytest.raises(TraceError, match="missing columns"):
        load_alibaba_pods(path)


def test_speedup_compresses_arrivals() -> None:
    trace = load_job_trace("philly").head(100)
    assert trace.scaled(10).arrival_s[-1] == pytest.approx(trace.arrival_s[-1] / 10)
