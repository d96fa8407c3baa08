"""What every interface accepts, declared once: each field's type, range, default and meaning.

The CLI builds these models from its options (its defaults and `--help` ranges come from here),
the web API takes them as request bodies and the web forms show their defaults. A value outside
its range fails here, before anything is computed or stored, with the field, the value and the
allowed range (`InputError`). Floats are finite everywhere: NaN and infinity are refused.

The hard caps (`swarmscale.limits`) bound what one request may cost in memory and time:
chips, tokens, jobs, requests, draws and worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from swarmscale.limits import (
    MAX_BATCH_TOKENS,
    MAX_BUDGET_USD,
    MAX_CHIPS,
    MAX_DEADLINE_DAYS,
    MAX_DRAWS,
    MAX_JOBS,
    MAX_OUTPUT,
    MAX_PROMPT,
    MAX_RATE,
    MAX_REPLICAS,
    MAX_REQUESTS,
    MAX_SEQ,
    MAX_TOKENS,
    MAX_WORKERS,
    SPEEDUP_RANGE,
)
from swarmscale.plan.swarm import DEFAULT_TOKENS_PER_CHIP

ID_LENGTH = 100

TrainPrecisionName = Literal["bf16", "fp8", "fp4"]
ServePrecisionName = Literal["bf16", "fp8", "int8", "int4"]
Objective = Literal["time", "cost", "energy"]
FleetObjectiveName = Literal["cost", "time", "energy"]
SchedulerName = Literal["fifo", "sjf", "hetero", "energy"]

Id = Annotated[str, Field(min_length=1, max_length=ID_LENGTH)]
IdOrFile = Annotated[str, Field(min_length=1, max_length=4096)]
Speedup = Annotated[
    float,
    Field(ge=SPEEDUP_RANGE[0], le=SPEEDUP_RANGE[1], description="Arrivals this many times faster"),
]

InputT = TypeVar("InputT", bound="Input")


class InputError(ValueError):
    """A request that cannot be answered as given; the message names the field and the range."""


class Input(BaseModel):
    """Base of every request: immutable, finite numbers only, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @classmethod
    def default(cls, name: str) -> Any:
        """A field's default, for interfaces that show or pre-fill it."""
        return cls.model_fields[name].default

    @classmethod
    def help(cls, name: str) -> str:
        """A field's description with its allowed range, for `--help` and form hints."""
        field = cls.model_fields[name]
        allowed = allowed_range(cls, name)
        text = field.description or name
        return f"{text} ({allowed})." if allowed else f"{text}."


class TrainInput(Input):
    """One training job on one chip kind: the planner searches parallel plans for it."""

    model: Id = Field(description="Model id, e.g. llama3-70b")
    chip: Id = Field(description="Chip id, e.g. h100-sxm")
    chips: int = Field(ge=1, le=MAX_CHIPS, description="Chips available")
    tokens: float | None = Field(
        default=None, gt=0, le=MAX_TOKENS, description="Training tokens, e.g. 15.6e12"
    )
    seq: int = Field(default=4096, ge=1, le=MAX_SEQ, description="Sequence length, tokens")
    global_batch_tokens: float = Field(
        default=4e6, gt=0, le=MAX_BATCH_TOKENS, description="Tokens per optimizer step"
    )
    precision: TrainPrecisionName = Field(default="bf16", description="Training precision")
    system: Id | None = Field(default=None, description="Scale-up system id")
    objective: Objective = Field(default="time", description="What the best plan minimises")
    plan: str | None = Field(
        default=None, max_length=200, description="Fix plan fields: tp=8,pp=16,..."
    )
    software: str | None = Field(
        default=None,
        max_length=300,
        description="Framework options: tuned_attention=true,activation_offload_layers=20,...",
    )
    top: int = Field(default=5, ge=1, le=100, description="How many runners-up to show")

    @model_validator(mode="after")
    def _batch_holds_a_sequence(self) -> TrainInput:
        return _check_batch(self, self.global_batch_tokens, self.seq, self.tokens)


class ServeInput(Input):
    """A load to serve within latency targets, sized on each chip (compared to the first)."""

    model: Id = Field(description="Model id, e.g. llama3-70b")
    chips: tuple[Id, ...] = Field(min_length=1, max_length=16, description="Chip ids to size")
    rate: float = Field(gt=0, le=MAX_RATE, description="Requests per second")
    input_len: int = Field(ge=1, le=MAX_PROMPT, description="Prompt tokens per request")
    output_len: int = Field(ge=1, le=MAX_OUTPUT, description="Output tokens per request")
    ttft: float = Field(default=2.0, gt=0, le=600, description="Time-to-first-token target, s")
    tpot: float = Field(default=0.05, gt=0, le=10, description="Time-per-output-token target, s")
    precision: ServePrecisionName = Field(default="bf16", description="Weight precision")
    prefix_hit: float = Field(
        default=0.0, ge=0, le=0.99, description="Share of each prompt in the prefix cache"
    )
    disaggregate: bool = Field(default=False, description="Separate prefill and decode pools")


