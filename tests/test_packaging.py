"""A normal (not editable) install works: the wheel carries every data file, the trace
attribution and the licence, and the commands that read them run from a fresh venv outside the
checkout.

The fresh venv gets swarmscale from the wheel and nothing else; its third-party dependencies are
this test environment's, reached through a path file (so nothing is downloaded). The editable
install's own path hook is not processed from there, so `import swarmscale` finds the wheel's copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB_CHECK = """
from fastapi.testclient import TestClient
from swarmscale.web.app import app
page = TestClient(app).get("/simulate?network=test-3-sites&trace=philly&jobs=50")
assert page.status_code == 200, page.status_code
assert "id='result'" in page.text, page.text[-2000:]
print("web ok")
"""


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the sources, so the checkout gets no build folders."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out)],
        source,
    )  # fmt: skip
    (built,) = out.glob("swarmscale-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its bin folder."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    bin_dir = home / "bin"
    _run([str(bin_dir / "pip"), "install", "--no-index", "--no-deps", "-q", str(wheel)], home)
    purelib = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        home,
    ).strip()
    (Path(purelib) / "test-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    return bin_dir


def test_the_wheel_carries_data_attribution_and_licence(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [
        path.relative_to(ROOT / "src").as_posix()
        for folder in ("catalog/data", "traces/data")
        for path in (ROOT / "src" / "swarmscale" / folder).rglob("*")
        if path.is_file()
    ]
    assert shipped and not [name for name in shipped if name not in names]
    assert "swarmscale/traces/data/README.md" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_commands_run_from_the_wheel_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = {"PATH": f"{installed}:/usr/bin:/bin", "SWARMSCALE_STORE": str(tmp_path / "runs.duckdb")}
    where = _run(
        [str(installed / "python"), "-c", "import swarmscale; print(swarmscale.__file__)"],
        tmp_path,
        env,
    )
    assert Path(where.strip()).is_relative_to(installed.parent)
    swarmscale = str(installed / "swarmscale")
    simulate = [swarmscale, "simulate", "--network", "test-3-sites", "--trace", "philly", "--json"]
    assert json.loads(_run(simulate, tmp_path, env))["summary"]["finished"] > 0
    replay = [swarmscale, "serve-sim", "--model", "llama3-8b", "--chip", "h100-sxm", "--trace",
              "azure-conv", "--requests", "200", "--json"]  # fmt: skip
    assert json.loads(_run(replay, tmp_path, env))["requests"] == 200
    validation = json.loads(_run([swarmscale, "validate", "--json"], tmp_path, env))
    assert validation["summary"]["n"] > 0
    assert "web ok" in _run([str(installed / "python"), "-c", WEB_CHECK], tmp_path, env)
