"""Typed, validated records of the catalog: sourced quantities, chips, systems, models, facts.

Every number a prediction may use is a `Quantity`: a value in the internal unit, the source it
comes from, what kind of source that is, and an optional (low, high) range where sources
disagree. A value of `None` means "unknown" and must say why in `note`; a spec key that is
absent means the chip has no such feature (for example no FP8 unit).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from swarmscale.catalog.units import CANONICAL_UNIT, to_si
from swarmscale.limits import (
    MAX_BATCH_TOKENS,
    MAX_BUDGET_USD,
    MAX_CARBON_G_PER_KWH,
    MAX_CHIPS,
    MAX_DEADLINE_DAYS,
    MAX_DRAWS,
    MAX_ENERGY_PRICE,
    MAX_GLOBAL_BATCH,
    MAX_GRID_POINTS,
    MAX_HOURS,
    MAX_OUTPUT,
    MAX_POWER_MW,
    MAX_PRICE_USD,
    MAX_PROMPT,
    MAX_PUE,
    MAX_RATE,
    MAX_SEQ,
    MAX_SITES,
    MAX_SWEEP_EVALUATIONS,
    MAX_TOKENS,
)

SourceKind = Literal["vendor", "paper", "measured", "estimate"]
Precision = Literal["fp32", "tf32", "bf16", "fp8", "fp4", "int8", "int4"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "tf32", "bf16", "fp8", "fp4", "int8", "int4")

ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]*$"
DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"
CatalogId = Annotated[str, Field(pattern=ID_PATTERN)]
PartialDate = Annotated[str, Field(pattern=DATE_PATTERN)]
# Architecture sizes: bounded so that plan enumeration (divisors of layers, heads) stays small.
Layers = Annotated[int, Field(gt=0, le=10_000)]
Heads = Annotated[int, Field(gt=0, le=10_000)]
Width = Annotated[int, Field(gt=0, le=10_000_000)]
Vocab = Annotated[int, Field(gt=0, le=100_000_000)]


class Frozen(BaseModel):
    """Base of every catalog record: immutable, unknown keys are errors, numbers are finite."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Quantity(Frozen):
    """A sourced number in the internal unit of its dimension (see `units.py`)."""

    value: float | None
    unit: str
    kind: SourceKind
    source: str = Field(min_length=3)
    low: float | None = None
    high: float | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _check_range(self) -> Quantity:
        if self.value is None and not self.note:
            raise ValueError("an unknown value (null) must say why in 'note'")
        for name, number in (("value", self.value), ("low", self.low), ("high", self.high)):
            if number is not None and number < 0:
                raise ValueError(f"{name} must not be negative, got {number}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        if self.value is not None:
            if self.low is not None and self.value < self.low:
                raise ValueError(f"value ({self.value}) is below low ({self.low})")
            if self.high is not None and self.value > self.high:
                raise ValueError(f"value ({self.value}) is above high ({self.high})")
        return self

    @property
    def known(self) -> bool:
        return self.value is not None

    def require(self) -> float:
        """The point value; raise when the catalog marks it unknown."""
        if self.value is None:
            raise UnknownValueError(self.note or "unknown")
        return self.value

    def at(self, bound: Literal["low", "high"] | None) -> Quantity:
        """This quantity moved to one end of its range (unchanged without a range or bound)."""
        if bound is None or self.value is None:
            return self
        end = self.low if bound == "low" else self.high
        return self if end is None else self.model_copy(update={"value": end})

    @property
    def range(self) -> tuple[float, float] | None:
        """(low, high) with missing ends filled by the point value; None when unknown."""
        if self.value is None:
            return None
        low = self.low if self.low is not None else self.value
        high = self.high if self.high is not None else self.value
        return (low, high)


class UnknownValueError(ValueError):
    """A computation needed a catalog number that its source table marks unknown."""


def _parse_quantity(dimension: str, raw: Any) -> Any:
    """Turn a YAML mapping with a display unit into a `Quantity` in the internal unit."""
    if isinstance(raw, Quantity):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(
            f"expected a mapping with value, unit, kind and source, got {type(raw).__name__}"
        )
    if "unit" not in raw:
        raise ValueError("missing 'unit'")
    unit = raw["unit"]
    converted = dict(raw)
    for key in ("value", "low", "high"):
        number = raw.get(key)
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"{key} must be a number, got {number!r}")
        converted[key] = to_si(float(number), str(unit), dimension)
    converted["unit"] = CANONICAL_UNIT[dimension]
    return converted


Flops = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "flops"))]
Bytes = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "bytes"))]
Bandwidth = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "bandwidth"))]
Power = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "power"))]
Money = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "money"))]
MoneyRate = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "money_rate"))]
Count = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "count"))]
Fraction = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "fraction"))]
Seconds = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "time"))]
Ratio = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "ratio"))]
FailureRate = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "rate"))]
EnergyPrice = Annotated[Quantity, BeforeValidator(partial(_parse_quantity, "energy_price"))]


class PeakCompute(Frozen):
    """Peak dense (no sparsity) throughput per precision. A missing key: no such unit."""

    fp32: Flops | None = None
    tf32: Flops | None = None
    bf16: Flops | None = None
    fp8: Flops | None = None
    fp4: Flops | None = Field(default=None, description="NVFP4 / MXFP4 tensor cores (Blackwell)")
    int8: Flops | None = None
    int4: Flops | None = None


