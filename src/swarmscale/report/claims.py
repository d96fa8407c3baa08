"""The seed articles' quantitative claims, each answered with the model and the catalog.

Every answer names its inputs; where the candidate chip's specs or its software stack's
efficiencies are estimates, the answer is recomputed with them at both ends of their catalog
ranges ("low" is the pessimistic end), and the verdict uses that range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from swarmscale.catalog import Catalog
from swarmscale.hardware import build_cluster
from swarmscale.plan.equiv import (
    MAX_FACTOR,
    Equivalence,
    fleet_it_power_w,
    serving_equivalence,
    training_equivalence,
)
from swarmscale.plan.serving import ServingTarget
from swarmscale.plan.swarm import batch_sequences
from swarmscale.workload import InferenceJob, TrainingJob

Verdict = Literal["holds", "does not hold", "partly holds", "undetermined"]
SEEDS = "shared/seeds/"
EQUIV_RULE = (
    "fewest candidate chips, counted one chip at a time, whose fastest plan steps at least as "
    "fast as the reference fleet on exactly its count (swarmscale equiv)"
)
SERVING = ServingTarget(rate=1.0, input_len=2000, output_len=300, ttft_s=2.0, tpot_s=0.05)


@dataclass(frozen=True)
class ClaimResult:
    """One claim, what swarmscale computes for it, and the verdict."""

    id: str
    claim: str
    seed: str
    claimed: tuple[float, float] | None
    answer: str
    value: float | None
    low: float | None
    high: float | None
    verdict: Verdict
    inputs: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    equivalences: list[Equivalence] = field(default_factory=list)


def _verdict(claimed: tuple[float, float], low: float, high: float) -> Verdict:
    """Holds when the computed range overlaps the claimed range; partly when within 25%."""
    if high >= claimed[0] and low <= claimed[1]:
        return "holds"
    if high >= claimed[0] * 0.75 and low <= claimed[1] * 1.25:
        return "partly holds"
    return "does not hold"


def _chip_ratio_verdict(
    results: list[Equivalence], claimed: tuple[float, float]
) -> tuple[float | None, float | None, Verdict]:
    """Range of the chips-per-reference-chip ratios of `results` and its verdict."""
    ratios = [r.chips_ratio for r in results if r.chips_ratio is not None]
    if not ratios:
        return None, None, "undetermined"
    low, high = min(ratios), max(ratios)
    return low, high, _verdict(claimed, low, high)


def _match(result: Equivalence, candidate: str, reference: str) -> str:
    """'108 H800 match 96 H100 (1.12x the chips, step 0.924x)', from `equiv`'s numbers."""
    if result.chips_ratio is None or result.time_ratio is None:
        return (
            f"no {candidate} count up to {MAX_FACTOR}x matches {result.reference_chips:,} "
            f"{reference}"
        )
    return (
        f"{result.candidate_chips:,} {candidate} match {result.reference_chips:,} {reference} "
        f"({result.chips_ratio:.2f}x the chips, step {result.time_ratio:.3f}x)"
    )


def _inverse_ratio(result: Equivalence) -> float | None:
    """Performance of one candidate chip relative to one reference chip."""
    ratio = result.chips_ratio
    return None if ratio is None else 1.0 / ratio


def _ranged(
    compute: Callable[[Literal["low", "high"] | None], float | None],
) -> tuple[float | None, float | None, float | None]:
    point, low, high = compute(None), compute("low"), compute("high")
    values = [v for v in (point, low, high) if v is not None]
    if not values:
        return None, None, None
    return point, min(values), max(values)