class ServeSimInput(Input):
    """A request trace replayed through serving replicas with continuous batching."""

    model: Id = Field(description="Model id")
    chip: Id = Field(description="Chip id")
    trace: IdOrFile = Field(description="azure-conv, azure-code, mooncake or a trace file")
    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS, description="Serving replicas")
    tp: int = Field(default=1, ge=1, le=1024, description="Tensor-parallel chips per replica")
    ep: int = Field(default=1, ge=1, le=1024, description="Expert-parallel chips (MoE)")
    precision: ServePrecisionName = Field(default="bf16", description="Weight precision")
    speedup: Speedup = 1.0
    requests: int | None = Field(
        default=None, ge=1, le=MAX_REQUESTS, description="Only the first N requests"
    )
    ttft: float = Field(default=2.0, gt=0, le=600, description="TTFT target for SLO attainment, s")
    tpot: float = Field(default=0.1, gt=0, le=10, description="TPOT target for SLO attainment, s")

    @model_validator(mode="after")
    def _chips_bounded(self) -> ServeSimInput:
        chips = self.replicas * self.tp * self.ep
        if chips > MAX_CHIPS:
            raise ValueError(
                f"replicas: {self.replicas} replicas of {self.tp * self.ep} chips are "
                f"{chips:,} chips; at most {MAX_CHIPS:,}"
            )
        return self


class FleetInput(Input):
    """A training job with a deadline (or a request file), met by the cheapest fleet a
    sourcing policy allows."""

    policy: IdOrFile = Field(default="unrestricted", description="Policy id or YAML file")
    model: Id | None = Field(default=None, description="Model id (training, without a file)")
    tokens: float | None = Field(default=None, gt=0, le=MAX_TOKENS, description="Training tokens")
    deadline_days: float | None = Field(
        default=None, gt=0, le=MAX_DEADLINE_DAYS, description="Training deadline, days"
    )
    objective: FleetObjectiveName = Field(
        default="cost", description="cost, energy, or time (needs a budget)"
    )
    budget: float | None = Field(
        default=None, gt=0, le=MAX_BUDGET_USD, description="Project budget, USD (time objective)"
    )
    pareto: bool = Field(default=False, description="Also trace cost against training time")


class SimulateInput(Input):
    """A job trace through a network of sites under a scheduler."""

    network: IdOrFile = Field(description="Network id, YAML file or synthetic-N")
    trace: IdOrFile = Field(default="philly", description="philly, alibaba or a trace file")
    scheduler: SchedulerName = Field(default="fifo", description="Scheduler")
    policy_aware: bool = Field(default=False, description="Never break a site's rules")
    speedup: Speedup = 1.0
    jobs: int | None = Field(default=None, ge=1, le=MAX_JOBS, description="Only the first N jobs")


class MixedInput(Input):
    """One training job split over several chip kinds."""

    model: Id = Field(description="Model id")
    tokens: float | None = Field(default=None, gt=0, le=MAX_TOKENS, description="Training tokens")
    seq: int = Field(default=4096, ge=1, le=MAX_SEQ, description="Sequence length, tokens")
    global_batch_tokens: float = Field(
        default=4e6, gt=0, le=MAX_BATCH_TOKENS, description="Tokens per optimizer step"
    )

    @model_validator(mode="after")
    def _batch_holds_a_sequence(self) -> MixedInput:
        return _check_batch(self, self.global_batch_tokens, self.seq, self.tokens)


class SwarmInput(Input):
    """One training job swept from 64 chips to a swarm."""

    model: Id = Field(description="Model id")
    chip: Id = Field(description="Chip id of the swarm")
    max_chips: float = Field(
        default=1e6, ge=64, le=MAX_CHIPS, description="Largest swarm, chips, e.g. 1e6"
    )
    system: Id | None = Field(default=None, description="Scale-up system of the swarm")
    seq: int = Field(default=4096, ge=1, le=MAX_SEQ, description="Sequence length, tokens")
    global_batch_tokens: float = Field(
        default=4e6, gt=0, le=MAX_BATCH_TOKENS, description="Smallest batch, tokens"
    )
    tokens_per_chip: int = Field(
        default=DEFAULT_TOKENS_PER_CHIP,
        ge=1,
        le=10_000_000,
        description="Batch tokens per chip at scale",
    )

    @model_validator(mode="after")
    def _batch_holds_a_sequence(self) -> SwarmInput:
        return _check_batch(self, self.global_batch_tokens, self.seq)


