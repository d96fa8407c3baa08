"""The README's concrete example commands parse as written: every required option is there and
every option exists (parsed by the CLI's own parser, not run)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from swarmscale.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
PLACEHOLDER = re.compile(r"\.\.\.|[\[\]<>|]|\b[A-Z][A-Z_:@.]*\b")


def _examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    inline = re.findall(r"`(swarmscale [^`]+)`", text)
    console = re.findall(r"\$ \.venv/bin/(swarmscale (?:[^\n]*\\\n)*[^\n]*)", text)
    commands = [" ".join(c.replace("\\\n", " ").split()) for c in inline + console]
    # Examples, not mentions: a command with its options or arguments, and no placeholders.
    return [
        command
        for command in dict.fromkeys(commands)
        if ("--" in command or len(command.split()) > 3) and not PLACEHOLDER.search(command)
    ]


def test_the_readme_has_concrete_examples() -> None:
    verbs = {command.split()[1] for command in _examples()}
    assert {"mixed", "swarm", "equiv", "serve", "train"} <= verbs


@pytest.mark.parametrize("command", _examples())
def test_readme_example_parses(command: str) -> None:
    verb: Any = typer.main.get_command(app)
    args = shlex.split(command)[1:]
    while hasattr(verb, "commands"):  # a group (Typer's own Click): descend to the verb
        name, *args = args
        assert name in verb.commands, f"{command}: no verb {name!r}"
        verb = verb.commands[name]
    verb.make_context("swarmscale", args)  # raises on a missing or unknown option


def test_a_missing_required_option_is_caught() -> None:
    with pytest.raises(Exception, match="model"):
        test_readme_example_parses("swarmscale mixed --fleet a100-sxm-80gb:512")
