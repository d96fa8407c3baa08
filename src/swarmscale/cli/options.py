"""Typer options built from the api's input models, so that the CLI's defaults, `--help`
ranges and validation messages are the ones the web API uses (see `swarmscale.api.inputs`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from swarmscale.api.inputs import InputError, InputT, parse_input
from swarmscale.limits import MAX_CHIPS


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def option(schema: type[InputT], name: str, *flags: str, **extra: Any) -> Any:
    """A Typer option whose help text is the field's description with its allowed range."""
    return typer.Option(*flags, help=schema.help(name), **extra)


def parse_options(
    schema: type[InputT], values: Mapping[str, Any], flags: Mapping[str, str] | None = None
) -> InputT:
    """Validate the options of one verb (`values` may be the verb's `locals()`: only the
    schema's fields are taken); errors name the flag (`--input`), not the field."""
    names = {name: (flags or {}).get(name, flag(name)) for name in schema.model_fields}
    fields = {name: values[name] for name in schema.model_fields if name in values}
    return parse_input(schema, fields, names)


def parse_counted(text: str, option: str, after_at: str) -> list[tuple[str, int, str | None]]:
    """`h100-sxm:512@X,ascend-910c:1024` -> [(chip, count, X or None), ...]: the one syntax of
    `--fleet` and `--ref` items, where X is a site or a system (`after_at` names which)."""
    items = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        spec, _, suffix = part.partition("@")
        chip, sep, count = spec.partition(":")
        if not sep or not chip.strip() or not count.strip().isdigit():
            raise InputError(
                f"{option}: item {part!r} is not CHIP:COUNT[@{after_at}] "
                f"(e.g. h800-sxm:256@{after_at.lower()})"
            )
        chips = int(count)
        if not 1 <= chips <= MAX_CHIPS:
            raise InputError(f"{option}: item {part!r}: count must be 1 to {MAX_CHIPS:,}")
        items.append((chip.strip(), chips, suffix.strip() or None))
    if not items:
        raise InputError(f"{option}: empty; expected CHIP:COUNT[@{after_at}],...")
    return items
