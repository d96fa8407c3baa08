"""Planner pages: the form shows exactly the inputs that were computed, a GET never stores, and
"Save run" stores the shown inputs once."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from swarmscale.api.inputs import TrainInput
from swarmscale.web.inputs import WebSimulateInput, from_form
from tests.web.conftest import count_runs, submitted

TRAIN_LINK = {"model": "llama3-70b", "chip": "h100-sxm", "chips": "1024"}
SIMULATE_LINK = {"network": "test-3-sites"}
SERVE_FORM = {
    "model": "llama3-70b",
    "chips": "h100-sxm,mlu370-x8",
    "rate": "10",
    "input_len": "1000",
    "output_len": "200",
}


def test_train_link_shows_the_inputs_it_priced(client: TestClient) -> None:
    """Issue: the form showed tokens 15e12 while one step was priced."""
    page = client.get("/train", params=TRAIN_LINK)
    assert page.status_code == 200
    shown = submitted(page.text, "planner")
    assert shown["tokens"] == ""
    computed = from_form(TrainInput, shown)
    assert computed == TrainInput(model="llama3-70b", chip="h100-sxm", chips=1024)
    assert submitted(page.text, "save") == shown
    assert "one optimizer step" in page.text
    best = client.post("/api/train", json=computed.model_dump()).json()["best"]
    assert f"<td>{best['totals']['cost_usd']:.4g}</td>" in page.text


def test_simulate_link_shows_the_scheduler_and_jobs_it_ran(client: TestClient) -> None:
    """Issue: the form showed hetero on 300 jobs while FIFO ran on 500."""
    page = client.get("/simulate", params=SIMULATE_LINK)
    shown = submitted(page.text, "planner")
    assert (shown["scheduler"], shown["jobs"]) == ("fifo", "")
    computed = from_form(WebSimulateInput, shown)
    assert computed == WebSimulateInput(network="test-3-sites")
    summary = client.post("/api/simulate", json=computed.model_dump()).json()
    assert f"<td>finished</td><td>{summary['finished']}</td>" in page.text


def test_get_never_stores(client: TestClient) -> None:
    for path, params in (
        ("/train", TRAIN_LINK),
        ("/simulate", SIMULATE_LINK),
        ("/serve", SERVE_FORM),
        ("/train", {**TRAIN_LINK, "chips": "1"}),  # no feasible plan
        ("/train", {**TRAIN_LINK, "chips": "many"}),
    ):
        client.get(path, params=params)
    assert count_runs() == 0


def test_save_run_stores_the_shown_inputs_once(client: TestClient) -> None:
    page = client.get("/simulate", params=SIMULATE_LINK)
    saved = client.post("/simulate", data=submitted(page.text, "save"), follow_redirects=False)
    assert saved.status_code == 303 and count_runs() == 1
    run_page = client.get(saved.headers["location"])
    assert run_page.status_code == 200 and "simulate run" in run_page.text
    run_id = saved.headers["location"].removeprefix("/runs/")
    stored = client.get(f"/api/runs/{run_id}").json()
    shown = from_form(WebSimulateInput, submitted(page.text, "planner"))
    assert stored["inputs"] == shown.model_dump(mode="json")


def test_failed_save_shows_why_and_stores_nothing(client: TestClient) -> None:
    saved = client.post("/train", data={**TRAIN_LINK, "chips": "1"}, follow_redirects=False)
    assert saved.status_code == 422 and "no feasible plan" in saved.text
    bad = client.post("/train", data={**TRAIN_LINK, "chips": "-3"}, follow_redirects=False)
    assert bad.status_code == 422 and "chips: &#x27;-3&#x27; is out of range" in bad.text
    assert submitted(bad.text, "planner")["chips"] == "-3"  # a refusal shows what was sent
    assert count_runs() == 0


def test_serve_page_shows_a_chip_that_cannot(client: TestClient) -> None:
    page = client.get("/serve", params=SERVE_FORM)
    assert page.status_code == 200
    rows = re.findall(r"<tr><td>(h100-sxm|mlu370-x8)</td><td[^>]*>([^<]*)</td>", page.text)
    assert rows[0][0] == "h100-sxm" and "tp=" in rows[0][1]
    assert rows[1][0] == "mlu370-x8" and rows[1][1].startswith("cannot: ")
    assert "Plotly.newPlot" in page.text  # the chart of the chip that can


def test_empty_form_shows_the_model_defaults(client: TestClient) -> None:
    shown = submitted(client.get("/train").text, "planner")
    assert shown["model"] == "" and shown["tokens"] == ""
    assert shown["seq"] == str(TrainInput.default("seq"))
    assert shown["objective"] == TrainInput.default("objective")
    fleet = submitted(client.get("/fleet").text, "planner")
    assert fleet["policy"] == "unrestricted" and fleet["pareto"] == "false"


def test_pages_render_offline(client: TestClient) -> None:
    page = client.get("/train", params={"model": "llama3-8b", "chip": "h100-sxm", "chips": "64"})
    assert page.status_code == 200 and "id='result'" in page.text
    assert "cdn" not in page.text.lower() and "/static/plotly.min.js" in page.text
    assert client.get("/static/plotly.min.js").status_code == 200
    bad = client.get("/train", params={"model": "llama3-8b", "chip": "h100-sxm", "chips": "abc"})
    assert bad.status_code == 422 and "chips: Input should be a valid integer" in bad.text
    unknown = client.get("/train", params={**TRAIN_LINK, "tokenz": "1e12"})
    assert unknown.status_code == 422 and "tokenz: unknown field" in unknown.text
    assert "id='comparison'" in client.get("/", params={"ids": ["h100-sxm", "mi300x"]}).text


def test_fleet_page(client: TestClient) -> None:
    params = {"model": "llama3-70b", "tokens": "15e12", "deadline_days": "60"}
    page = client.get("/fleet", params={**params, "policy": "cn-no-h20"})
    assert "id='result'" in page.text and "under cn-no-h20" in page.text
    assert submitted(page.text, "planner")["pareto"] == "false"  # the front takes 8 more solves
