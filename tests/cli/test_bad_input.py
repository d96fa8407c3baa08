"""Bad input, class by class, as a new user hit it: each gives exit 2 with a message naming the
field or file, never exit 1, and nothing is stored or left half-written.

The classes are the ones a session's fuzzing found (non-finite and out-of-range numbers, output
paths, hostile files, caps, failed runs stored, misleading errors); `tests/fuzz/` generates
more of each.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from swarmscale.catalog.loader import DATA_ROOT
from swarmscale.store import ResultsStore
from tests.conftest import CliRunner

TRAIN = ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "8"]
SERVE = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm", "--input", "500", "--output", "50"]
SIMULATE = ["simulate", "--network", "test-3-sites", "--jobs", "20"]
SERVE_SIM = ["serve-sim", "--model", "llama3-8b", "--chip", "h100-sxm", "--requests", "20"]
FLEET = ["fleet", "--model", "llama3-8b", "--tokens", "1e12"]
DEEP = "a: " + "[" * 20_000 + "]" * 20_000 + "\n"
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def assert_bad_input(result: tuple[int, str, str], *names: str) -> str:
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "internal error" not in err and "Traceback" not in err
    for name in names:
        assert name in err, (name, err)
    assert ResultsStore().list() == []  # a failed run is never stored
    return err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ([*TRAIN, "--tokens", "nan"], "--tokens"),
        ([*TRAIN, "--tokens", "inf"], "--tokens"),
        ([*TRAIN, "--tokens", "1e30"], "--tokens"),
        ([*TRAIN, "--tokens", "1e-300"], "--tokens"),
        ([*TRAIN, "--global-batch-tokens", "-1"], "--global-batch-tokens"),
        ([*TRAIN, "--global-batch-tokens", "0"], "--global-batch-tokens"),
        ([*TRAIN, "--global-batch-tokens", "nan"], "--global-batch-tokens"),
        ([*TRAIN, "--global-batch-tokens", "inf"], "--global-batch-tokens"),
        ([*TRAIN, "--global-batch-tokens", "1e30"], "--global-batch-tokens"),
        ([*TRAIN, "--chips", "0"], "--chips"),
        ([*TRAIN[:-1], "99999999999"], "--chips"),
        ([*TRAIN, "--plan", "tp=8,tp=4"], "tp is given twice"),
        ([*TRAIN, "--plan", "tp=99999999999"], "plan field tp"),
        ([*SERVE, "--rate", "1e30"], "--rate"),
        ([*SERVE, "--rate", "nan"], "--rate"),
        ([*SERVE, "--rate", "1", "--ttft", "-1"], "--ttft"),
        ([*SERVE, "--rate", "1", "--prefix-hit", "1"], "--prefix-hit"),
        ([*SIMULATE, "--jobs", "-1"], "--jobs"),
        ([*SIMULATE, "--speedup", "nan"], "--speedup"),
        ([*SIMULATE, "--speedup", "inf"], "--speedup"),
        ([*SIMULATE, "--speedup", "1e-300"], "--speedup"),
        (["simulate", "--network", "synthetic-10000000"], "synthetic-N"),
        ([*SERVE_SIM, "--trace", "azure-conv", "--speedup", "nan"], "--speedup"),
        ([*SERVE_SIM, "--trace", "azure-conv", "--replicas", "100000", "--tp", "64"], "replicas"),
        ([*FLEET, "--deadline-days", "inf"], "--deadline-days"),
        ([*FLEET, "--deadline-days", "30", "--budget", "-1"], "--budget"),
        (["equiv", "--ref", "a:8,b:8", "--candidate", "h800-sxm", "--model", "llama3-8b"], "--ref"),
        (
            ["equiv", "--ref", "h100-sxm", "--candidate", "h800-sxm", "--model", "llama3-8b"],
            "--ref",
        ),
        (["swarm", "--model", "llama3-8b", "--chip", "h100-sxm", "--max-chips", "1e9"], "--max"),
        (["mixed", "--model", "llama3-8b", "--fleet", "h100-sxm:0"], "--fleet"),
        (["policy", "check", "--policy", "unrestricted", "--fleet", "h100-sxm:-1"], "--fleet"),
        (["runs", "list", "--limit", "0"], "--limit"),
    ],
)
def test_bad_numbers_and_options_name_the_option(
    run_cli: CliRunner, args: list[str], named: str
) -> None:
    assert_bad_input(run_cli(args), named)


def test_caps_on_draws_and_workers(run_cli: CliRunner, tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "model: llama3-8b\nchip: h100-sxm\nchips: 8\ntokens: 1.0e+12\ndraws: 10\n",
        encoding="utf-8",
    )
    assert_bad_input(run_cli(["sweep", str(scenario), "--draws", "10000000"]), "--draws")
    assert_bad_input(run_cli(["sweep", str(scenario), "--workers", "10000"]), "--workers")
    grid = "grid:\n  chips: [" + ", ".join(str(8 * i) for i in range(1, 400)) + "]\n"
    scenario.write_text(scenario.read_text() + grid + "draws: 10000\n", encoding="utf-8")
    assert_bad_input(run_cli(["sweep", str(scenario)]), str(scenario))


@pytest.mark.parametrize(
    ("flag", "suffix"),
    [("--plot", ".png"), ("--markdown", ".md")],
)
def test_output_onto_a_folder_or_under_a_file(
    run_cli: CliRunner, tmp_path: Path, flag: str, suffix: str
) -> None:
    folder = tmp_path / f"out{suffix}"
    folder.mkdir()
    assert_bad_input(run_cli([*SIMULATE, flag, str(folder)]), flag, "folder")
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert_bad_input(run_cli([*SIMULATE, flag, str(blocker / f"x{suffix}")]), flag)
    assert_bad_input(run_cli([*SIMULATE, flag, str(tmp_path / "x.unknown")]), flag)


def test_output_into_a_missing_folder_is_created(run_cli: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "sim.png"
    code, _, err = run_cli([*SIMULATE, "--plot", str(target), "--json"])
    assert code == 0, err
    assert target.stat().st_size > 0
    assert [p.name for p in target.parent.iterdir()] == ["sim.png"]  # no temporary left


def test_a_failed_fleet_plot_writes_nothing(run_cli: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "plot.png"
    folder.mkdir()
    args = [*FLEET, "--deadline-days", "30", "--pareto", "--plot", str(folder)]
    assert_bad_input(run_cli(args), "--plot")


def test_export_never_truncates_a_good_file(run_cli: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "runs.csv"
    good.write_text("kept\n", encoding="utf-8")
    assert_bad_input(run_cli(["runs", "export", "--out", str(good)]), "nothing to export")
    assert good.read_text(encoding="utf-8") == "kept\n"
    assert_bad_input(run_cli(["runs", "export", "--out", str(tmp_path)]), "--out")


def test_read_only_commands_create_no_store(run_cli: CliRunner, results_store: Path) -> None:
    assert_bad_input(run_cli(["runs", "show", "bogus"]), "bogus")
    code, _, _ = run_cli(["runs", "list", "--json"])
    assert code == 0 and not results_store.exists()


def test_no_feasible_plan_is_bad_input_and_not_stored(run_cli: CliRunner) -> None:
    args = ["train", "--model", "llama3-405b", "--chip", "h100-sxm", "--chips", "64", "--json"]
    assert_bad_input(run_cli(args), "no feasible plan", "does not fit in device memory")


def _network_file(tmp_path: Path, **site_changes: object) -> Path:
    document = yaml.safe_load((DATA_ROOT / "networks" / "china-hubs.yaml").read_text())
    network = next(n for n in document["networks"] if n["id"] == "test-3-sites")
    network["sites"][0].update(site_changes)
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump({"networks": [network]}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"power_price_usd_per_kwh": float("nan")}, "power_price_usd_per_kwh"),
        ({"pue": float("inf")}, "pue"),
        ({"inventory": {"h100-sxm": -5}}, "inventory"),
        ({"inventory": {"h100-sxmm": 8}}, "unknown chip"),
        ({"id": "west"}, "site ids must be unique"),
    ],
)
def test_bad_network_files(
    run_cli: CliRunner, tmp_path: Path, change: dict[str, object], field: str
) -> None:
    path = _network_file(tmp_path, **change)
    assert_bad_input(run_cli(["simulate", "--network", str(path), "--jobs", "5"]), field)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,duration,num_gpus\n2017-10-09 07:01:55,nan,1\n", "duration"),
        ("timestamp,duration,num_gpus\n2017-10-09 07:01:55,inf,1\n", "duration"),
        ("timestamp,duration,num_gpus\n2017-10-09 07:01:55,-5,1\n", "duration"),
        ("timestamp,duration,num_gpus\n2017-10-09 07:01:55,60,-2\n", "num_gpus"),
    ],
)
def test_bad_job_traces(run_cli: CliRunner, tmp_path: Path, text: str, message: str) -> None:
    trace = tmp_path / "jobs.csv"
    trace.write_text(text, encoding="utf-8")
    assert_bad_input(run_cli([*SIMULATE, "--trace", str(trace)]), str(trace), message)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("t.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,-3,4\n", "Context"),
        ("t.jsonl", '{"timestamp": "nan", "input_length": 5, "output_length": 5}\n', "timestamp"),
        ("t.jsonl", "[" * 20_000 + "]" * 20_000 + "\n", "nested too deeply"),
        ("t.jsonl", '["not", "an", "object"]\n', "JSON object"),
    ],
)
def test_bad_request_traces(
    run_cli: CliRunner, tmp_path: Path, name: str, text: str, message: str
) -> None:
    trace = tmp_path / name
    trace.write_text(text, encoding="utf-8")
    assert_bad_input(run_cli([*SERVE_SIM, "--trace", str(trace)]), str(trace), message)


def test_bad_device_profiles(run_cli: CliRunner, tmp_path: Path) -> None:
    document = yaml.safe_load((DATA_ROOT / "profiles" / "h100-sxm.yaml").read_text())
    for value in (float("nan"), 0.0):
        document["profiles"][0]["efficiency"]["gemm"]["value"] = value
        path = tmp_path / "profile.yaml"
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        assert_bad_input(run_cli(["--profile", str(path), "chips"]), str(path), "gemm")


def test_bad_policy_and_request_files(run_cli: CliRunner, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "policies:\n  - {id: p, name: p, jurisdiction: CN, date: 2025-01-01, source: test,\n"
        "     rules: [{kind: forbid, id: no-h20, chips: [h2o], reason: r, source: src}]}\n",
        encoding="utf-8",
    )
    assert_bad_input(
        run_cli([*FLEET, "--deadline-days", "30", "--policy", str(policy)]), "unknown chip 'h2o'"
    )
    request = tmp_path / "request.yaml"
    request.write_text(
        "workload: {kind: training, model: llama3-8b, tokens: 1.0e+12, deadline_days: 30}\n"
        "sites: [{id: a}, {id: a}]\n",
        encoding="utf-8",
    )
    assert_bad_input(run_cli(["fleet", "--workload", str(request)]), "'a' appears more than once")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DEEP, "nested deeper than"),
        (ALIAS_BOMB, "expands to more than"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
    ],
)
def test_hostile_yaml_in_every_loader(
    run_cli: CliRunner, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    for args in (
        ["validate", str(path)],
        ["sweep", str(path)],
        ["fleet", "--workload", str(path)],
        [*FLEET, "--deadline-days", "30", "--policy", str(path)],
        ["simulate", "--network", str(path)],
        ["--profile", str(path), "chips"],
    ):
        assert_bad_input(run_cli(args), str(path), message)


def test_binary_files_and_folders_name_the_file(run_cli: CliRunner, tmp_path: Path) -> None:
    binary = tmp_path / "cases.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert_bad_input(run_cli(["validate", str(binary)]), str(binary), "not UTF-8")
    assert_bad_input(run_cli(["validate", str(tmp_path)]), str(tmp_path), "folder")
    trace = tmp_path / "trace.csv"
    trace.write_bytes(b"\xff\xfe" * 100)
    assert_bad_input(run_cli([*SERVE_SIM, "--trace", str(trace)]), str(trace), "not UTF-8")
    assert_bad_input(run_cli([*SIMULATE, "--trace", str(trace)]), str(trace), "not UTF-8")
