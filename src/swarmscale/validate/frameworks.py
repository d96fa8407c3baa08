"""What a case's framework implies about the kernels it ran, where the case does not say.

Attention: frameworks built on the chip vendor's tuned fused attention run it at the chip's
`attention_tuned_gain` over FlashAttention-2-class kernels (a gain above one only where one is
catalogued, Hopper today); plain PyTorch stacks (SDPA's flash backend) do not.
"""

from __future__ import annotations

from swarmscale.catalog.schemas import Case

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


def tuned_attention(case: Case) -> bool:
    """The case's own `software.tuned_attention`, else what its framework implies."""
    if case.software.tuned_attention is not None:
        return case.software.tuned_attention
    return case.framework in TUNED_ATTENTION