def claim_910c_inference(catalog: Catalog) -> ClaimResult:
    target = SERVING
    h100_job = InferenceJob(catalog.model("llama3-70b"), "fp8", kv_bytes=1.0)
    ascend_job = InferenceJob(catalog.model("llama3-70b"), "int8", kv_bytes=1.0)

    def ratio(bound: Literal["low", "high"] | None) -> float | None:
        return _inverse_ratio(
            serving_equivalence(
                catalog, h100_job, target, "h100-sxm", 64, "ascend-910c", ascend_job, bound
            )
        )

    point, low, high = _ranged(ratio)
    assert point is not None and low is not None and high is not None
    claimed = (0.6, 0.8)
    return ClaimResult(
        id="ascend-910c-vs-h100-inference",
        claim="Huawei's Ascend chips deliver 60-80% of an H100's performance (for inference, "
              "per the 910C figure reported from DeepSeek researchers)",
        seed=f"{SEEDS}004_e33c02d5716cd7dd.txt lines 4 and 14",
        claimed=claimed,
        answer=f"one 910C serves {point:.2f} of an H100's output tokens/s at the same SLO "
               f"(range {low:.2f}-{high:.2f})",
        value=point, low=low, high=high, verdict=_verdict(claimed, low, high),
        inputs=["Llama 3.1 70B, 2,000-token prompts, 300-token answers, TTFT <= 2 s, "
                "TPOT <= 50 ms", "H100 FP8 weights and KV cache; 910C INT8 (it has no FP8)",
                "best replica layout per chip (swarmscale serve)",
                "range: 910C peak and the CANN stack's efficiencies (estimates) at both ends"],
        sources=["chip specs: src/swarmscale/catalog/data/chips/ (910C: Zuo et al., "
                 "arXiv:2506.12708)", "H100 efficiencies measured on an H100 "
                 "(catalog/data/measurements/h100-microbench.jsonl); serving model validated "
                 "in docs/validation.md"],
    )  # fmt: skip


def claim_mlu590_a100(catalog: Catalog) -> ClaimResult:
    mlu = catalog.chip("mlu590")
    a100 = catalog.chip("a100-sxm-80gb")
    bandwidth = mlu.memory_bandwidth
    reference = a100.memory_bandwidth.require()
    low = bandwidth.low / reference if bandwidth.low is not None else None
    high = bandwidth.high / reference if bandwidth.high is not None else None
    bracket = (
        f"its memory bandwidth, which bounds decode throughput, is {low:.2f}-{high:.2f} "
        "of an A100's"
        if low is not None and high is not None
        else ""
    )
    return ClaimResult(
        id="mlu590-vs-a100",
        claim="Cambricon's MLU590, sold as an A100 replacement, reaches 60-80% of NVIDIA's "
              "chip",
        seed=f"{SEEDS}004_e33c02d5716cd7dd.txt lines 4 and 17",
        claimed=(0.6, 0.8),
        answer="cannot be checked: no reliable public MLU590 compute figure exists (the "
               f"catalog marks it unknown); {bracket}",
        value=None, low=low, high=high, verdict="undetermined",
        inputs=["MLU590 catalog entry: peak compute unknown, memory bandwidth 1.23 or 2.4 TB/s "
                "in conflicting low-reliability sources", "A100 80GB: 2.04 TB/s (vendor)"],
        sources=["shared/reference/chips-and-runs.md Table 1 and note 4"],
    )  # fmt: skip


def _training_claim(catalog: Catalog, chips: int, batch_tokens: float) -> Equivalence:
    seq = 4096
    job = TrainingJob(catalog.model("llama3-70b"), seq, batch_sequences(batch_tokens, seq))
    return training_equivalence(
        catalog, job, "h100-sxm", chips, "h800-sxm", "hgx-h100-8", "hgx-h800-8"
    )


