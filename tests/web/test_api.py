"""The JSON API answers what the CLI answers, refuses bad requests with a reason, and stores a
run only when asked to (POST /api/runs), never a failed one."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.conftest import CliRunner
from tests.web.conftest import count_runs

JOB = {"model": "llama3-8b", "chip": "h100-sxm", "chips": 64}
SERVE = {
    "model": "llama3-70b",
    "chips": ["h100-sxm", "h20"],
    "rate": 10,
    "input_len": 1000,
    "output_len": 200,
}
FLEET = {"model": "llama3-70b", "tokens": 15e12, "deadline_days": 60, "policy": "cn-no-h20"}
SIMULATE = {"network": "test-3-sites", "trace": "philly", "scheduler": "hetero", "jobs": 200}


def test_train_matches_the_cli_and_is_not_stored(client: TestClient, run_cli: CliRunner) -> None:
    response = client.post("/api/train", json=JOB)
    assert response.status_code == 200 and "run_id" not in response.json()
    assert count_runs() == 0
    code, out, _ = run_cli(
        ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "64", "--json"]
    )
    cli = json.loads(out)
    assert code == 0
    assert response.json()["best"] == cli["best"]


def test_save_stores_exactly_one_run(client: TestClient) -> None:
    saved = client.post("/api/runs", json={"verb": "train", "inputs": JOB})
    assert saved.status_code == 201 and count_runs() == 1
    run = saved.json()
    assert run["verb"] == "train" and run["inputs"]["chips"] == 64 and run["inputs"]["seq"] == 4096
    assert client.get(f"/api/runs/{run['id']}").json() == run
    assert run["id"] in [listed["id"] for listed in client.get("/api/runs").json()["runs"]]
    assert run["outputs"]["best"] == client.post("/api/train", json=JOB).json()["best"]


def test_failed_requests_are_never_stored(client: TestClient) -> None:
    infeasible = {"model": "llama3-405b", "chip": "h100-sxm", "chips": 1}
    for path, body in (
        ("/api/train", infeasible),
        ("/api/runs", {"verb": "train", "inputs": infeasible}),
        ("/api/runs", {"verb": "train", "inputs": {**JOB, "chip": "h1000"}}),
        ("/api/runs", {"verb": "fleet", "inputs": {**FLEET, "policy": "nowhere"}}),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 422, (path, body)
    assert "no feasible plan" in client.post("/api/train", json=infeasible).json()["detail"]
    assert count_runs() == 0


def test_bad_fields_name_the_field_and_allowed_values(client: TestClient) -> None:
    response = client.post("/api/train", json={**JOB, "chips": 0})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "chips"
    response = client.post("/api/train", json={**JOB, "precision": "int4"})
    assert response.status_code == 422 and "bf16" in json.dumps(response.json())
    response = client.post("/api/train", json={**JOB, "chip": "h1000"})
    assert response.status_code == 422 and "did you mean h100-sxm" in response.json()["detail"]
    response = client.post("/api/train", content=b'{"chips": NaN}')
    assert response.status_code == 422
    assert client.get("/api/runs/nope").status_code == 404


def test_unknown_fields_are_refused_by_name(client: TestClient) -> None:
    for path, body in (
        ("/api/train", {**JOB, "tokenz": 1e12}),
        ("/api/serve", {**SERVE, "tokenz": 1}),
        ("/api/runs", {"verb": "train", "inputs": {**JOB, "tokenz": 1e12}}),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 422
        problem = response.json()["detail"][0]
        assert problem["type"] == "extra_forbidden" and problem["loc"][-1] == "tokenz"


def test_body_size_and_nesting_limits(client: TestClient) -> None:
    big = client.post("/api/train", json={**JOB, "plan": "x" * 70_000})
    assert big.status_code == 413 and "65,536 bytes" in big.json()["detail"]
    chunked = client.post("/api/train", content=iter([b"x" * 40_000, b"x" * 40_000]))
    assert chunked.status_code == 413
    deep = client.post("/api/train", content=b"[" * 20_000 + b"]" * 20_000)
    assert deep.status_code == 422 and "nested" in deep.json()["detail"]
    deep_field = {**JOB, "plan": json.loads("[" * 40 + "]" * 40)}
    assert client.post("/api/train", json=deep_field).status_code == 422
    brackets_in_text = {**JOB, "plan": "[" * 100}  # inside a string: not nesting
    assert "nested" not in json.dumps(client.post("/api/train", json=brackets_in_text).json())


def test_compare_uses_catalog_numbers(client: TestClient) -> None:
    result = client.get("/api/compare", params={"ids": ["h100-sxm", "a100-sxm-80gb"]}).json()
    bf16 = next(row for row in result["rows"] if row["field"] == "peak.bf16")
    assert bf16["values"]["h100-sxm"]["value"] == 989.0  # NVIDIA H100 datasheet, dense BF16
    assert client.get("/api/compare", params={"ids": ["nope"]}).status_code == 422


def test_serve_matches_the_cli(client: TestClient, run_cli: CliRunner) -> None:
    response = client.post("/api/serve", json=SERVE)
    assert response.status_code == 200
    code, out, _ = run_cli(
        [
            "serve",
            "--model",
            "llama3-70b",
            "--chip",
            "h100-sxm",
            "--compare",
            "h20",
            "--rate",
            "10",
            "--input",
            "1000",
            "--output",
            "200",
            "--json",
        ]
    )
    assert code == 0
    assert response.json()["designs"] == json.loads(out)["designs"]
    bad = client.post("/api/serve", json={**SERVE, "prefix_hit": 1.5})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "prefix_hit"


def test_fleet_matches_the_cli(client: TestClient, run_cli: CliRunner) -> None:
    response = client.post("/api/fleet", json=FLEET)
    assert response.status_code == 200
    code, out, _ = run_cli(
        [
            "fleet",
            "--model",
            "llama3-70b",
            "--tokens",
            "15e12",
            "--deadline-days",
            "60",
            "--policy",
            "cn-no-h20",
            "--json",
        ]
    )
    assert code == 0
    cli = json.loads(out)
    assert response.json()["fleet"] == cli["fleet"]
    assert response.json()["cost_usd"] == cli["cost_usd"]
    bad = client.post("/api/fleet", json={**FLEET, "policy": "nowhere"})
    assert bad.status_code == 422 and "unknown policy 'nowhere'" in bad.json()["detail"]


def test_simulate_matches_the_cli(client: TestClient, run_cli: CliRunner) -> None:
    response = client.post("/api/simulate", json=SIMULATE)
    assert response.status_code == 200
    code, out, _ = run_cli(
        [
            "simulate",
            "--network",
            "test-3-sites",
            "--trace",
            "philly",
            "--scheduler",
            "hetero",
            "--jobs",
            "200",
            "--json",
        ]
    )
    assert code == 0
    cli = json.loads(out)["summary"]
    assert response.json()["mean_jct_h"] == cli["mean_jct_h"]
    assert response.json()["utilisation"] == cli["utilisation"]


def test_the_web_never_names_a_server_file(client: TestClient) -> None:
    for path, body, field in (
        ("/api/simulate", {**SIMULATE, "network": "/etc/passwd.yaml"}, "network"),
        ("/api/simulate", {**SIMULATE, "network": "net.yaml"}, "network"),
        ("/api/simulate", {**SIMULATE, "network": "synthetic-201"}, "network"),
        ("/api/simulate", {**SIMULATE, "trace": "/etc/passwd"}, "trace"),
        ("/api/fleet", {**FLEET, "policy": "../policy.yaml"}, "policy"),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"][-1] == field
