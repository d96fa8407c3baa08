"""From trace jobs to swarmscale training jobs, and their speed on every chip kind.

Mapping (deterministic, documented in docs/simulation.md):
- model by GPU count: 1-2 GPUs train a 1.7B GPT (Megatron-LM), 3-8 Llama 3.1 8B, 9-32 an
  18.4B GPT, more Llama 3.1 70B;
- work: the job's traced duration on its GPUs, taken as A100 80GB time (the trace's own GPUs,
  P100 to V100 for Philly, are not in the catalog), so tokens = duration x the model's
  tokens/s on that many A100s;
- allowed chips: every kind in the network, or only the matching kind when an Alibaba pod asks
  for a GPU model the catalog has.
Speed on each kind comes from the plan search (coarse) on the job's GPU count of that kind,
with sequences of 2,048 tokens and 8 sequences per GPU per step; results are cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from swarmscale.catalog import Catalog, UnknownValueError
from swarmscale.hardware import build_cluster
from swarmscale.plan.search import search
from swarmscale.traces.jobs import JobTrace
from swarmscale.workload import TrainingJob

REFERENCE_CHIP = "a100-sxm-80gb"
SEQ_LEN = 2048
SEQUENCES_PER_GPU = 8
MODEL_BY_GPUS = ((2, "megatron-gpt-1.7b"), (8, "llama3-8b"), (32, "megatron-gpt-18.4b"),
                 (1 << 30, "llama3-70b"))  # fmt: skip
TRACE_GPU_TYPES = {"A100": "a100-sxm-80gb", "H800": "h800-sxm", "A800": "a800-sxm"}


def model_for(gpus: int) -> str:
    return next(model for limit, model in MODEL_BY_GPUS if gpus <= limit)


@dataclass
class RateTable:
    """Tokens/s of (model, chip kind, chip count), from the plan search, cached."""

    catalog: Catalog
    cache: dict[tuple[str, str, int], float] = field(default_factory=dict)

    def tokens_per_s(self, model_id: str, chip_id: str, chips: int) -> float:
        key = (model_id, chip_id, chips)
        if key not in self.cache:
            self.cache[key] = self._compute(model_id, chip_id, chips)
        return self.cache[key]

    def _compute(self, model_id: str, chip_id: str, chips: int) -> float:
        job = TrainingJob(self.catalog.model(model_id), SEQ_LEN, SEQUENCES_PER_GPU * chips)
        try:
            cluster = build_cluster(self.catalog, chip_id, chips)
            result = search(job, cluster, "time", {"chips": chips}, top_k=1, coarse=True)
        except (UnknownValueError, ValueError):
            return 0.0
        return 0.0 if result.best is None else float(result.best.totals["tokens_per_s"])


@dataclass
class SimJob:
    """A job in the simulation: what it is, and what happened to it."""

    id: int
    arrival_s: float
    gpus: int
    model: str
    tokens: float
    allowed: frozenset[str] | None
    start_s: float = -1.0
    finish_s: float = -1.0
    site: int = -1
    kind: str = ""

    @property
    def started(self) -> bool:
        return self.start_s >= 0


def build_jobs(trace: JobTrace, rates: RateTable, kinds: set[str]) -> list[SimJob]:
    """Swarmscale jobs for every trace job (see the module docstring for the mapping)."""
    jobs = []
    for index in range(len(trace)):
        gpus = int(trace.gpus[index])
        model = model_for(gpus)
        reference = rates.tokens_per_s(model, REFERENCE_CHIP, gpus)
        tokens = float(trace.duration_s[index]) * reference
        wanted = TRACE_GPU_TYPES.get(trace.gpu_type[index])
        allowed = frozenset({wanted}) if wanted in kinds else None
        jobs.append(SimJob(index, float(trace.arrival_s[index]), gpus, model, tokens, allowed))
    return jobs


def duration_on(job: SimJob, rates: RateTable, chip_id: str) -> float:
    """Seconds the job takes on its GPU count of `chip_id` (inf where it cannot run)."""
    rate = rates.tokens_per_s(job.model, chip_id, job.gpus)
    return job.tokens / rate if rate > 0 else float(np.inf)
