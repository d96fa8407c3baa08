"""The JSON API answers what the CLI answers, and refuses bad fields with a reason."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from swarmscale.web.app import app
from tests.conftest import CliRunner

client = TestClient(app)
JOB = {"model": "llama3-8b", "chip": "h100-sxm", "chips": 64}


def test_train_matches_the_cli(run_cli: CliRunner) -> None:
    response = client.post("/api/train", json=JOB)
    assert response.status_code == 200
    code, out, _ = run_cli(
        ["train", "--model", "llama3-8b", "--chip", "h100-sxm", "--chips", "64", "--json"]
    )
    cli = json.loads(out)
    assert code == 0
    assert response.json()["best"]["plan_text"] == cli["best"]["plan_text"]
    assert response.json()["best"]["totals"]["step_s"] == cli["best"]["totals"]["step_s"]
    run_id = response.json()["run_id"]
    assert client.get(f"/api/runs/{run_id}").json()["outputs"]["best"] == cli["best"]
    assert run_id in [run["id"] for run in client.get("/api/runs").json()["runs"]]


def test_bad_fields_name_the_field_and_allowed_values() -> None:
    response = client.post("/api/train", json={**JOB, "chips": 0})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "chips"
    response = client.post("/api/train", json={**JOB, "precision": "fp4"})
    assert response.status_code == 422 and "bf16" in json.dumps(response.json())
    response = client.post("/api/train", json={**JOB, "chip": "h1000"})
    assert response.status_code == 422 and "did you mean h100-sxm" in response.json()["detail"]
    assert client.get("/api/runs/nope").status_code == 404


def test_compare_uses_catalog_numbers() -> None:
    result = client.get("/api/compare", params={"ids": ["h100-sxm", "a100-sxm-80gb"]}).json()
    bf16 = next(row for row in result["rows"] if row["field"] == "peak.bf16")
    assert bf16["values"]["h100-sxm"]["value"] == 989.0  # NVIDIA H100 datasheet, dense BF16
    assert client.get("/api/compare", params={"ids": ["nope"]}).status_code == 422


def test_pages_render_offline() -> None:
    page = client.get("/train", params={"model": "llama3-8b", "chip": "h100-sxm", "chips": "64"})
    assert page.status_code == 200 and "id='result'" in page.text
    assert "cdn" not in page.text.lower() and "/static/plotly.min.js" in page.text
    assert client.get("/static/plotly.min.js").status_code == 200
    bad = client.get("/train", params={"model": "llama3-8b", "chip": "h100-sxm", "chips": "abc"})
    assert "chips: Input should be a valid integer" in bad.text
    assert "id='comparison'" in client.get("/", params={"ids": ["h100-sxm", "mi300x"]}).text


def test_serve_matches_the_cli(run_cli: CliRunner) -> None:
    body = {
        "model": "llama3-70b",
        "chips": ["h100-sxm", "h20"],
        "rate": 10,
        "input_len": 1000,
        "output_len": 200,
    }
    response = client.post("/api/serve", json=body)
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
    bad = client.post("/api/serve", json={**body, "prefix_hit": 1.5})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "prefix_hit"
    page = client.get(
        "/serve",
        params={
            "model": "llama3-70b",
            "chips": "h100-sxm,h20",
            "rate": "10",
            "input_len": "1000",
            "output_len": "200",
        },
    )
    assert "id='result'" in page.text and "h20" in page.text


def test_fleet_matches_the_cli(run_cli: CliRunner) -> None:
    body = {"model": "llama3-70b", "tokens": 15e12, "deadline_days": 60, "policy": "cn-no-h20"}
    response = client.post("/api/fleet", json=body)
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
    assert (
        response.json()["fleet"] == cli["fleet"] and response.json()["cost_usd"] == cli["cost_usd"]
    )
    bad = client.post("/api/fleet", json={**body, "policy": "nowhere"})
    assert bad.status_code == 422 and "unknown policy 'nowhere'" in bad.json()["detail"]
    page = client.get("/fleet", params={k: str(v) for k, v in body.items()})
    assert "id='result'" in page.text and "Plotly.newPlot" in page.text  # the cost-days front


def test_simulate_matches_the_cli(run_cli: CliRunner) -> None:
    body = {"network": "test-3-sites", "trace": "philly", "scheduler": "hetero", "jobs": 200}
    response = client.post("/api/simulate", json=body)
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
    for network in ("/etc/passwd.yaml", "synthetic-100000"):
        bad = client.post("/api/simulate", json={**body, "network": network})
        assert bad.status_code == 422 and "network" in bad.json()["detail"]
    page = client.get("/simulate", params={k: str(v) for k, v in body.items()})
    assert "id='result'" in page.text and "Plotly.newPlot" in page.text  # utilisation per pool
