"""What is known about the largest validation errors, for the report's table of them.

Each entry matches case id prefixes (and, where given, one metric) and says what the model
lacks or where the sources disagree; the text follows docs/training-model.md and
docs/inference-model.md ("Known limits"). An error no entry matches is "not diagnosed yet".
"""

from __future__ import annotations

# Models of the NeMo/Megatron-Bridge performance tables that have GB300 rows.
GB300_MODELS = (
    "llama3-8b",
    "llama3-70b",
    "llama3-405b",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "deepseek-v3",
)

# (case id prefixes, metric or None for any, diagnosis)
DIAGNOSES: tuple[tuple[tuple[str, ...], str | None, str], ...] = (
    (
        ("mindspeed-llm-mixtral", "mindspeed-llm-mfu-mixtral"),
        None,
        "MoE on Ascend 910B at 32K: expert compute on CANN is charged as dense GEMMs and the "
        "910B's attention and collective factors are estimates",
    ),
    (
        ("mindspeed-llm-mistral-7b-910bx8-32k",),
        None,
        "32K context with a 4,096-token window on Ascend 910B: the 910B's fused-attention "
        "factor is an estimate (no public CANN measurement)",
    ),
    (
        ("trtllm-perf-2023-v061",),
        None,
        "TensorRT-LLM v0.6.1's masked MHA reads a GQA group's K and V once per query head; "
        "modelled with no L2 reuse, which overshoots (15-20% slow where it was 66-88% fast)",
    ),
    (
        ("amd-rocm-inference-blog-h100",),
        None,
        "AMD's own H100 TensorRT-LLM runs sit 25-33% below NVIDIA's published numbers for the "
        "same configurations (the sources disagree)",
    ),
    (
        ("amd-rocm-inference",),
        None,
        "vLLM on MI300X at the searched batch (1,500-3,600 sequences): per-sequence host work "
        "of vLLM's V0 engine and decode attention on long paged caches are not modelled",
    ),
    (
        ("nvidia-nemo-perf-qwen3-235b-a22b-b200",),
        None,
        "the B200 recipe of that release runs NCCL all-to-all without CUDA graphs (GB200: "
        "HybridEP with graphs); training has no dispatcher or graph dimension",
    ),
    (
        ("nvidia-nemo-perf-llama3-405b-gb200x128-fp8cs",),
        None,
        "the recipe offloads 92 of 126 layers' activations to Grace memory; the model hides "
        "the copies behind compute at 225 GB/s per GPU, and the Grace memory two GPUs share "
        "is not modelled",
    ),
    (
        tuple(f"nvidia-nemo-perf-{model}-gb300" for model in GB300_MODELS),
        None,
        "GB300 runs 12-31% faster than GB200 on the same recipes, but the catalog gives it "
        "GB200's dense peaks: its 1,400 W power and Blackwell Ultra's faster attention "
        "exponentials are not modelled",
    ),
    (
        ("nvidia-nemo-perf-deepseek-v3-h100x1024",),
        None,
        "all-to-all across H100 nodes is too slow: HybridEP's NVLink forwarding is not modelled",
    ),
    (
        ("trtllm-pergpu-h200x8-deepseek-r1",),
        None,
        "MoE decode at large batch: expert GEMMs at a few tokens each, routing and imbalance "
        "are not modelled",
    ),
    (
        ("torchtitan-2024",),
        "memory_gb",
        "torchtitan prints the caching allocator's peak reservation, not live tensors, and "
        "the 2024 and 2025 runs of the same 8B setup disagree by about 25% on it",
    ),
)


def diagnosis(case_id: str, metric: str) -> str:
    """The first diagnosis whose prefix (and metric, if it names one) matches."""
    for prefixes, only_metric, text in DIAGNOSES:
        if case_id.startswith(prefixes) and only_metric in (None, metric):
            return text
    return "not diagnosed yet"
