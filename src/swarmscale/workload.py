"""Workloads: what is trained or served, independent of where it runs."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from swarmscale.catalog import Model

TrainPrecision = Literal["bf16", "fp8", "fp4"]


@dataclass(frozen=True)
class SoftwareOptions:
    """Framework features that change step time, not the math being trained.

    `fused_attention`: a FlashAttention-style kernel that never writes the score matrix (off:
    Megatron-LM 2021, which materialised scores and softmax in memory).
    `overlap_grad_reduce`: data-parallel gradient reduction runs during the backward pass (off:
    a plain all-reduce after the backward, as in Megatron-LM 2021).
    `sequence_parallel`: norms, residual adds and dropout are split over the tensor-parallel
    ranks (Korthikanti et al. 2022); off, each TP rank repeats them on the whole sequence.
    `eager`: plain PyTorch eager mode: every elementwise operation is its own kernel (no fusion,
    no torch.compile), so launches and memory traffic grow.
    `tp_comm_overlap`: tensor-parallel all-gathers and reduce-scatters run in pieces behind
    the GEMMs they feed (Transformer Engine userbuffers, NeMo's recipes); needs sequence
    parallelism.
    `ep_comm_overlap`: one micro-batch's expert all-to-all runs while another micro-batch
    computes (Megatron-core's `overlap_moe_expert_parallel_comm`, the same pairing DualPipe
    does within its schedule), so only the part longer than that compute is exposed.
    `grad_reduce_fp32`: gradients accumulate and reduce in fp32 (Megatron-LM's default for bf16
    training); off, they stay bf16 (NeMo's performance recipes), halving their buffer and
    the data-parallel traffic.
    `tuned_attention`: the chip vendor's tuned fused attention (Transformer Engine's cuDNN
    kernels on Hopper) instead of a FlashAttention-2-class kernel (PyTorch SDPA): attention
    runs `attention_tuned_gain` times faster.
    `activation_offload_layers`: the stored activations of this many layers of each stage go
    to host memory in the forward and come back for the backward, over the chip's
    `host_bandwidth` behind the neighbouring layers' compute (Megatron-core's
    `cpu_offloading_num_layers`, which NeMo's Grace-Blackwell FSDP recipes set).
    `fused_loss`: the cross-entropy runs as one fused kernel (Megatron, NeMo, llm-foundry);
    off, as plain PyTorch's `cross_entropy` over fp32 logits (torchtitan, calibrate's step).
    `autocast`: fp32 weights under `torch.autocast(bfloat16)` (calibrate's step, nanoGPT):
    each weight is cast to bf16 every forward and its gradient back, and the residual stream
    (embeddings, norms, residual adds) stays fp32.
    `pipeline_layout`: the run gives Megatron-core an explicit layout of the layers over the
    virtual pipeline stages (`pipeline_model_parallel_layout`, Megatron-Bridge's `pp_layout`,
    e.g. "Et*4|(t*4|)*14tmL" for DeepSeek-V3 at pp 2, vp 8), so interleaving needs no even
    split: each virtual stage holds ceil(layers / (pp x vp)) layers, the last ones fewer.
    `moe_parallel_folding`: expert layers get their own parallel grid (Megatron-core's MoE
    parallel folding with `expert_tensor_parallel_size` 1, arXiv:2504.14960): whole experts per
    rank, the expert group over consecutive ranks of the tp x cp x dp ones (so ep may exceed
    dp x cp), and each expert's replicas over the tp x cp x dp / ep ranks left; off, experts
    spread over the data-parallel ranks only (stride tp x cp), replicated over dp x cp / ep.
    """

    fused_attention: bool = True
    overlap_grad_reduce: bool = True
    sequence_parallel: bool = True
    eager: bool = False
    tp_comm_overlap: bool = False
    ep_comm_overlap: bool = False
    grad_reduce_fp32: bool = True
    tuned_attention: bool = False
    activation_offload_layers: int = 0
    fused_loss: bool = True
    autocast: bool = False
    pipeline_layout: bool = False
    moe_parallel_folding: bool = False

    def __post_init__(self) -> None:
        if self.activation_offload_layers < 0:
            raise ValueError("activation_offload_layers must be zero or more")

    @property
    def grad_bytes(self) -> float:
        return 4.0 if self.grad_reduce_fp32 else 2.0


MAX_OFFLOAD_LAYERS = 10_000
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def key_value_items(text: str, noun: str) -> list[tuple[str, str]]:
    """`a=1, b-c=x` as [("a", "1"), ("b_c", "x")]: the comma-separated key=value form of the
    `--plan` and `--software` options, with an error naming the `noun` item that has no `=`."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"{noun} item {item!r}: expected key=value")
        pairs.append((key.strip().replace("-", "_"), raw.strip()))
    return pairs


def parse_software(text: str) -> SoftwareOptions:
    """Parse `tuned_attention=true,activation_offload_layers=20` into `SoftwareOptions`, with
    errors naming the field and its allowed values."""
    names = [f.name for f in fields(SoftwareOptions)]
    values: dict[str, bool | int] = {}
    for key, raw in key_value_items(text, "software"):
        raw = raw.lower()
        if key not in names:
            raise ValueError(f"software option {key!r}: must be one of {', '.join(names)}")
        if key in values:
            raise ValueError(f"software option {key} is given twice; give each option once")
        if key == "activation_offload_layers":
            if not raw.isdigit() or int(raw) > MAX_OFFLOAD_LAYERS:
                raise ValueError(
                    f"software option {key}={raw!r}: must be a whole number of layers from 0 "
                    f"to {MAX_OFFLOAD_LAYERS:,}"
                )
            values[key] = int(raw)
        elif raw in _TRUE + _FALSE:
            values[key] = raw in _TRUE
        else:
            raise ValueError(f"software option {key}={raw!r}: must be true or false")
    return SoftwareOptions(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TrainingJob:
    """Train `model` with sequences of `seq_len` tokens, `global_batch` sequences per step."""

    model: Model
    seq_len: int
    global_batch: int
    precision: TrainPrecision = "bf16"
    tokens: float | None = None
    software: SoftwareOptions = field(default_factory=lambda: SoftwareOptions())

    def __post_init__(self) -> None:
        if self.seq_len < 1 or self.global_batch < 1:
            raise ValueError("seq_len and global_batch must be positive")
        if self.tokens is not None and self.tokens <= 0:
            raise ValueError("tokens must be positive")

    @property
    def tokens_per_step(self) -> int:
        return self.seq_len * self.global_batch

    @property
    def steps(self) -> float | None:
        return None if self.tokens is None else self.tokens / self.tokens_per_step


ServePrecision = Literal["bf16", "fp8", "fp4", "int8", "int4"]


@dataclass(frozen=True)
class InferenceJob:
    """Serve `model` with weights at `precision` (int4 means 4-bit weights, bf16 compute).

    `kv_bytes`: bytes per KV-cache element (fp8 caches halve bf16's 2). `act_bytes`: bytes per
    element of activations sent between chips. `prefix_hit`: share of each prompt found in a
    prefix cache and not recomputed. `tuned_attention`: the engine runs the chip vendor's tuned
    attention kernels (TensorRT-LLM; FlashAttention-3 in vLLM and SGLang on Hopper), not a
    FlashAttention-2-class kernel (see `SoftwareOptions`). `per_head_decode_attention`: the
    decode attention kernel runs one thread block per query head (FasterTransformer's and
    TensorRT-LLM's masked MHA up to v0.6, docs/source/gpt_attention.md at 138f96d), so a
    grouped-query model's K and V are read from memory once per query head of the group;
    grouped kernels (XQA, FlashInfer, FlashAttention's decode) read them once.
    `all_prompt_logits`: a prefill computes logits for every prompt position (a plain
    `model(tokens)` forward), not only for the last one as serving engines do.
    `serving_engine`: steps run inside a serving engine, whose host work per step
    (scheduling, sampling) adds `serving_step_overhead`; off for bare forward passes and CUDA
    graph replays timed on the device, as calibrate's are.
    `eager`: plain PyTorch eager forward passes (calibrate's prefill): each kernel is launched
    from the host (`kernel_overhead`, not `graph_kernel_overhead`) and elementwise work runs
    unfused, moving its tensors `EAGER_ELEMENTWISE_PASSES` times as often.
    """

    model: Model
    precision: ServePrecision = "bf16"
    kv_bytes: float = 2.0
    act_bytes: float = 2.0
    prefix_hit: float = 0.0
    tuned_attention: bool = False
    per_head_decode_attention: bool = False
    all_prompt_logits: bool = False
    serving_engine: bool = True
    eager: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.prefix_hit < 1.0:
            raise ValueError(f"prefix_hit must be in [0, 1), got {self.prefix_hit}")
        if self.kv_bytes <= 0 or self.act_bytes <= 0:
            raise ValueError("kv_bytes and act_bytes must be positive")
