"""Fuzzed option values for every computing verb: exit 0 with finite JSON, or exit 2 naming the
option; never exit 1, never a stored run or an output file on failure (see `checks.py`)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CliRunner
from tests.fuzz.checks import check_outcome, stored_runs
from tests.fuzz.conftest import fuzz_settings

SPECIAL = ["nan", "-nan", "inf", "-inf", "0", "-0", "-1", "1e308", "1e-320", "", "abc", "1e6"]
hostile = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
)
# Values a user would plausibly type, so that about half the runs get past validation.
PLAUSIBLE = {
    "--tokens": st.floats(1e9, 1e13).map(lambda x: f"{x:.3g}"),
    "--global-batch-tokens": st.sampled_from(["1e6", "2e6", "4e6", "8e6"]),
    "--seq": st.sampled_from(["1024", "2048", "4096", "8192"]),
    "--chips": st.sampled_from(["8", "16", "32", "64", "128", "12"]),
    "--prefix-hit": st.floats(0, 0.9).map(lambda x: f"{x:.2f}"),
}
small = st.one_of(
    st.integers(min_value=1, max_value=64).map(str),
    st.floats(min_value=0.01, max_value=100).map(lambda x: f"{x:.3g}"),
)


def values_for(flag: str) -> st.SearchStrategy[str]:
    return st.one_of(hostile, PLAUSIBLE.get(flag, small), PLAUSIBLE.get(flag, small))


numbers = st.one_of(hostile, small)

# Each verb: a cheap valid command line, and the options to fuzz (one or two at a time).
VERBS = {
    "train": (
        ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "16", "--tokens",
         "1e12", "--seq", "2048"],
        ["--chips", "--tokens", "--seq", "--global-batch-tokens", "--top"],
    ),
    "serve": (
        ["serve", "--model", "llama3-8b", "--chip", "h100-sxm", "--rate", "2", "--input", "500",
         "--output", "50"],
        ["--rate", "--input", "--output", "--ttft", "--tpot", "--prefix-hit"],
    ),
    "serve-sim": (
        ["serve-sim", "--model", "llama3-8b", "--chip", "h100-sxm", "--trace", "azure-conv",
         "--requests", "50"],
        ["--replicas", "--tp", "--speedup", "--requests", "--ttft", "--tpot"],
    ),
    "simulate": (
        ["simulate", "--network", "test-3-sites", "--trace", "philly", "--jobs", "30"],
        ["--jobs", "--speedup"],
    ),
    "mixed": (
        ["mixed", "--model", "llama3-8b", "--fleet", "h100-sxm:16,a100-sxm-80gb:16"],
        ["--tokens", "--seq", "--global-batch-tokens"],
    ),
}  # fmt: skip


def _fuzz(run_cli: CliRunner, verb: str, edits: dict[str, str], plot: Path | None) -> None:
    base, _ = VERBS[verb]
    args = [*base]
    for flag, value in edits.items():
        args += [flag, value] if not value.startswith("-") else [f"{flag}={value}"]
    outputs: tuple[Path, ...] = ()
    if plot is not None and verb == "simulate":
        args += ["--plot", str(plot)]
        outputs = (plot,)
    before = stored_runs()
    check_outcome(verb, run_cli([*args, "--json"]), before, tuple(edits), outputs)


@fuzz_settings(40)
@given(
    verb=st.sampled_from(sorted(VERBS)),
    data=st.data(),
)
def test_fuzzed_options(run_cli: CliRunner, tmp_path: Path, verb: str, data: st.DataObject) -> None:
    flags = data.draw(
        st.lists(st.sampled_from(VERBS[verb][1]), min_size=1, max_size=2, unique=True)
    )
    edits = {flag: data.draw(values_for(flag), label=flag) for flag in flags}
    plot = tmp_path / f"plot-{abs(hash(tuple(edits.items())))}.png"
    _fuzz(run_cli, verb, edits, plot if data.draw(st.booleans(), label="plot") else None)


@fuzz_settings(15)
@given(
    text=st.one_of(
        st.text(max_size=40),
        st.lists(
            st.tuples(st.sampled_from(["h100-sxm", "ascend-910b", "h2o", ""]), numbers),
            max_size=3,
        ).map(lambda items: ",".join(f"{chip}:{count}" for chip, count in items)),
    )
)
def test_fuzzed_fleet_lists(run_cli: CliRunner, text: str) -> None:
    """`--fleet CHIP:COUNT,...` of `mixed` and `policy check`."""
    for args in (
        ["mixed", "--model", "llama3-8b", f"--fleet={text}", "--json"],
        ["policy", "check", "--policy", "cn-beijing-70", f"--fleet={text}", "--json"],
    ):
        check_outcome("fleet list", run_cli(args), stored_runs(), ("--fleet", "unknown chip"))


@fuzz_settings(15)
@given(plan=st.text(alphabet="tpdcevzromb=,0123456789-_ ", max_size=30))
def test_fuzzed_plans(run_cli: CliRunner, plan: str) -> None:
    base, _ = VERBS["train"]
    result = run_cli([*base, f"--plan={plan}", "--json"])
    check_outcome("plan", result, stored_runs(), ("plan", "--plan", "no plan fits", "feasible"))
