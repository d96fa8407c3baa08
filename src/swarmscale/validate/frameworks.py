"""What a case's framework implies about the kernels and schedules it ran, where the case does
not say.

Attention: frameworks built on the chip vendor's tuned fused attention run it at the chip's
`attention_tuned_gain` over FlashAttention-2-class kernels (a gain above one only where one is
catalogued, Hopper today); plain PyTorch stacks (SDPA's flash backend) do not.
"""

from __future__ import annotations

from swarmscale.catalog.schemas import Case
from swarmscale.perf.plans import SCHEDULES, Schedule

# Framework -> why its attention is the vendor-tuned kind.
TUNED_ATTENTION: dict[str, str] = {
    "trtllm": "TensorRT-LLM's own fused multi-head attention kernels per GPU generation",
    "nim": "NVIDIA NIM serves LLMs through TensorRT-LLM",
    "nemo": "Transformer Engine, whose backend selection on SM90 takes cuDNN or FlashAttention-3",
    "megatron-bridge": "Transformer Engine (as NeMo)",
    "megatron-lm": "Megatron-Core with Transformer Engine (as NeMo)",
    "sglang": "SGLang's default attention backend on Hopper is FlashAttention-3 (its docs)",
    "vllm": "vLLM's FLASH_ATTN backend runs FlashAttention-3 on Hopper",
    "llm.c": "llm.c's attention is cuDNN's fused flash attention",
    "deepseek-infer": "DeepSeek's Hopper kernels (FlashMLA)",
}


# Frameworks that run DualPipe (DeepSeek-V3's schedule, arXiv:2412.19437) besides 1F1B and
# interleaving; no Megatron-LM, NeMo, DeepSpeed or torchtitan release in the corpus has it.
DUALPIPE_FRAMEWORKS: dict[str, str] = {
    "deepseek": "DeepSeek's own training framework (HAI-LLM), which introduced DualPipe",
}


def schedules(case: Case) -> tuple[Schedule, ...]:
    """Pipeline schedules the validator may choose for a case that does not fix one."""
    if case.framework in DUALPIPE_FRAMEWORKS or (case.plan or {}).get("schedule") == "dualpipe":
        return SCHEDULES
    return ("1f1b", "interleaved")


def tuned_attention(case: Case) -> bool:
    """The case's own `software.tuned_attention`, else what its framework implies."""
    if case.software.tuned_attention is not None:
        return case.software.tuned_attention
    return case.framework in TUNED_ATTENTION
