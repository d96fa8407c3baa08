"""What the web accepts: the api's input models, narrowed where a server must not follow the CLI,
and the one mapping between a model and its HTML form.

The CLI may name files (a policy or network YAML, a trace CSV); the web never reads server
files, so its fleet and simulation models take catalog ids only (no '.' or '/': no path can
pass), the two shipped job traces, and synthetic networks of at most `MAX_WEB_SITES` sites.
Everything else (types, ranges, defaults, descriptions, unknown fields refused) is the api's.

A form shows a model's values as text (`form_values`) and reads them back (`from_form`); the
two are inverse, so the form after an answer shows exactly the inputs that were computed.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from swarmscale.api.inputs import (
    ID_LENGTH,
    FleetInput,
    Id,
    Input,
    InputT,
    ServeInput,
    SimulateInput,
    TrainInput,
    parse_input,
)
from swarmscale.limits import MAX_DEADLINE_DAYS, MAX_TOKENS

MAX_WEB_SITES = 200  # synthetic-N: a network the web builds in well under its time limit
SYNTHETIC = "synthetic-"

Verb = Literal["train", "serve", "fleet", "simulate"]
CatalogId = Annotated[
    str, Field(min_length=1, max_length=ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]


def _synthetic_in_reach(name: str) -> str:
    count = name.removeprefix(SYNTHETIC)
    if name.startswith(SYNTHETIC) and count.isdigit() and not 1 <= int(count) <= MAX_WEB_SITES:
        raise ValueError(f"synthetic-N takes N from 1 to {MAX_WEB_SITES} on the web, got {count}")
    return name


def _description(schema: type[Input], name: str) -> str:
    return schema.model_fields[name].description or name


class WebFleetInput(FleetInput):
    """`FleetInput` without a request file: the training job's fields are required and the
    policy is a catalog id."""

    policy: CatalogId = Field(
        default=FleetInput.default("policy"), description="Policy id in the catalog"
    )
    model: Id = Field(description=_description(FleetInput, "model"))
    tokens: float = Field(gt=0, le=MAX_TOKENS, description=_description(FleetInput, "tokens"))
    deadline_days: float = Field(
        gt=0, le=MAX_DEADLINE_DAYS, description=_description(FleetInput, "deadline_days")
    )


class WebSimulateInput(SimulateInput):
    """`SimulateInput` over a catalog network or a small synthetic one, and a shipped trace."""

    network: Annotated[CatalogId, AfterValidator(_synthetic_in_reach)] = Field(
        description=f"Network id in the catalog, or synthetic-N with N <= {MAX_WEB_SITES}"
    )
    trace: Literal["philly", "alibaba"] = Field(
        default=SimulateInput.default("trace"), description="Shipped job trace"
    )


SCHEMAS: dict[Verb, type[Input]] = {
    "train": TrainInput,
    "serve": ServeInput,
    "fleet": WebFleetInput,
    "simulate": WebSimulateInput,
}


# One request per verb for the OpenAPI page (/docs) and the schema tests' examples phase.
EXAMPLES: dict[Verb, dict[str, Any]] = {
    "train": {"model": "llama3-8b", "chip": "h100-sxm", "chips": 64, "tokens": 1e12},
    "serve": {
        "model": "llama3-70b",
        "chips": ["h100-sxm", "h20"],
        "rate": 10,
        "input_len": 1000,
        "output_len": 200,
    },
    "fleet": {"model": "llama3-70b", "tokens": 15e12, "deadline_days": 60, "policy": "cn-no-h20"},
    "simulate": {"network": "test-3-sites", "trace": "philly", "scheduler": "hetero", "jobs": 200},
}


class _Save(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SaveTrain(_Save):
    verb: Literal["train"]
    inputs: TrainInput


class SaveServe(_Save):
    verb: Literal["serve"]
    inputs: ServeInput


class SaveFleet(_Save):
    verb: Literal["fleet"]
    inputs: WebFleetInput


class SaveSimulate(_Save):
    verb: Literal["simulate"]
    inputs: WebSimulateInput


SaveRequest = Annotated[
    SaveTrain | SaveServe | SaveFleet | SaveSimulate, Field(discriminator="verb")
]


def choices(schema: type[Input], name: str) -> tuple[str, ...]:
    """The allowed values of a Literal field (a form's select), else ()."""
    annotation = schema.model_fields[name].annotation
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()


def is_flag(schema: type[Input], name: str) -> bool:
    return schema.model_fields[name].annotation is bool


def is_list(schema: type[Input], name: str) -> bool:
    """A tuple field, written in a form as comma-separated items."""
    return typing.get_origin(schema.model_fields[name].annotation) is tuple


def from_form(schema: type[InputT], values: Mapping[str, str]) -> InputT:
    """Validate form text: an empty box means the field's default and a list field is split on
    commas; `InputError` names each bad field (an unknown name is one)."""
    fields: dict[str, Any] = {}
    for name, text in values.items():
        if not text.strip():
            continue
        if name in schema.model_fields and is_list(schema, name):
            fields[name] = [item.strip() for item in text.split(",") if item.strip()]
        else:
            fields[name] = text.strip()
    return parse_input(schema, fields)


def form_values(query: Input) -> dict[str, str]:
    """Each field of a validated model as the text its form box shows (inverse of from_form)."""
    return {name: form_text(value) for name, value in query.model_dump().items()}


def default_values(schema: type[Input]) -> dict[str, str]:
    """An empty form: each field's default, blank where the field is required."""
    return {
        name: "" if field.is_required() else form_text(field.default)
        for name, field in schema.model_fields.items()
    }


def form_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(str(item) for item in value)
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def _float_text(value: float) -> str:
    """15e12 as `1.5e13`, 0.05 as `0.05`; the shortest exact text where `g` would round."""
    short = f"{value:g}".replace("e+", "e").replace("e0", "e").replace("e-0", "e-")
    return short if math.isfinite(value) and float(short) == value else repr(value)