class Chip(Frozen):
    """One accelerator package (a GB200 entry is one Blackwell GPU, a 910C is two dies)."""

    id: CatalogId
    name: str
    vendor: str
    design_country: str = Field(pattern=r"^[A-Z]{2}$")
    fab_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    foundry: str | None = None
    process_node: str | None = None
    launch_date: PartialDate
    software_stack: str
    form_factor: str | None = None
    market: Literal["global", "china-export", "china-domestic", "us-only"]
    peak: PeakCompute
    memory: Bytes
    memory_bandwidth: Bandwidth
    scale_up_bandwidth: Bandwidth = Field(
        description="per-chip scale-up bandwidth, both directions added, as vendors quote it"
    )
    scale_up_domain: Count
    scale_out_bandwidth: Bandwidth = Field(description="per-chip scale-out NIC line rate")
    host_bandwidth: Bandwidth | None = Field(
        default=None,
        description="per-chip link to host memory, one direction (PCIe, or NVLink-C2C to Grace); "
        "what activation offloading moves over",
    )
    tdp: Power
    price: Money
    rent: MoneyRate | None = None
    aliases: tuple[str, ...] = ()
    same_silicon_as: CatalogId | None = Field(
        default=None,
        description="a chip with the same die and clocks (an export variant with cut links, or "
        "a memory variant): kernel efficiencies fitted or measured on either apply to both",
    )
    notes: str | None = None

    @property
    def silicon(self) -> str:
        """The chip id whose kernel measurements describe this chip's die."""
        return self.same_silicon_as or self.id

    def at(self, bound: Literal["low", "high"] | None) -> Chip:
        """The chip with peaks and memory bandwidth at one end of their catalog ranges."""
        if bound is None:
            return self
        peak = self.peak.model_copy(
            update={
                name: getattr(self.peak, name).at(bound)
                for name in PRECISIONS
                if getattr(self.peak, name) is not None
            }
        )
        return self.model_copy(
            update={"peak": peak, "memory_bandwidth": self.memory_bandwidth.at(bound)}
        )

    def peak_flops(self, precision: Precision) -> float:
        """Peak dense FLOP/s at `precision`; raises when the chip lacks it or it is unknown."""
        quantity = getattr(self.peak, precision)
        if quantity is None:
            raise UnknownValueError(f"{self.id} has no {precision} unit")
        value: float = quantity.require()
        return value


class System(Frozen):
    """A scale-up unit: chips joined by one high-bandwidth domain (NVLink, HCCS, UB)."""

    id: CatalogId
    name: str
    vendor: str
    source: str = Field(min_length=3, description="source of the counts and topology")
    chip: CatalogId
    chips_per_unit: int = Field(gt=0)
    topology: Literal["switched", "full-mesh", "ring", "torus-2d", "torus-3d"]
    scale_up_bandwidth_per_chip: Bandwidth
    scale_out_bandwidth_per_chip: Bandwidth
    power_per_unit: Power
    price_per_unit: Money | None = None
    racks_per_unit: Ratio | None = Field(
        default=None, description="racks one unit fills, network racks included"
    )
    launch_date: PartialDate
    notes: str | None = None


class MoE(Frozen):
    """Mixture-of-experts layout of the feed-forward blocks."""

    experts: int = Field(gt=1)
    active_experts: int = Field(gt=0)
    shared_experts: int = Field(default=0, ge=0)
    expert_ffn_hidden: int = Field(gt=0)
    dense_layers: int = Field(default=0, ge=0, description="leading layers with a dense FFN")
    dense_ffn_hidden: int | None = Field(default=None, gt=0)
    routed_node_limit: int | None = Field(
        default=None, gt=0, description="most nodes one token's experts may span (DeepSeek-V3: 4)"
    )

    @model_validator(mode="after")
    def _check(self) -> MoE:
        if self.active_experts > self.experts:
            raise ValueError("active_experts exceeds experts")
        if self.dense_layers and self.dense_ffn_hidden is None:
            raise ValueError("dense_layers needs dense_ffn_hidden")
        return self