def claim_h800_vs_h100(catalog: Catalog) -> ClaimResult:
    small = _training_claim(catalog, 96, 4e6)
    large = _training_claim(catalog, 10240, 16e6)
    claimed = (30.0, 40.0)
    low, high, verdict = _chip_ratio_verdict([small, large], claimed)
    return ClaimResult(
        id="h800-vs-h100-training",
        claim="A US firm needing 100 H100 to train a large model means a Chinese firm needs "
              "3,000+ H800 for the same result",
        seed=f"{SEEDS}001_8cfa8beb3592a07e.txt line 68",
        claimed=claimed,
        answer=f"{_match(small, 'H800', 'H100')} and {_match(large, 'H800', 'H100')}: same "
               "die and HBM, only NVLink is cut (400 vs 900 GB/s)",
        value=small.chips_ratio, low=low, high=high, verdict=verdict,
        inputs=["Llama 3.1 70B, 4,096-token sequences; 4M-token batches at 96 chips, 16M at "
                "10,240", "HGX H100 vs HGX H800 (DeepSeek's 50 GB/s InfiniBand per GPU)",
                EQUIV_RULE],
        sources=["H800 specs: Epoch AI; Reuters (May 2023); DeepSeek-V3 report "
                 "arXiv:2412.19437", "training model validated in docs/validation.md"],
        equivalences=[small, large],
    )  # fmt: skip


def claim_combining_older_chips(catalog: Catalog) -> ClaimResult:
    seq = 4096
    job = TrainingJob(catalog.model("llama3-70b"), seq, 1024)
    a800 = training_equivalence(catalog, job, "h100-sxm", 128, "a800-sxm", "hgx-h100-8")
    h800 = training_equivalence(catalog, job, "b200", 128, "h800-sxm", "hgx-b200-8", "hgx-h800-8")
    claimed = (3.0, 4.0)
    low, high, verdict = _chip_ratio_verdict([a800, h800], claimed)
    return ClaimResult(
        id="older-chips-per-top-chip",
        claim="Chinese firms simulate combining 3-4 older chips (A800, H800) to match one of "
              "NVIDIA's most advanced chips",
        seed=f"{SEEDS}001_8cfa8beb3592a07e.txt line 68",
        claimed=claimed,
        answer=f"{_match(a800, 'A800', 'H100')} and {_match(h800, 'H800', 'B200')} training "
               "Llama 3.1 70B",
        value=a800.chips_ratio, low=low, high=high, verdict=verdict,
        inputs=["Llama 3.1 70B, 1,024 sequences of 4,096 tokens per step, 128 reference chips",
                "A800 (A100 die, 400 GB/s NVLink) vs H100; H800 vs B200 (HGX B200)", EQUIV_RULE],
        sources=["chip specs: Epoch AI, NVIDIA datasheets (catalog)",
                 "A100-class efficiency fitted on Megatron-LM runs (docs/validation.md)"],
        equivalences=[a800, h800],
    )  # fmt: skip


def claim_cloudmatrix_vs_nvl72(catalog: Catalog) -> ClaimResult:
    cm = catalog.system("cloudmatrix-384")
    nvl = catalog.system("gb200-nvl72")
    cm_chip, nvl_chip = catalog.chip(cm.chip), catalog.chip(nvl.chip)
    compute = (cm.chips_per_unit * cm_chip.peak_flops("bf16")) / (
        nvl.chips_per_unit * nvl_chip.peak_flops("bf16")
    )
    memory = (cm.chips_per_unit * cm_chip.memory.require()) / (
        nvl.chips_per_unit * nvl_chip.memory.require()
    )
    power = fleet_it_power_w(
        build_cluster(catalog, cm.chip, cm.chips_per_unit, cm.id), cm.chips_per_unit
    ) / fleet_it_power_w(
        build_cluster(catalog, nvl.chip, nvl.chips_per_unit, nvl.id), nvl.chips_per_unit
    )
    per_watt = compute / power
    return ClaimResult(
        id="cloudmatrix-384-vs-gb200-nvl72",
        claim="Huawei clusters Ascend chips to beat NVIDIA's systems, using more power "
              "(CloudMatrix 384 against GB200 NVL72)",
        seed=f"{SEEDS}004_e33c02d5716cd7dd.txt line 14; {SEEDS}003_b81ec481ab823056.txt line 69",
        claimed=None,
        answer=f"one CloudMatrix 384 has {compute:.2f}x the BF16 compute and {memory:.2f}x the "
               f"HBM of a GB200 NVL72, drawing {power:.2f}x the power: {per_watt:.2f}x the "
               "compute per watt",
        value=compute, low=None, high=None,
        verdict="holds" if compute > 1 and power > 1 else "does not hold",
        inputs=[f"CloudMatrix 384: 384 x 910C at {cm_chip.peak_flops('bf16') / 1e12:.0f} TFLOPS,"
                f" {cm.power_per_unit.require() / 1e3:.0f} kW",
                f"GB200 NVL72: 72 x GB200 at {nvl_chip.peak_flops('bf16') / 1e12:.0f} TFLOPS, "
                f"{nvl.power_per_unit.require() / 1e3:.0f} kW"],
        sources=[cm.power_per_unit.source, nvl.power_per_unit.source,
                 "SemiAnalysis, Huawei AI CloudMatrix 384 (2025-04-16)"],
    )  # fmt: skip


