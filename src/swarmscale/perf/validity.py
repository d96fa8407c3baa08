"""Which training plans a framework can run: one list of (reason, predicate), used by the plan
search to enumerate only runnable plans and by the evaluation of plans a user or case fixes.

The rules follow what Megatron-LM / NeMo, torchtitan and DeepSpeed accept:
- tensor parallelism divides the attention heads;
- pipeline stages hold the layers as evenly as Megatron-core can split them (uneven first and
  last stages; `largest_stage`); the search only offers splits whose largest stage is within
  a layer of an even share (`balanced_pp`), a fixed pp may be anything up to the layers;
- interleaving (vp > 1 virtual stages) needs vp to divide the layers of the largest stage
  (unless the run gives Megatron-core an explicit pipeline layout, `rank_layers`) and the
  micro-batches to be a multiple of pp (Megatron-LM's schedule);
- expert parallelism divides the experts and is carved out of the dp x cp ranks;
- context parallelism splits the sequence into 2 x cp chunks (load-balanced causal attention);
- DualPipe needs an even pp >= 2 and at least pp micro-batches (DeepSeek-V3, arXiv:2412.19437);
- a micro-batch holds at most a data-parallel rank's share of the global batch.
Frameworks assert that dp x micro-batch divides the global batch, so the search only offers
such plans; a plan that fixes dp to a count that does not (OPT-175B on 992 GPUs) runs the batch
rounded to a multiple of dp x micro-batch, and its step time is scaled to the job's batch
(`batch_scale`). ZeRO-3 (FSDP) combines with pipeline parallelism as torchtitan runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from swarmscale.hardware import Cluster
from swarmscale.perf.plans import SCHEDULE_CODES, PlanGrid
from swarmscale.workload import TrainingJob

BoolArray = NDArray[np.bool_]
# A plan field as one integer (the search's loops) or one value per plan (a grid's arrays).
Field = TypeVar("Field", int, NDArray[np.int64], NDArray[np.float64])


@dataclass(frozen=True)
class PlanRule:
    """A plan breaks the rule where `broken` is True; `reason` says why, for people."""

    reason: str
    broken: Callable[[PlanGrid, TrainingJob, Cluster], BoolArray]


def micro_batches(job: TrainingJob, grid: PlanGrid) -> NDArray[np.int64]:
    """Micro-batches each data-parallel rank runs per optimizer step: the global batch over
    dp x micro-batch, rounded to the nearest whole number (at least one) where it does not
    divide, as a framework rounds the batch to what its ranks can run."""
    per_step = np.maximum(grid.dp * grid.micro_batch, 1)
    return np.asarray(np.maximum(np.rint(job.global_batch / per_step), 1), dtype=np.int64)


def batch_scale(job: TrainingJob, grid: PlanGrid) -> NDArray[np.float64]:
    """The job's global batch over the batch a plan really runs (1 where dp x mb divides it):
    step times are scaled by it so that they are times for the job's batch."""
    ran = micro_batches(job, grid) * grid.dp * grid.micro_batch
    return np.asarray(job.global_batch / ran, dtype=float)