class MLA(Frozen):
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank compressed queries and KV."""

    q_lora_rank: int | None = Field(default=None, gt=0)
    kv_lora_rank: int = Field(gt=0)
    qk_nope_head_dim: int = Field(gt=0)
    qk_rope_head_dim: int = Field(gt=0)
    v_head_dim: int = Field(gt=0)


class PublishedCount(Frozen):
    """A parameter count as its authors printed it, with the rounding they used."""

    value: float = Field(gt=0)
    source: str = Field(min_length=3)
    kind: SourceKind
    significant_digits: int | None = Field(
        default=None, gt=0, description="digits printed; sets the rounding tolerance"
    )


class Model(Frozen):
    """A transformer architecture with enough detail to count FLOPs, bytes and parameters."""

    id: CatalogId
    name: str
    family: Literal["dense", "moe"]
    source: str = Field(min_length=3)
    layers: Layers
    d_model: Width
    heads: Heads
    kv_heads: Heads
    head_dim: Width | None = None
    ffn_hidden: Width
    vocab: Vocab
    activation: Literal["gelu", "swiglu"]
    norm: Literal["layernorm", "rmsnorm"] = "rmsnorm"
    position: Literal["rope", "learned", "alibi"] = "rope"
    linear_bias: bool = False
    tied_embeddings: bool = False
    max_seq_len: int = Field(gt=0)
    sliding_window: Width | None = Field(
        default=None,
        description="tokens each query attends in every layer, itself included (Mistral 7B: "
        "4096); unset: the whole causal prefix",
    )
    moe: MoE | None = None
    mla: MLA | None = None
    mtp_layers: int = Field(default=0, ge=0, description="multi-token-prediction modules")
    published_total_params: PublishedCount | None = None
    published_active_params: PublishedCount | None = None
    aliases: tuple[str, ...] = ()
    notes: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Model:
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads")
        if (self.family == "moe") != (self.moe is not None):
            raise ValueError("family 'moe' needs a 'moe' block, and only it may have one")
        if self.head_dim is None and self.d_model % self.heads:
            raise ValueError("d_model is not a multiple of heads; give head_dim")
        return self

    @property
    def attention_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.d_model // self.heads


class ExportControl(Frozen):
    """A dated rule that restricts where a chip may go (or be used)."""

    id: CatalogId
    date: dt.date
    authority: str = Field(pattern=r"^[A-Z]{2}$", description="country issuing the rule")
    action: Literal["export-license-required", "export-banned", "entity-list", "discouraged"]
    applies_to: tuple[CatalogId, ...] = Field(min_length=1)
    destinations: tuple[str, ...] = Field(min_length=1)
    summary: str
    source: str = Field(min_length=3)
    kind: SourceKind

    @field_validator("destinations")
    @classmethod
    def _country_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if code != "*" and not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"destination {code!r} is not a two-letter country code or '*'")
        return value


class PriceFact(Frozen):
    """A dated price observation; chips keep their current point estimate in `Chip.price`."""

    chip: CatalogId
    date: PartialDate
    what: Literal["purchase", "rent"]
    price: Quantity
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse_price(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("price"), dict):
            dimension = "money_rate" if data.get("what") == "rent" else "money"
            data = {**data, "price": _parse_quantity(dimension, data["price"])}
        return data


# Efficiency factors that are fractions of a datasheet peak. All but gemm_memory are capped at
# one: a memory-bound GEMM can beat the HBM datasheet when its weights sit in a large L2.
FRACTION_FACTORS = (
    "gemm", "gemm_fp8", "gemm_fp4", "attention", "memory", "gemm_memory", "scale_up",
    "scale_out", "all_to_all", "training_sustained", "serving_sustained",
)  # fmt: skip


def _check_fractions(entry: BaseModel) -> None:
    """A fraction of peak is above zero (zero would make every kernel take forever) and, but
    for gemm_memory, at most one."""
    for name in FRACTION_FACTORS:
        quantity = getattr(entry, name)
        if quantity is None or quantity.value is None:
            continue
        if quantity.value <= 0:
            raise ValueError(f"{name}: a fraction of peak must be above 0, got {quantity.value}")
        if name != "gemm_memory" and quantity.value > 1:
            raise ValueError(f"{name}: a fraction of peak cannot exceed 1, got {quantity.value}")
    gain = getattr(entry, "attention_tuned_gain", None)
    if gain is not None and gain.value is not None and not 1.0 <= gain.value <= 4.0:
        raise ValueError(
            f"attention_tuned_gain: a tuned kernel's speed-up must be from 1 to 4, got {gain.value}"
        )


class Efficiency(Frozen):
    """How much of a chip's peak one software stack reaches, factor by factor.

    Each factor is a fraction of a datasheet peak (or an overhead in seconds), named after the
    kernel family it describes, with the measurement or fit it came from. Catalog entries are
    layered: `default`, then the chip's software stack, then the chip id; each layer may give
    only the factors it knows (see `EfficiencyEntry`).
    """

    applies_to: str = Field(min_length=2, description="the most specific layer used")
    gemm: Fraction = Field(description="large bf16/fp16 GEMM throughput / peak")
    gemm_fp8: Fraction = Field(description="large fp8 GEMM / fp8 peak")
    gemm_fp4: Fraction = Field(description="large block-scaled fp4 (NVFP4, MXFP4) GEMM / fp4 peak")
    attention: Fraction = Field(
        description="fused attention throughput / bf16 peak at long sequences and head dim 128, "
        "as FlashAttention-2-class kernels (PyTorch SDPA's flash backend) reach it"
    )
    attention_tuned_gain: Ratio = Field(
        description="how much faster the chip's vendor-tuned fused attention runs than "
        "`attention` (cuDNN through Transformer Engine, TensorRT-LLM, FlashAttention-3 on Hopper)"
    )
    memory: Fraction = Field(description="streaming kernel bandwidth / datasheet bandwidth")
    gemm_memory: Fraction = Field(description="bandwidth a memory-bound GEMM reaches / datasheet")
    scale_up: Fraction = Field(description="collective bus bandwidth / per-direction link rate")
    scale_out: Fraction = Field(description="collective bus bandwidth / NIC line rate")
    all_to_all: Fraction = Field(description="all-to-all bandwidth / bus bandwidth of a ring")
    kernel_overhead: Seconds = Field(description="fixed launch and host cost per kernel")
    graph_kernel_overhead: Seconds = Field(
        description="cost per kernel replayed inside a captured CUDA/HIP graph (serving decode)"
    )
    scale_up_latency: Seconds
    scale_out_latency: Seconds
    serving_step_overhead: Seconds = Field(
        description="fixed host cost of one serving iteration: scheduling, sampling, batching"
    )
    training_sustained: Fraction = Field(
        description="share of the kernel benchmarks' tensor-core rate a whole training step "
        "sustains (clocks under a step's power draw, backward layouts, SMs lent to overlapped "
        "communication): fitted on the training validation cases"
    )
    serving_sustained: Fraction = Field(
        description="the same share for a serving step, which runs forward GEMMs only, with "
        "no backward layouts and no overlapped gradient traffic: fitted on the serving "
        "validation cases"
    )

    def at(self, bound: Literal["low", "high"] | None) -> Efficiency:
        """Every fraction of peak at one end of its range: "low" is the pessimistic stack."""
        if bound is None:
            return self
        return self.model_copy(
            update={name: getattr(self, name).at(bound) for name in FRACTION_FACTORS}
        )

    @model_validator(mode="after")
    def _fractions_in_range(self) -> Efficiency:
        _check_fractions(self)
        return self


# Every factor an efficiency layer resolves, in the order `Efficiency` declares them.
EFFICIENCY_FACTORS = tuple(name for name in Efficiency.model_fields if name != "applies_to")


class EfficiencyEntry(Frozen):
    """One layer of efficiency factors as written in the catalog; unset factors inherit."""

    applies_to: str = Field(min_length=2, description="'default', a software stack or a chip id")
    gemm: Fraction | None = None
    gemm_fp8: Fraction | None = None
    gemm_fp4: Fraction | None = None
    attention: Fraction | None = None
    attention_tuned_gain: Ratio | None = None
    memory: Fraction | None = None
    gemm_memory: Fraction | None = None
    scale_up: Fraction | None = None
    scale_out: Fraction | None = None
    all_to_all: Fraction | None = None
    kernel_overhead: Seconds | None = None
    graph_kernel_overhead: Seconds | None = None
    scale_up_latency: Seconds | None = None
    scale_out_latency: Seconds | None = None
    serving_step_overhead: Seconds | None = None
    training_sustained: Fraction | None = None
    serving_sustained: Fraction | None = None
    fitted: tuple[str, ...] = Field(
        default=(), description="factors of this entry fitted on the fit-split cases"
    )
    notes: str | None = None

    @model_validator(mode="after")
    def _fitted_are_given(self) -> EfficiencyEntry:
        _check_fractions(self)
        for factor in self.fitted:
            if factor not in EFFICIENCY_FACTORS or getattr(self, factor) is None:
                raise ValueError(f"fitted factor {factor!r} is not set in this entry")
        return self


MeasurementPart = Literal[
    "copy", "launch", "gemm", "attention", "train_step", "decode_step", "prefill"
]  # fmt: skip


class Measurement(Frozen):
    """One timed kernel or step on a real device: the median of repeated, warmed-up runs.

    `shape` holds the integers that define the work (m, k, n for a GEMM; batch, heads, lengths
    for attention and model steps); `flops` and `bytes` are what the work does, so rates can be
    recomputed from the raw time. A source that published only a bandwidth, not the size it
    moved, gives `bytes_per_s` instead of `seconds` and `bytes`."""

    part: MeasurementPart
    dtype: Literal["fp32", "bf16", "fp16", "fp8"] = "bf16"
    shape: dict[str, int] = Field(default_factory=dict)
    seconds: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="median time of one run"
    )
    flops: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    bytes: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    bytes_per_s: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="only when no time was published"
    )
    repeats: int = Field(default=1, ge=1)
    spread: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="(p90 - p10) / median of the runs"
    )

    @model_validator(mode="after")
    def _time_or_rate(self) -> Measurement:
        if (self.seconds is None) == (self.bytes_per_s is None):
            raise ValueError("seconds: give exactly one of 'seconds' or 'bytes_per_s'")
        return self

    @property
    def flops_per_s(self) -> float | None:
        if self.flops is None or self.seconds is None:
            return None
        return self.flops / self.seconds

    @property
    def bandwidth(self) -> float | None:
        """Bytes per second moved, measured or as published."""
        if self.bytes_per_s is not None:
            return self.bytes_per_s
        if self.bytes is None or self.seconds is None:
            return None
        return self.bytes / self.seconds


class DeviceProfile(Frozen):
    """Efficiencies measured on one real device, with the raw measurements they came from.

    A profile is the top layer of `Catalog.efficiency_for` for its chip: it replaces the
    datasheet-derived estimates wherever it measured a factor and inherits the rest."""

    id: CatalogId
    chip: CatalogId
    device_name: str = Field(min_length=2, description="as the driver reports it")
    measured_on: PartialDate | None = Field(
        default=None, description="date of the measurements; null when the source gives none"
    )
    created_on: PartialDate = Field(description="date this profile was written")
    software: dict[str, str] = Field(default_factory=dict, description="torch, CUDA, driver")
    source: str = Field(min_length=3, description="who measured, with what command")
    efficiency: EfficiencyEntry
    measurements: tuple[Measurement, ...] = Field(min_length=1)
    notes: str | None = None

    @model_validator(mode="after")
    def _efficiency_is_for_this_chip(self) -> DeviceProfile:
        if self.efficiency.applies_to != self.chip:
            raise ValueError(
                f"efficiency: applies_to is {self.efficiency.applies_to!r}; "
                f"a profile's efficiency applies to its chip {self.chip!r}"
            )
        return self


class Assumptions(Frozen):
    """Defaults for energy and cost that are not properties of a chip; each one sourced."""

    id: CatalogId
    pue: Ratio = Field(description="facility power / IT power")
    energy_price: EnergyPrice
    amortisation: Seconds = Field(description="service life over which a purchase is spread")
    host_overhead: Fraction = Field(
        description="host, NIC and switch power as a fraction of chip TDP, used when no system "
        "with a measured unit power is known"
    )
    chip_load: Fraction = Field(description="average chip power during training / TDP")
    rack_power: Power = Field(description="IT power one rack takes, for floor space")
    failure_rate: FailureRate = Field(description="job-interrupting failures per chip-hour")
    checkpoint_write: Seconds = Field(description="time a synchronous checkpoint stalls training")
    restart: Seconds = Field(description="time from a failure to training again, lost work aside")
    fabric: tuple[FabricTier, ...] = Field(
        min_length=1, description="scale-out network tiers, innermost first"
    )
    mtp_acceptance: Fraction = Field(
        description="share of multi-token-prediction draft tokens the target model accepts"
    )


class FabricTier(Frozen):
    """One tier of a Clos scale-out network: it joins up to `chips` chips, and traffic that
    crosses it shares its uplinks at `oversubscription` (1 = full bisection)."""

    name: str
    chips: Count
    oversubscription: Ratio
    latency: Seconds


TRAINING_METRICS = (
    "mfu", "hfu", "tflops_per_chip", "hw_tflops_per_chip", "tokens_per_s",
    "tokens_per_s_per_chip", "step_seconds", "chip_hours", "memory_gb",
)  # fmt: skip
INFERENCE_METRICS = ("tokens_per_s", "tokens_per_s_per_chip", "ttft_s", "tpot_s")
# memory_gb: peak device memory per chip as the source reports it (allocated or reserved), GB.
Metric = Literal[
    "mfu", "hfu", "tflops_per_chip", "hw_tflops_per_chip", "tokens_per_s",
    "tokens_per_s_per_chip", "step_seconds", "chip_hours", "memory_gb", "ttft_s", "tpot_s",
]  # fmt: skip


class InlineArchitecture(Frozen):
    """A model given in a case file rather than by catalog id."""

    layers: Layers
    d_model: Width
    heads: Heads
    kv_heads: Heads
    ffn_hidden: Width
    vocab: Vocab
    activation: Literal["gelu", "swiglu"]
    tied_embeddings: bool = False
    head_dim: Width | None = None
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    position: Literal["rope", "learned", "alibi"] = "learned"
    linear_bias: bool = False
    sliding_window: Width | None = Field(
        default=None, description="tokens each query attends, as in a catalog model"
    )
    moe: MoE | None = Field(default=None, description="experts, as in a catalog MoE model")
    mla: MLA | None = None


class CaseSoftware(Frozen):
    """Framework features of the measured run (see `workload.SoftwareOptions`).

    `eager`: plain PyTorch without fused kernels or torch.compile (one kernel launch per
    operation). `tp_comm_overlap`: tensor-parallel communication hidden behind GEMMs (needs
    sequence parallelism). `ep_comm_overlap`: expert all-to-all of one micro-batch hidden
    behind another's compute (Megatron-core `overlap_moe_expert_parallel_comm`).
    `grad_reduce_fp32`: fp32 gradient buffers and reduction (off: bf16, NeMo's benchmarks).
    `cuda_graphs`: decode steps replayed as CUDA graphs (serving engines' default); decode
    cases without them (or eager) are listed as not predicted, an eager prefill is predicted
    with a host launch per kernel and unfused elementwise work.
    `tuned_attention`: the chip vendor's tuned fused attention ran (unset: implied by the
    framework, see `validate.frameworks`). `per_head_decode_attention`: the decode attention
    kernel ran one thread block per query head, so a grouped-query model's K and V were read
    once per query head (TensorRT-LLM's masked MHA before its XQA kernels).
    `activation_offload_layers`: layers per stage whose activations went to host memory
    (Megatron-core's `cpu_offloading_num_layers`). `all_prompt_logits`: the prefill computed
    logits for every prompt position (a plain forward), not just the last. `fused_loss`: a
    fused cross-entropy kernel (off: plain PyTorch `cross_entropy` over fp32 logits).
    `serving_engine`: the serving steps ran in an engine with per-step host work (off: bare
    forward passes or graph replays timed on the device). `autocast`: fp32 weights under
    `torch.autocast` to bf16 (fp32 residual stream, a weight cast per forward).
    `pipeline_layout`: Megatron-core ran an explicit layout of the layers over the virtual
    pipeline stages (`pipeline_model_parallel_layout`), so vp need not divide a stage's layers.
    `moe_parallel_folding`: the expert layers ran on their own grid with expert tensor
    parallelism 1 (Megatron-core MoE parallel folding), so ep may span tp x cp x dp ranks.
    """

    fused_attention: bool = True
    overlap_grad_reduce: bool = True
    sequence_parallel: bool = True
    eager: bool = False
    tp_comm_overlap: bool = False
    ep_comm_overlap: bool = False
    grad_reduce_fp32: bool = True
    cuda_graphs: bool = True
    tuned_attention: bool | None = None
    per_head_decode_attention: bool = False
    all_prompt_logits: bool = False
    serving_engine: bool = True
    fused_loss: bool = True
    autocast: bool = False
    activation_offload_layers: int = Field(default=0, ge=0, le=10_000)
    pipeline_layout: bool = False
    moe_parallel_folding: bool = False


class ServingSlo(Frozen):
    """Latency limits a serving result was measured under (MLPerf's server scenario): the
    engine's batch is the largest that meets them."""

    ttft_s: float | None = Field(default=None, gt=0, le=600)
    tpot_s: float | None = Field(default=None, gt=0, le=10)


class ServingPool(Frozen):
    """One pool of a disaggregated deployment: its chips and the replica plan they run."""

    chips: int = Field(gt=0, le=MAX_CHIPS)
    plan: dict[str, int] = Field(default_factory=dict, description="tp, pp, ep, dp")


class Disaggregation(Frozen):
    """Prefill and decode on separate pools (DistServe, Splitwise, DeepSeek's deployment)."""

    prefill: ServingPool
    decode: ServingPool


class Speculative(Frozen):
    """Speculative decoding: a draft (a small model, EAGLE heads, n-grams, or the model's own
    multi-token-prediction modules) proposes `draft_tokens` tokens that one target step checks.
    `acceptance`: mean tokens accepted per target step, as the source reports it."""

    method: Literal["mtp", "draft", "eagle", "ngram"]
    draft_tokens: int = Field(ge=1, le=64)
    draft_model: str | None = None
    acceptance: float | None = Field(default=None, gt=0, le=65)


class Case(Frozen):
    """One published or measured run and the numbers it reported (see DESIGN.md).

    `source_group`: cases from one source (a paper, a vendor's performance page, one
    benchmark round) share a group; leave-one-group-out validation refits without it.
    `framework`: the software that ran it (megatron-lm, nemo, torchtitan, deepspeed,
    llm-foundry, mindspeed, pytorch, trtllm, vllm, sglang, ...)."""

    id: CatalogId
    kind: Literal["training", "inference"]
    source: str = Field(min_length=3)
    source_group: CatalogId | None = None
    framework: CatalogId | None = None
    model: str | None = None
    architecture: InlineArchitecture | None = None
    chip: str
    chips: int = Field(gt=0, le=MAX_CHIPS)
    system: str | None = None
    precision: Literal["fp32", "bf16", "fp8", "fp4", "int8", "int4"] = "bf16"
    seq_len: int | None = Field(default=None, gt=0, le=MAX_SEQ)
    global_batch: int | None = Field(default=None, gt=0, le=MAX_GLOBAL_BATCH)
    micro_batch: int | None = Field(default=None, gt=0, le=MAX_GLOBAL_BATCH)
    tokens: float | None = Field(
        default=None, gt=0, le=MAX_TOKENS, description="training tokens, for chip_hours"
    )
    plan: dict[str, int | str] | None = None
    software: CaseSoftware = CaseSoftware()
    phase: Literal["prefill", "decode", "end_to_end"] | None = None
    batch: int | None = Field(default=None, gt=0, le=MAX_GLOBAL_BATCH)
    input_len: int | None = Field(default=None, gt=0, le=MAX_PROMPT)
    output_len: int | None = Field(default=None, gt=0, le=MAX_OUTPUT)
    slo: ServingSlo | None = None
    disaggregated: Disaggregation | None = None
    speculative: Speculative | None = None
    static_batch: bool = Field(
        default=False,
        description="the batch's requests start together and run to the end (LMDeploy's and "
        "TensorRT-LLM's static benchmarks), so time to first token waits for every prompt's "
        "prefill; else requests join a running batch (fixed concurrency)",
    )
    flops_attention: Literal["full", "causal"] = Field(
        default="full",
        description="how the source's MFU and TFLOP/s count the attention score square: "
        "'full' (PaLM, Megatron-LM, llm-foundry, torchtitan) or 'causal', without the masked "
        "half (NeMo since its commit 6251117f, August 2025)",
    )
    measured: dict[Metric, float] = Field(min_length=1)
    split: Literal["fit", "test"] = "test"
    notes: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Case:
        if (self.model is None) == (self.architecture is None):
            raise ValueError("model: give exactly one of 'model' (a catalog id) or 'architecture'")
        allowed = TRAINING_METRICS if self.kind == "training" else INFERENCE_METRICS
        for metric, value in self.measured.items():
            if metric not in allowed:
                raise ValueError(
                    f"measured: metric {metric!r} does not apply to {self.kind}; "
                    f"allowed: {', '.join(allowed)}"
                )
            if not value > 0:
                raise ValueError(f"measured: {metric} must be positive, got {value}")
        if self.kind == "training":
            for name in ("seq_len", "global_batch"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name}: a training case needs it")
            if "chip_hours" in self.measured and self.tokens is None:
                raise ValueError("tokens: metric chip_hours needs it")
        else:
            for name in ("phase", "input_len"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name}: an inference case needs it")
            if self.phase != "end_to_end" and self.batch is None:
                raise ValueError("batch: a prefill or decode case needs it")
            if self.phase == "end_to_end" and self.output_len is None:
                raise ValueError("output_len: an end_to_end case needs it")
        if self.kind == "training":
            for key, setting in (self.plan or {}).items():
                problem = plan_field_problem(key, setting)
                if problem:
                    raise ValueError(f"plan: {problem}")
        else:
            for plan in (self.plan, *self._pool_plans()):
                _check_serving_plan(plan or {})
        return self

    def _pool_plans(self) -> tuple[dict[str, int], ...]:
        split = self.disaggregated
        return () if split is None else (split.prefill.plan, split.decode.plan)


SERVING_PLAN_FIELDS = ("tp", "pp", "ep", "dp")


def _check_serving_plan(plan: dict[str, int | str] | dict[str, int]) -> None:
    """Serving plans name tensor, pipeline and expert parallelism and replicas (dp)."""
    allowed = ", ".join(SERVING_PLAN_FIELDS)
    for key, value in plan.items():
        if key not in SERVING_PLAN_FIELDS:
            raise ValueError(f"plan: unknown key {key!r} for inference; allowed: {allowed}")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHIPS:
            raise ValueError(f"plan: {key}: {value!r} is not a whole number from 1 to {MAX_CHIPS}")


PLAN_FIELDS = ("tp", "pp", "dp", "cp", "ep", "vp", "zero", "recompute", "schedule", "micro_batch")
RECOMPUTE_NAMES = ("none", "selective", "full", "partial", "op")
SCHEDULE_NAMES = ("1f1b", "interleaved", "dualpipe")


def plan_field_problem(key: str, value: object) -> str | None:
    """What is wrong with one fixed plan field (None when nothing is), for case files and
    `--plan`: a known key, a known recompute or schedule name, a whole number in range."""
    if key not in PLAN_FIELDS:
        return f"unknown key {key!r}; allowed: {', '.join(PLAN_FIELDS)}"
    names = {"recompute": RECOMPUTE_NAMES, "schedule": SCHEDULE_NAMES}.get(key)
    if names is not None:
        return None if value in names else f"{key}: {value!r} is not one of {', '.join(names)}"
    low, high = (0, 3) if key == "zero" else (1, MAX_CHIPS)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{key}: {value!r} is not a whole number from {low} to {high:,}"
    return None


Workload = Literal["training", "inference"]
DomesticBy = Literal["design", "fab", "design_or_fab"]


class MinDomesticShare(Frozen):
    """At least `share` of the fleet, measured by chip count, peak compute or spend, must be
    chips designed (or made, or either) in `country` (the policy's jurisdiction by default)."""

    kind: Literal["min_domestic_share"]
    id: CatalogId
    share: float = Field(ge=0.0, le=1.0)
    measure: Literal["count", "compute", "spend"] = "count"
    domestic_by: DomesticBy = "design"
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    source: str = Field(min_length=3)


class ExportControlsRule(Frozen):
    """Chips that the catalog's dated export controls keep from the buyer's country on the
    policy date are forbidden (licence-required ones too, unless listed in `allow_licensed`,
    i.e. licences are being granted for them)."""

    kind: Literal["export_controls"]
    id: CatalogId
    allow_licensed: tuple[CatalogId, ...] = ()
    follow_own_guidance: bool = Field(
        default=False, description="also forbid chips the buyer's own government discourages"
    )


class ForbidRule(Frozen):
    """Named chips may not be used for the listed workloads (distrust, security review)."""

    kind: Literal["forbid"]
    id: CatalogId
    chips: tuple[CatalogId, ...] = Field(min_length=1)
    workloads: tuple[Workload, ...] = ("training", "inference")
    reason: str
    source: str = Field(min_length=3)


class CapRule(Frozen):
    """An upper bound on the fleet's power (MW), budget (USD), racks or chips."""

    kind: Literal["cap"]
    id: CatalogId
    what: Literal["power_mw", "budget_usd", "racks", "chips"]
    value: float = Field(gt=0, le=MAX_BUDGET_USD)
    source: str = Field(min_length=3)


PolicyRule = Annotated[
    MinDomesticShare | ExportControlsRule | ForbidRule | CapRule, Field(discriminator="kind")
]


class Policy(Frozen):
    """A buyer's sourcing rules: who buys (jurisdiction), when (date), and the rules."""

    id: CatalogId
    name: str
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}$")
    date: dt.date
    source: str = Field(min_length=3)
    rules: tuple[PolicyRule, ...] = ()
    notes: str | None = None

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> Policy:
        ids = [rule.id for rule in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rules: rule ids must be unique within a policy")
        return self


class OfferSpec(Frozen):
    """A chip on offer in a fleet request; unset fields come from the catalog."""

    chip: str
    available: int | None = Field(default=None, ge=0, le=MAX_CHIPS)
    price_usd: float | None = Field(default=None, gt=0, le=MAX_PRICE_USD)
    lead_time_days: float = Field(default=0.0, ge=0, le=MAX_DEADLINE_DAYS)
    system: str | None = None


class SiteSpec(Frozen):
    """A site in a fleet request: power cap, local power price and PUE, its own policies."""

    id: CatalogId
    power_cap_mw: float | None = Field(default=None, gt=0, le=MAX_POWER_MW)
    energy_price_usd_per_kwh: float | None = Field(default=None, ge=0, le=MAX_ENERGY_PRICE)
    pue: float | None = Field(default=None, ge=1.0, le=MAX_PUE)
    policies: tuple[str, ...] = ()


class WorkloadSpec(Frozen):
    """What the fleet must do: train by a deadline, or serve a load within SLOs."""

    kind: Workload
    model: str
    tokens: float | None = Field(default=None, gt=0, le=MAX_TOKENS)
    deadline_days: float | None = Field(default=None, gt=0, le=MAX_DEADLINE_DAYS)
    seq_len: int = Field(default=4096, gt=0, le=MAX_SEQ)
    batch_tokens: float = Field(default=4e6, gt=0, le=MAX_BATCH_TOKENS)
    rate: float | None = Field(default=None, gt=0, le=MAX_RATE)
    input_len: int | None = Field(default=None, gt=0, le=MAX_PROMPT)
    output_len: int | None = Field(default=None, gt=0, le=MAX_OUTPUT)
    ttft_s: float = Field(default=2.0, gt=0, le=600)
    tpot_s: float = Field(default=0.05, gt=0, le=10)
    precision: Literal["bf16", "fp8", "int8", "int4"] = "fp8"
    hours: float = Field(
        default=8760.0, gt=0, le=MAX_HOURS, description="serving horizon for costs"
    )

    @model_validator(mode="after")
    def _check(self) -> WorkloadSpec:
        needed = (
            ("tokens", "deadline_days")
            if self.kind == "training"
            else ("rate", "input_len", "output_len")
        )
        for name in needed:
            if getattr(self, name) is None:
                raise ValueError(f"{name}: a {self.kind} workload needs it")
        if self.batch_tokens < self.seq_len:
            raise ValueError(
                f"batch_tokens: {self.batch_tokens:g} is less than one sequence of "
                f"{self.seq_len} tokens"
            )
        if self.tokens is not None and self.tokens < self.batch_tokens:
            raise ValueError(
                f"tokens: {self.tokens:g} is less than one optimizer step of "
                f"{self.batch_tokens:g} tokens"
            )
        return self


class FleetRequest(Frozen):
    """A fleet problem as a user writes it (`swarmscale fleet --workload FILE`)."""

    workload: WorkloadSpec
    offers: tuple[OfferSpec, ...] = ()
    sites: tuple[SiteSpec, ...] = Field(default=(), max_length=MAX_SITES)

    @model_validator(mode="after")
    def _unique(self) -> FleetRequest:
        _no_repeats("offers", [offer.chip for offer in self.offers], "chip")
        _no_repeats("sites", [site.id for site in self.sites], "id")
        return self


def _no_repeats(field: str, values: list[str], key: str) -> None:
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"{field}: {key} {', '.join(map(repr, repeated))} appears more than once")


class NetworkSite(Frozen):
    """One data-centre site of a compute network (numbers sourced at the network level, or in
    the site's own `source`)."""

    id: CatalogId
    region: str
    inventory: dict[str, int] = Field(min_length=1, description="chip id -> chips")
    pue: float = Field(ge=1.0, le=MAX_PUE)
    power_price_usd_per_kwh: float | tuple[float, ...] = Field(
        description="flat, or 24 hourly prices (hour 0 first)"
    )
    carbon_g_per_kwh: float = Field(ge=0, le=MAX_CARBON_G_PER_KWH)
    power_cap_mw: float | None = Field(default=None, gt=0, le=MAX_POWER_MW)
    policy: str | None = None
    source: str | None = None

    @field_validator("power_price_usd_per_kwh")
    @classmethod
    def _prices(cls, value: float | tuple[float, ...]) -> float | tuple[float, ...]:
        prices = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple) and len(value) != 24:
            raise ValueError("hourly prices need 24 values, hour 0 first")
        if any(not 0 <= price <= MAX_ENERGY_PRICE for price in prices):
            raise ValueError(f"prices must be from 0 to {MAX_ENERGY_PRICE:g} USD per kWh")
        return value

    @field_validator("inventory")
    @classmethod
    def _counts(cls, value: dict[str, int]) -> dict[str, int]:
        for chip, count in value.items():
            if not 0 <= count <= MAX_CHIPS:
                raise ValueError(f"inventory of {chip} must be from 0 to {MAX_CHIPS:,} chips")
        return value


class WanLink(Frozen):
    """A wide-area link between two sites."""

    a: str
    b: str
    bandwidth_gbps: float = Field(gt=0, le=1e7)
    latency_ms: float = Field(ge=0, le=10_000)


class Network(Frozen):
    """Sites pooled as one compute resource, with the links between them."""

    id: CatalogId
    name: str
    source: str = Field(min_length=3)
    kind: SourceKind
    sites: tuple[NetworkSite, ...] = Field(min_length=1, max_length=MAX_SITES)
    links: tuple[WanLink, ...] = ()
    notes: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Network:
        ids = [site.id for site in self.sites]
        if len(ids) != len(set(ids)):
            raise ValueError("sites: site ids must be unique")
        for link in self.links:
            for end in (link.a, link.b):
                if end not in ids:
                    raise ValueError(f"links: unknown site {end!r}")
        return self


GRID_KEYS = ("model", "chip", "chips", "tokens", "seq_len", "batch_tokens", "system")


class ScenarioSpec(Frozen):
    """A sweep scenario file: a training job, a grid of inputs, uncertain catalog numbers.
    Every grid point is held to the same bounds as the base job, and points x draws to
    `MAX_SWEEP_EVALUATIONS`."""

    model: str
    chip: str
    chips: int = Field(gt=0, le=MAX_CHIPS)
    tokens: float = Field(gt=0, le=MAX_TOKENS)
    seq_len: int = Field(default=4096, gt=0, le=MAX_SEQ)
    batch_tokens: float = Field(default=4e6, gt=0, le=MAX_BATCH_TOKENS)
    system: str | None = None
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    uncertain: tuple[str, ...] | None = Field(default=None, max_length=64)
    draws: int = Field(default=200, gt=0, le=MAX_DRAWS)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _grid_points_valid(self) -> ScenarioSpec:
        unknown = sorted(set(self.grid) - set(GRID_KEYS))
        if unknown:
            raise ValueError(f"grid: keys {unknown} cannot vary; allowed: {', '.join(GRID_KEYS)}")
        points = math.prod(len(values) for values in self.grid.values())
        if points > MAX_GRID_POINTS:
            raise ValueError(f"grid: {points:,} points; at most {MAX_GRID_POINTS:,}")
        if points * self.draws > MAX_SWEEP_EVALUATIONS:
            raise ValueError(
                f"draws: {points:,} grid points x {self.draws:,} draws is more than "
                f"{MAX_SWEEP_EVALUATIONS:,} evaluations"
            )
        base = self.model_dump(exclude={"grid"})
        for key, values in self.grid.items():
            for value in values:
                try:
                    ScenarioSpec.model_validate({**base, key: value})
                except ValidationError as exc:
                    reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    raise ValueError(f"grid: {key} = {value!r}: {reason}") from None
        return self
