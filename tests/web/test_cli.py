"""`swarmscale web` warns when it listens beyond this machine: the API has no authentication."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from swarmscale.cli.web_commands import is_loopback
from tests.conftest import CliRunner


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """uvicorn.run replaced: what it would have served, without serving."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    return calls


def test_a_public_host_warns_on_stderr(run_cli: CliRunner, served: list[dict[str, Any]]) -> None:
    code, out, err = run_cli(["web", "--host", "0.0.0.0", "--port", "8123", "--workers", "1"])
    assert code == 0 and out == ""
    assert "no authentication" in err
    assert served == [{"host": "0.0.0.0", "port": 8123}]


def test_loopback_hosts_do_not_warn(run_cli: CliRunner, served: list[dict[str, Any]]) -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        code, _, err = run_cli(["web", "--host", host])
        assert code == 0 and "no authentication" not in err
    assert len(served) == 3


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("[::1]", True), ("LOCALHOST", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