class EquivInput(Input):
    """How many chips of a candidate kind match a reference fleet, training or serving."""

    model: Id = Field(description="Model id")
    candidate: Id = Field(description="Candidate chip id")
    seq: int = Field(default=4096, ge=1, le=MAX_SEQ, description="Training sequence length")
    global_batch_tokens: float = Field(
        default=4e6, gt=0, le=MAX_BATCH_TOKENS, description="Training tokens per step"
    )
    input_len: int = Field(default=2000, ge=1, le=MAX_PROMPT, description="Serving prompt tokens")
    output_len: int = Field(default=300, ge=1, le=MAX_OUTPUT, description="Serving output tokens")
    ttft: float = Field(default=2.0, gt=0, le=600, description="Serving TTFT target, s")
    tpot: float = Field(default=0.05, gt=0, le=10, description="Serving TPOT target, s")
    precision: ServePrecisionName = Field(default="bf16", description="Serving weight precision")

    @model_validator(mode="after")
    def _batch_holds_a_sequence(self) -> EquivInput:
        return _check_batch(self, self.global_batch_tokens, self.seq)


class SweepOverrides(Input):
    """What `swarmscale sweep` may change of a scenario file, within the same caps."""

    draws: int | None = Field(
        default=None, ge=1, le=MAX_DRAWS, description="Override the file's draw count"
    )
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="Override the seed")
    workers: int = Field(default=2, ge=1, le=MAX_WORKERS, description="Local worker processes")


def _check_batch(
    model: InputT, batch_tokens: float, seq: int, tokens: float | None = None
) -> InputT:
    """A global batch below one sequence, or training tokens below one step, have no
    meaning; say so rather than round them up."""
    if batch_tokens < seq:
        raise ValueError(
            f"global_batch_tokens: {batch_tokens:g} tokens is less than one sequence of {seq} "
            "tokens; give at least the sequence length"
        )
    if tokens is not None and tokens < batch_tokens:
        raise ValueError(
            f"tokens: {tokens:g} is less than one optimizer step of {batch_tokens:g} tokens"
        )
    return model


def allowed_range(schema: type[BaseModel], name: str) -> str:
    """`>= 1 and <= 1048576`, `one of bf16, fp8`, or '' for a field without bounds."""
    field = schema.model_fields.get(name)
    if field is None:
        return ""
    parts = []
    for rule in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(rule, attr, None)
            if bound is not None:
                parts.append(f"{sign} {_number(bound)}")
    choices = getattr(field.annotation, "__args__", ())
    if choices and all(isinstance(choice, str) for choice in choices):
        return "one of " + ", ".join(choices)
    return " and ".join(parts)


def _number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value == int(value) and value < 1e7):
        return f"{int(value)}"
    mantissa, _, exponent = f"{value:g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def parse_input(
    schema: type[InputT], values: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> InputT:
    """Validate `values` against `schema`; errors name each field as the caller knows it
    (`names` maps a field to a CLI flag such as `--input`), the value and the allowed range."""
    try:
        return schema.model_validate(dict(values))
    except ValidationError as exc:
        raise InputError(describe_errors(schema, exc, names or {})) from exc


RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def describe_errors(
    schema: type[BaseModel], error: ValidationError, names: Mapping[str, str]
) -> str:
    """One line per problem: `field: what is wrong (allowed: range)`."""
    return "\n".join(_describe(schema, problem, names) for problem in error.errors())


def _describe(schema: type[BaseModel], problem: Any, names: Mapping[str, str]) -> str:
    location = [str(part) for part in problem["loc"]]
    reason = problem["msg"].removeprefix("Value error, ")
    kind = problem["type"]
    if not location:  # whole-model checks name their field as "field: reason"
        field, sep, rest = reason.partition(": ")
        return f"{names.get(field, field)}: {rest}" if sep else f"request: {reason}"
    field = location[0]
    label = ".".join([names.get(field, field), *location[1:]])
    if kind == "extra_forbidden":
        return f"{label}: unknown field (allowed: {', '.join(schema.model_fields)})"
    if kind == "missing":
        return f"{label}: required"
    allowed = allowed_range(schema, field) if len(location) == 1 else ""
    value = _shown(problem.get("input"))
    if kind in RANGE_ERRORS:
        text = f"{label}: {value} is out of range"
    elif kind == "finite_number":
        text = f"{label}: must be a finite number, got {value}"
    elif kind == "literal_error":
        text = f"{label}: {value} is not allowed"
    else:
        text = f"{label}: {reason}, got {value}"
    return f"{text} (allowed: {allowed})" if allowed else text


def _shown(value: Any) -> str:
    text = _number(value) if isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