def _megatron_largest(layers: int, pp: int) -> int:
    """Largest stage of the best split Megatron-core can express for an uneven count: middle
    stages of m layers, the first and last sharing the rest
    (`--decoder-first/last-pipeline-num-layers`)."""
    if pp <= 2:
        return -(-layers // pp)
    middles = range(1, layers // (pp - 2) + 1)
    return min(max(m, -(-(layers - (pp - 2) * m) // 2)) for m in middles)


def largest_stage(layers: int, pp: int) -> int:
    """Transformer layers on the largest pipeline stage: an even split; or, when the embedding
    and LM head count as one layer each on the first and last stages (Megatron-LM's
    `--account-for-embedding/loss-in-pipeline-split`; Llama 3.1 405B: 126 + 2 = 16 x 8), that
    split; else Megatron-core's uneven first and last stages."""
    if layers % pp == 0:
        return layers // pp
    if (layers + 2) % pp == 0:
        return (layers + 2) // pp
    return _megatron_largest(layers, pp) if pp <= layers else layers


def stage_layers(layers: int, pp: NDArray[np.int64]) -> NDArray[np.int64]:
    """`largest_stage` for each plan's pp."""
    sizes = {int(p): largest_stage(layers, int(p)) for p in np.unique(pp)}
    return np.asarray([sizes[int(p)] for p in pp], dtype=np.int64)


def _laid_out(grid: PlanGrid, job: TrainingJob, per_stage: NDArray[np.int64]) -> BoolArray:
    """Interleaved plans whose vp does not divide the stage's layers but run under an explicit
    pipeline layout (`SoftwareOptions.pipeline_layout`)."""
    interleaved = grid.schedule == SCHEDULE_CODES["interleaved"]
    uneven = per_stage % np.maximum(grid.vp, 1) != 0
    return np.asarray(interleaved & uneven & job.software.pipeline_layout)


def rank_layers(job: TrainingJob, grid: PlanGrid) -> NDArray[np.int64]:
    """Transformer layers on the fullest pipeline rank: `stage_layers`, or under an explicit
    layout vp virtual stages of ceil(layers / (pp x vp)) layers each (DeepSeek-V3's 61 layers
    at pp 2, vp 8: 8 x 4 = 32 on the first rank)."""
    layers = job.model.layers
    per_stage = stage_layers(layers, grid.pp)
    chunks = np.maximum(grid.pp * grid.vp, 1)
    laid_out = grid.vp * -(-layers // chunks)
    return np.asarray(np.where(_laid_out(grid, job, per_stage), laid_out, per_stage))


def balanced_pp(layers: int, pp: int) -> bool:
    """A split the search offers: its largest stage holds no more than an even share
    (ceil(layers / pp)) would."""
    return pp <= layers and largest_stage(layers, pp) <= -(-layers // pp) + (layers % pp != 0)


def _interleaving_broken(grid: PlanGrid, job: TrainingJob, _: Cluster) -> BoolArray:
    interleaved = grid.schedule == SCHEDULE_CODES["interleaved"]
    per_stage = stage_layers(job.model.layers, grid.pp)
    uneven = (per_stage % grid.vp != 0) & ~_laid_out(grid, job, per_stage)
    bad = (grid.vp < 2) | uneven | (micro_batches(job, grid) % grid.pp != 0)
    return np.asarray((interleaved & bad) | (~interleaved & (grid.vp > 1)))


def expert_ranks(job: TrainingJob, tp: Field, dp: Field, cp: Field) -> Field:
    """Ranks an expert-parallel group may be carved from, and whose replicas share an expert:
    dp x cp, or tp x dp x cp when the expert layers are folded onto their own grid (software
    `moe_parallel_folding`). Takes plan fields as integers or arrays."""
    return dp * cp * (tp if job.software.moe_parallel_folding else 1)


def _experts_broken(grid: PlanGrid, job: TrainingJob, _: Cluster) -> BoolArray:
    experts = job.model.moe.experts if job.model.moe else 0
    spanned = expert_ranks(job, grid.tp, grid.dp, grid.cp)
    bad_split = (experts == 0) | (experts % grid.ep != 0) | (spanned % grid.ep != 0)
    return np.asarray((grid.ep > 1) & bad_split)


def _dualpipe_broken(grid: PlanGrid, job: TrainingJob, _: Cluster) -> BoolArray:
    dualpipe = grid.schedule == SCHEDULE_CODES["dualpipe"]
    bad = (grid.pp < 2) | (grid.pp % 2 != 0) | (micro_batches(job, grid) < grid.pp)
    return np.asarray(dualpipe & bad)


RULES: tuple[PlanRule, ...] = (
    PlanRule(
        "tp x pp x dp x cp exceeds the chips available",
        lambda g, _, c: np.asarray(g.tp * g.pp * g.dp * g.cp > c.count),
    ),
    PlanRule(
        "tp does not divide the attention heads",
        lambda g, j, _: np.asarray(j.model.heads % g.tp != 0),
    ),
    PlanRule(
        "more pipeline stages than layers",
        lambda g, j, _: np.asarray(g.pp > j.model.layers),
    ),
    PlanRule(
        "interleaving needs vp > 1 dividing a stage's layers (or software pipeline_layout, an "
        "explicit Megatron-core layout) and micro-batches divisible by pp",
        _interleaving_broken,
    ),
    PlanRule(
        "expert parallelism must divide the experts and dp x cp (tp x dp x cp with software "
        "moe_parallel_folding) and needs an MoE model",
        _experts_broken,
    ),
    PlanRule(
        "sequence length is not divisible by 2 x cp",
        lambda g, j, _: np.asarray(j.seq_len % (2 * g.cp) != 0),
    ),
    PlanRule(
        "DualPipe needs an even pp of at least 2 and at least pp micro-batches",
        _dualpipe_broken,
    ),
    PlanRule(
        "a micro-batch larger than a data-parallel rank's share of the batch",
        lambda g, j, _: np.asarray(g.micro_batch * g.dp > max(j.global_batch, 1) + g.dp - 1),
    ),
)
REASON_OOM = "does not fit in device memory"
REASON_NO_NIC = "spans scale-up domains, but the chip's scale-out bandwidth is unknown"
REASONS: tuple[str, ...] = ("ok", *(rule.reason for rule in RULES), REASON_OOM, REASON_NO_NIC)
OOM_CODE = REASONS.index(REASON_OOM)
NO_NIC_CODE = REASONS.index(REASON_NO_NIC)


def rule_codes(job: TrainingJob, cluster: Cluster, grid: PlanGrid) -> NDArray[np.int64]:
    """Per plan, 0 when it breaks no rule, else the code (index in REASONS) of the first."""
    codes = np.zeros(len(grid), dtype=np.int64)
    for code, rule in enumerate(RULES, start=1):
        codes = np.where((codes == 0) & rule.broken(grid, job, cluster), code, codes)
    return codes
