"""Training-job traces of GPU clusters (Philly, Alibaba PAI): arrival, GPUs, duration.

Loaders read the original formats; every trace becomes a `JobTrace` of NumPy arrays sorted by
arrival, seconds from the first job. How a trace job becomes a swarmscale training job (model,
tokens, allowed chips) is `sim/jobs.py`'s business.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from swarmscale.limits import MAX_CHIPS
from swarmscale.traces import DATA, TraceError, count, csv_rows, finite, read_trace_text

SHIPPED_JOBS = {
    "philly": DATA / "philly_head3000.csv",
    "alibaba": DATA / "alibaba_openb_pods_head2000.csv",
}


@dataclass(frozen=True)
class JobTrace:
    """Jobs as parallel arrays; `gpu_type` is the model a job asked for ('' when any)."""

    name: str
    arrival_s: NDArray[np.float64]
    gpus: NDArray[np.int64]
    duration_s: NDArray[np.float64]
    gpu_type: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])

    def scaled(self, speedup: float) -> JobTrace:
        """The same jobs arriving `speedup` times faster (a heavier load)."""
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        return JobTrace(
            f"{self.name} x{speedup:g}",
            self.arrival_s / speedup,
            self.gpus,
            self.duration_s,
            self.gpu_type,
        )

    def head(self, count: int) -> JobTrace:
        return JobTrace(
            self.name,
            self.arrival_s[:count],
            self.gpus[:count],
            self.duration_s[:count],
            self.gpu_type[:count],
        )


def _build(
    name: str, arrivals: list[float], gpus: list[int], durations: list[float], types: list[str]
) -> JobTrace:
    if not arrivals:
        raise TraceError(f"{name}: no jobs")
    times = np.asarray(arrivals, dtype=float)
    order = np.argsort(times, kind="stable")
    return JobTrace(
        name,
        times[order] - times[order][0],
        np.asarray(gpus)[order],
        np.asarray(durations, dtype=float)[order],
        tuple(types[i] for i in order),
    )


def load_philly(path: Path) -> JobTrace:
    """Philly as processed by adaptdl: `timestamp,duration,num_gpus,gpu_time,cluster`."""
    arrivals, gpus, durations = [], [], []
    for line, row in csv_rows(path, ("timestamp", "duration", "num_gpus")):
        try:
            moment = dt.datetime.strptime((row["timestamp"] or "").strip(), "%Y-%m-%d %H:%M:%S")
            arrivals.append(moment.timestamp())
            gpus.append(max(count(row["num_gpus"], "num_gpus", MAX_CHIPS), 1))
            durations.append(max(finite(row["duration"], "duration"), 1.0))
        except ValueError as exc:
            raise TraceError(f"{path}: line {line}: {exc}") from exc
    return _build("philly", arrivals, gpus, durations, [""] * len(arrivals))


def load_alibaba_pods(path: Path) -> JobTrace:
    """Alibaba GPU 2023 pod list: GPU pods only (`num_gpu` > 0; fractional GPUs count as one),
    duration from scheduling to deletion, `gpu_spec` kept as the requested GPU model."""
    arrivals, gpus, durations, types = [], [], [], []
    columns = ("num_gpu", "gpu_spec", "creation_time", "deletion_time", "scheduled_time")
    for line, row in csv_rows(path, columns):
        try:
            gpu_count = count(row["num_gpu"], "num_gpu", MAX_CHIPS)
            if gpu_count == 0:
                continue
            created = finite(row["creation_time"], "creation_time")
            start = finite(row["scheduled_time"] or created, "scheduled_time")
            end = finite(row["deletion_time"], "deletion_time")
        except ValueError as exc:
            raise TraceError(f"{path}: line {line}: {exc}") from exc
        if end <= start:
            continue
        arrivals.append(created)
        gpus.append(gpu_count)
        durations.append(end - start)
        types.append(row["gpu_spec"].strip())
    return _build("alibaba-gpu-2023", arrivals, gpus, durations, types)


def load_job_trace(name_or_path: str) -> JobTrace:
    """`philly` or `alibaba` (shipped subsamples), or a path to a full trace file."""
    path = SHIPPED_JOBS.get(name_or_path, Path(name_or_path))
    if not path.exists():
        raise TraceError(
            f"job trace {name_or_path!r}: no such file; shipped: {', '.join(SHIPPED_JOBS)}"
        )
    header = read_trace_text(path).split("\n", 1)[0]
    if "num_gpus" in header:
        return load_philly(path)
    if "gpu_spec" in header:
        return load_alibaba_pods(path)
    raise TraceError(
        f"{path}: unknown job-trace format; expected Philly "
        "(timestamp,duration,num_gpus,...) or Alibaba pods (...,gpu_spec,...)"
    )