def claim_swarm(catalog: Catalog) -> ClaimResult:
    seq = 8192
    job = TrainingJob(catalog.model("llama3-405b"), seq, 2048)
    result = training_equivalence(
        catalog, job, "h100-sxm", 16384, "ascend-910c", "hgx-h100-8", "cloudmatrix-384"
    )
    power = result.power_ratio
    return ClaimResult(
        id="swarm-matches-top-nvidia",
        claim="Huawei's swarm strategy ties up to a million chips together to match NVIDIA's "
              "best systems, at the cost of more power",
        seed=f"{SEEDS}003_b81ec481ab823056.txt line 69",
        claimed=None,
        answer=f"{_match(result, '910C (CloudMatrix 384)', 'H100')} training Llama 3.1 405B"
               + (f", drawing {power:.2f}x the IT power" if power else ""),
        value=result.chips_ratio, low=None, high=None,
        verdict="holds" if result.candidate_chips and power and power > 1 else "undetermined",
        inputs=["Llama 3.1 405B, 2,048 sequences of 8,192 tokens per step",
                "16,384 H100 in HGX nodes vs 910C in CloudMatrix 384 supernodes", EQUIV_RULE,
                "power: IT power of each fleet, hosts and network included (system power "
                "shared per chip)",
                "swarmscale swarm shows goodput under failures at up to 1,000,000 chips"],
        sources=["910C: arXiv:2506.12708; CloudMatrix power: SemiAnalysis (559 kW)",
                 "CANN efficiencies are estimates (catalog/data/efficiency/stacks.yaml)"],
        equivalences=[result],
    )  # fmt: skip


CLAIMS: tuple[Callable[[Catalog], ClaimResult], ...] = (
    claim_910c_inference,
    claim_mlu590_a100,
    claim_h800_vs_h100,
    claim_combining_older_chips,
    claim_cloudmatrix_vs_nvl72,
    claim_swarm,
)


def evaluate_claims(catalog: Catalog) -> list[ClaimResult]:
    return [claim(catalog) for claim in CLAIMS]


def claims_markdown(results: list[ClaimResult], command: str) -> str:
    lines = [
        "# The articles' claims, checked",
        "",
        f"Generated by `{command}` (`make docs`); do not edit by hand. Each number traces to",
        "the catalog (`src/swarmscale/catalog/data/`) and the validated models",
        "(`docs/validation.md`). Ranges move the candidate chip's estimated specs and its",
        "software stack's estimated efficiencies to both ends of their catalog ranges.",
        "",
        "| claim | claimed | swarmscale | verdict |",
        "|---|---|---|---|",
    ]
    for r in results:
        claimed = "-" if r.claimed is None else f"{r.claimed[0]:g}-{r.claimed[1]:g}"
        lines.append(f"| {r.id} | {claimed} | {r.answer} | **{r.verdict}** |")
    for r in results:
        lines += [
            "",
            f"## {r.id}",
            "",
            f"**Claim** ({r.seed}): {r.claim}.",
            "",
            f"**Answer**: {r.answer}. Verdict: **{r.verdict}**.",
            "",
            "Inputs:",
            "",
        ]
        lines += [f"- {item}" for item in r.inputs]
        lines += ["", "Sources:", ""]
        lines += [f"- {item}" for item in r.sources]
    return "\n".join(lines) + "\n"
