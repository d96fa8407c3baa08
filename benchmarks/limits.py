"""The most expensive inputs the caps allow (`swarmscale.limits`): wall time and peak memory
of each command run as a fresh process, to show that no input grows past 2 GB or runs away."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# (what it stresses, arguments after `swarmscale`)
WORST_INPUTS: tuple[tuple[str, list[str]], ...] = (
    (
        "plan search: DeepSeek-V3 on the chip cap, largest batch",
        ["train", "--model", "deepseek-v3", "--chip", "h100-sxm", "--chips", "1048576",
         "--seq", "8192", "--global-batch-tokens", "1e9", "--json"],
    ),
    (
        "no plan at N: a billion one-token sequences, nearby counts probed",
        ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "1000", "--seq", "1",
         "--global-batch-tokens", "1e9", "--json"],
    ),
    (
        "swarm sweep to the chip cap",
        ["swarm", "--model", "llama3-405b", "--chip", "ascend-910c", "--system",
         "cloudmatrix-384", "--max-chips", "1048576", "--json"],
    ),
    (
        "network simulation on the site cap (1,000 synthetic sites)",
        ["simulate", "--network", "synthetic-1000", "--trace", "philly", "--scheduler", "hetero",
         "--json"],
    ),
    (
        "serving at the rate cap",
        ["serve", "--model", "llama3-70b", "--chip", "h100-sxm", "--rate", "1e6", "--input",
         "2000", "--output", "300", "--json"],
    ),
)  # fmt: skip


def _measure(args: list[str], store: Path) -> tuple[int, float, float]:
    """Exit code, wall seconds and peak resident MB of one command in its own process."""
    env = {**os.environ, "SWARMSCALE_STORE": str(store)}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "swarmscale", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss / 1024


def worst_inputs() -> list[str]:
    lines = [
        "## Worst inputs the caps allow: wall time and peak memory",
        "",
        "Each command runs as a fresh `python -m swarmscale` process; peak resident memory is",
        "that process's (`getrusage`). Goal from issue 13: no input past 2 GB.",
        "",
        "| what | exit | wall s | peak MB |",
        "|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for label, args in WORST_INPUTS:
            code, wall, peak_mb = _measure(args, Path(folder) / "runs.duckdb")
            lines.append(f"| {label} | {code} | {wall:.1f} | {peak_mb:,.0f} |")
    return lines
