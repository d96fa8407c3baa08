"""`swarmscale web`: a JSON API (described by OpenAPI) and server-rendered pages over it.

Pages are plain HTML from the server; plotly.js is served from the installed plotly package, so
nothing is fetched from a CDN.
"""

from __future__ import annotations

import datetime as dt
import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import plotly
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from swarmscale import __version__
from swarmscale.catalog import CatalogError, UnknownIdError, UnknownValueError, default_catalog
from swarmscale.catalog.schemas import FleetRequest, WorkloadSpec
from swarmscale.cli.policy_commands import fleet_payload
from swarmscale.cli.runs_commands import record_run
from swarmscale.cli.serve_commands import serve_payload
from swarmscale.cli.simulate_commands import run_network_simulation
from swarmscale.cli.train_commands import train_payload
from swarmscale.plan.serving import ServingTarget
from swarmscale.report.run_report import charts_html, render_html
from swarmscale.report.specs import compare
from swarmscale.store import ResultsStore, Run, StoreError

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_URL = "/static/plotly.min.js"
TRAIN_FIELDS = (
    ("model", "llama3-70b"),
    ("chip", "h100-sxm"),
    ("chips", "1024"),
    ("tokens", "15e12"),
    ("seq", "4096"),
    ("objective", "time"),
)
SERVE_FIELDS = (
    ("model", "llama3-70b"),
    ("chips", "h100-sxm,h20"),
    ("rate", "10"),
    ("input_len", "1000"),
    ("output_len", "200"),
    ("ttft", "2"),
    ("tpot", "0.05"),
)
FLEET_FIELDS = (
    ("model", "llama3-70b"),
    ("tokens", "15e12"),
    ("deadline_days", "60"),
    ("policy", "unrestricted"),
)
SIMULATE_FIELDS = (
    ("network", "test-3-sites"),
    ("trace", "philly"),
    ("scheduler", "hetero"),
    ("jobs", "300"),
)
BAD_INPUT = (CatalogError, UnknownIdError, UnknownValueError, StoreError, ValueError)


class TrainRequest(BaseModel):
    """One training job; bounds keep requests to what the planner can answer."""

    model: str = Field(min_length=1, max_length=100, description="Model id, e.g. llama3-70b")
    chip: str = Field(min_length=1, max_length=100, description="Chip id, e.g. h100-sxm")
    chips: int = Field(ge=1, le=1_000_000, description="Chips available")
    tokens: float | None = Field(default=None, gt=0, le=1e15, description="Training tokens")
    seq: int = Field(default=4096, ge=128, le=1_048_576, description="Sequence length")
    global_batch_tokens: float = Field(default=4e6, ge=1e4, le=1e9)
    precision: Literal["bf16", "fp8"] = "bf16"
    system: str | None = Field(default=None, max_length=100, description="Scale-up system id")
    objective: Literal["time", "cost", "energy"] = "time"


class ServeRequest(BaseModel):
    """A load to serve within latency targets, on one or more chips (compared to the first)."""

    model: str = Field(min_length=1, max_length=100, description="Model id, e.g. llama3-70b")
    chips: list[str] = Field(min_length=1, max_length=8, description="Chip ids, e.g. [h100-sxm]")
    rate: float = Field(gt=0, le=1e6, description="Requests per second")
    input_len: int = Field(ge=1, le=1_000_000, description="Prompt tokens per request")
    output_len: int = Field(ge=1, le=100_000, description="Output tokens per request")
    ttft: float = Field(default=2.0, gt=0, le=600, description="Time-to-first-token target, s")
    tpot: float = Field(default=0.05, gt=0, le=10, description="Time-per-output-token target, s")
    precision: Literal["bf16", "fp8", "int8", "int4"] = "bf16"
    prefix_hit: float = Field(default=0.0, ge=0, le=1, description="Share of prompts cached")
    disaggregate: bool = False


class FleetQuery(BaseModel):
    """A training job with a deadline, to be met by the cheapest fleet a sourcing policy allows."""

    model: str = Field(min_length=1, max_length=100, description="Model id, e.g. llama3-70b")
    tokens: float = Field(gt=0, le=1e15, description="Training tokens")
    deadline_days: float = Field(gt=0, le=3650, description="Training deadline, days")
    policy: str = Field(default="unrestricted", min_length=1, max_length=100)
    objective: Literal["cost", "energy"] = "cost"
    pareto: bool = Field(default=False, description="Also trace cost against training time")


class SimulateQuery(BaseModel):
    """A shipped job trace through a catalog network (files are for the CLI, not the web)."""

    network: str = Field(
        min_length=1, max_length=100, description="Catalog network id, or synthetic-N (N <= 200)"
    )
    trace: Literal["philly", "alibaba"] = "philly"
    scheduler: Literal["fifo", "sjf", "hetero", "energy"] = "fifo"
    policy_aware: bool = False
    speedup: float = Field(
        default=1.0, gt=0, le=1000, description="Arrivals this many times faster"
    )
    jobs: int = Field(default=500, ge=1, le=5000, description="Only the first N jobs")


app = FastAPI(
    title="swarmscale",
    version=__version__,
    description="Plan and predict AI training on heterogeneous accelerator fleets.",
)


@app.exception_handler(UnknownIdError)
@app.exception_handler(UnknownValueError)
@app.exception_handler(CatalogError)
@app.exception_handler(StoreError)
@app.exception_handler(ValueError)
async def bad_input(_: Request, exc: Exception) -> JSONResponse:
    """Unknown ids and impossible jobs are the caller's mistake: 422 with the reason."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return JSONResponse(status_code=422, content={"detail": message})


@app.get("/api/chips", summary="Every chip in the catalog")
def api_chips() -> dict[str, Any]:
    catalog = default_catalog()
    chips = [chip.model_dump(mode="json") for chip in catalog.chips.values()]
    return {"catalog_version": catalog.version, "chips": chips}


@app.get("/api/compare", summary="Specs side by side, ratios to the first chip")
def api_compare(ids: Annotated[list[str], Query(min_length=1, max_length=8)]) -> dict[str, Any]:
    catalog = default_catalog()
    return compare([catalog.chip(chip_id) for chip_id in ids])


@app.post("/api/train", summary="Best parallel plan and totals for a training job")
def api_train(request: TrainRequest) -> dict[str, Any]:
    return _train(request)[1]


@app.post("/api/serve", summary="Serving layout, replicas and cost within TTFT and TPOT")
def api_serve(request: ServeRequest) -> dict[str, Any]:
    return _serve(request)[1]


@app.post("/api/fleet", summary="Cheapest fleet that trains the job by the deadline under a policy")
def api_fleet(request: FleetQuery) -> dict[str, Any]:
    return _fleet(request)[1]


@app.post("/api/simulate", summary="A job trace through a network of sites under a scheduler")
def api_simulate(request: SimulateQuery) -> dict[str, Any]:
    return _simulate(request)[1]


@app.get("/api/runs", summary="Recent stored runs, newest first")
def api_runs(limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    return {"runs": [_summary(run) for run in ResultsStore().list(limit=limit)]}


@app.get("/api/runs/{run_id}", summary="One stored run")
def api_run(run_id: str) -> dict[str, Any]:
    return _stored(run_id).as_dict()


@app.get(PLOTLY_URL, include_in_schema=False)
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript")


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
def page_catalog(ids: Annotated[list[str] | None, Query()] = None) -> str:
    catalog = default_catalog()
    rows = "".join(
        f"<tr><td><input type='checkbox' name='ids' value='{html.escape(chip.id)}'></td>"
        f"<td>{html.escape(chip.id)}</td><td>{html.escape(chip.name)}</td>"
        f"<td>{html.escape(chip.vendor)}</td></tr>"
        for chip in catalog.chips.values()
    )
    body = (
        "<h1>Chips</h1><form action='/' method='get'><table><tr><th></th><th>id</th>"
        f"<th>name</th><th>vendor</th></tr>{rows}</table>"
        "<button type='submit'>Compare selected</button></form>"
    )
    if ids:
        try:
            body += _comparison(compare([catalog.chip(chip_id) for chip_id in ids]))
        except UnknownIdError as exc:
            body += _error(exc.args[0])
    return _page("Catalog", body)


@app.get("/train", response_class=HTMLResponse, include_in_schema=False)
def page_train(request: Request) -> str:
    return _planner_page(
        "Training planner",
        "/train",
        TRAIN_FIELDS,
        dict(request.query_params),
        lambda values: _train(TrainRequest.model_validate(values)),
        _train_result,
    )


@app.get("/serve", response_class=HTMLResponse, include_in_schema=False)
def page_serve(request: Request) -> str:
    def solve(values: dict[str, str]) -> tuple[Run, dict[str, Any]]:
        chips = [chip.strip() for chip in values.get("chips", "").split(",") if chip.strip()]
        return _serve(ServeRequest.model_validate({**values, "chips": chips}))

    return _planner_page(
        "Serving planner", "/serve", SERVE_FIELDS, dict(request.query_params), solve, _serve_result
    )


@app.get("/fleet", response_class=HTMLResponse, include_in_schema=False)
def page_fleet(request: Request) -> str:
    return _planner_page(
        "Fleet optimiser",
        "/fleet",
        FLEET_FIELDS,
        dict(request.query_params),
        lambda values: _fleet(FleetQuery.model_validate({**values, "pareto": True})),
        _fleet_result,
    )


@app.get("/simulate", response_class=HTMLResponse, include_in_schema=False)
def page_simulate(request: Request) -> str:
    return _planner_page(
        "Network simulation",
        "/simulate",
        SIMULATE_FIELDS,
        dict(request.query_params),
        lambda values: _simulate(SimulateQuery.model_validate(values)),
        _simulate_result,
    )


@app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
def page_runs() -> str:
    rows = "".join(
        f"<tr><td><a href='/runs/{run.id}'>{run.id}</a></td><td>{run.verb}</td>"
        f"<td>{run.created:%Y-%m-%d %H:%M:%S}</td><td>{run.wall_s:.3g}</td></tr>"
        for run in ResultsStore().list(limit=200)
    )
    table = f"<table><tr><th>id</th><th>verb</th><th>created</th><th>wall s</th></tr>{rows}</table>"
    return _page("Past runs", f"<h1>Past runs</h1>{table}")


@app.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
def page_run(run_id: str) -> str:
    return render_html(_stored(run_id), PLOTLY_URL)


def _train(request: TrainRequest) -> tuple[Run, dict[str, Any]]:
    started = time.perf_counter()
    fields = request.model_dump()
    _, result, payload = train_payload(**fields, plan=None, top=5, started=started)
    if result.best is None:
        reasons = "; ".join(f"{count} {why}" for why, count in result.rejected.items())
        raise ValueError(f"no feasible plan among {result.evaluated}: {reasons}")
    run = _as_run("train", fields, payload, started)
    return run, payload


def _stored(run_id: str) -> Run:
    try:
        return ResultsStore().get(run_id)
    except StoreError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


def _summary(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "verb": run.verb,
        "created": run.created.isoformat(),
        "wall_s": run.wall_s,
    }


def _field_error(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "form"
    return f"{field}: {error['msg']}"


def _serve(request: ServeRequest) -> tuple[Run, dict[str, Any]]:
    started = time.perf_counter()
    target = ServingTarget(
        request.rate, request.input_len, request.output_len, request.ttft, request.tpot
    )
    payload = serve_payload(
        request.model,
        request.chips,
        target,
        request.precision,
        request.prefix_hit,
        request.disaggregate,
        started,
    )
    return _as_run("serve", request.model_dump(), payload, started), payload


def _fleet(query: FleetQuery) -> tuple[Run, dict[str, Any]]:
    started = time.perf_counter()
    catalog = default_catalog()
    spec = WorkloadSpec(
        kind="training", model=query.model, tokens=query.tokens, deadline_days=query.deadline_days
    )
    policy = catalog.policy(query.policy)
    payload = fleet_payload(
        catalog, FleetRequest(workload=spec), policy, query.objective, None, query.pareto, started
    )
    return _as_run("fleet", query.model_dump(), payload, started), payload


def _fleet_result(payload: dict[str, Any]) -> str:
    header = "<tr><th>chip</th><th>site</th><th>chips</th></tr>"
    rows = "".join(
        f"<tr><td>{html.escape(row['chip'])}</td><td>{html.escape(row['site'])}</td>"
        f"<td>{row['chips']:,}</td></tr>"
        for row in payload["fleet"]
    )
    summary = (
        f"<p>{payload['chips']:,} chips, {payload['days']:.3g} days, "
        f"USD {payload['cost_usd']:.4g}, {payload['energy_mwh']:.4g} MWh under "
        f"{html.escape(payload['policy'])}</p>"
    )
    return f"<h2>Fleet</h2><table id='result'>{header}{rows}</table>{summary}"


def _simulate(query: SimulateQuery) -> tuple[Run, dict[str, Any]]:
    started = time.perf_counter()
    catalog = default_catalog()
    synthetic = query.network.removeprefix("synthetic-")
    if synthetic.isdigit():
        if not 1 <= int(synthetic) <= 200:
            raise ValueError(f"network: synthetic-N takes N from 1 to 200, got {synthetic}")
    elif query.network not in catalog.networks:
        known = ", ".join(sorted(catalog.networks))
        raise ValueError(f"network: unknown {query.network!r} (known: {known}, synthetic-N)")
    _, summary = run_network_simulation(
        query.network, query.trace, query.scheduler, query.policy_aware, query.speedup, query.jobs
    )
    inputs = query.model_dump()
    payload = {**summary, "run_id": record_run("simulate", inputs, summary, started)}
    return _as_run("simulate", inputs, payload, started), payload


def _simulate_result(payload: dict[str, Any]) -> str:
    shown = (
        "finished",
        "unfinished",
        "mean_jct_h",
        "p99_jct_h",
        "mean_queue_h",
        "makespan_days",
        "utilisation_mean",
        "energy_mwh",
        "energy_cost_usd",
        "carbon_t",
        "domestic_share",
        "violations",
    )
    rows = "".join(f"<tr><td>{key}</td><td>{_cell(payload.get(key))}</td></tr>" for key in shown)
    return f"<h2>Result</h2><table id='result'><tr><th>metric</th><th>value</th></tr>{rows}</table>"


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))


def _as_run(verb: str, inputs: dict[str, Any], payload: dict[str, Any], started: float) -> Run:
    """The answer as a Run, so the page draws the same charts as `swarmscale report`."""
    catalog_version = default_catalog().version
    return Run(
        payload["run_id"] or "unsaved",
        dt.datetime.now(),
        verb,
        "",
        catalog_version,
        __version__,
        time.perf_counter() - started,
        inputs,
        payload,
    )


def _planner_page(
    title: str,
    action: str,
    form_fields: tuple[tuple[str, str], ...],
    values: dict[str, str],
    solve: Callable[[dict[str, str]], tuple[Run, dict[str, Any]]],
    render: Callable[[dict[str, Any]], str],
) -> str:
    """A planner's form and, once submitted, its answer: the result table, a link to the stored
    run and its charts. Bad fields and impossible jobs become a message, not a 500."""
    body = f"<h1>{title}</h1>" + _form(action, form_fields, values)
    if values:
        try:
            run, payload = solve(values)
        except ValidationError as exc:
            body += _error("; ".join(_field_error(err) for err in exc.errors()))
        except BAD_INPUT as exc:
            body += _error(exc.args[0] if isinstance(exc, KeyError) else str(exc))
        else:
            link = f"<p>Stored as run <a href='/runs/{run.id}'>{run.id}</a></p>"
            body += render(payload) + link + charts_html(run, PLOTLY_URL)
    return _page(title, body)


def _form(action: str, fields: tuple[tuple[str, str], ...], values: dict[str, str]) -> str:
    inputs = "".join(
        f"<label>{name} <input name='{name}' id='{name}' "
        f"value='{html.escape(values.get(name, default))}'></label> "
        for name, default in fields
    )
    return f"<form action='{action}' method='get'>{inputs}<button id='plan'>Plan</button></form>"


def _serve_result(payload: dict[str, Any]) -> str:
    header = (
        "<tr><th>chip</th><th>replica</th><th>replicas</th><th>chips</th><th>TTFT s</th>"
        "<th>TPOT s</th><th>out tok/s/chip</th><th>USD/M out</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{html.escape(d['chip'])}</td><td>{html.escape(d['plan'])}</td>"
        f"<td>{d['replicas']}</td><td>{d['chips']}</td><td>{d['ttft_s']:.3g}</td>"
        f"<td>{d['tpot_s']:.3g}</td><td>{d['output_tokens_per_s_per_chip']:.4g}</td>"
        f"<td>{_number(d['usd_per_million_output_tokens'])}</td></tr>"
        for d in payload["designs"]
    )
    return f"<h2>Deployments</h2><table id='result'>{header}{rows}</table>"


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


def _train_result(payload: dict[str, Any]) -> str:
    header = "<tr><th>plan</th><th>MFU</th><th>days</th><th>USD</th><th>MWh</th></tr>"
    rows = "".join(
        f"<tr><td>{html.escape(plan['plan_text'])}</td><td>{100 * plan['mfu']:.1f}%</td>"
        f"<td>{plan['totals']['time_days']:.4g}</td><td>{plan['totals']['cost_usd']:.4g}</td>"
        f"<td>{plan['totals']['energy_mwh']:.4g}</td></tr>"
        for plan in payload["top"]
    )
    return f"<h2>Best plans</h2><table id='result'>{header}{rows}</table>"


def _comparison(result: dict[str, Any]) -> str:
    chips = result["chips"]
    head = "".join(f"<th>{html.escape(chip)}</th>" for chip in chips)
    rows = ""
    for row in result["rows"]:
        cells = ""
        for chip in chips:
            cell = row["values"][chip]
            value = "?" if cell["value"] is None else f"{cell['value']:.4g}"
            ratio = "" if cell["ratio"] is None else f" ({cell['ratio']:.2f}x)"
            cells += f"<td title='{html.escape(cell['source'] or '')}'>{value}{ratio}</td>"
        rows += f"<tr><td>{html.escape(row['label'])} ({row['unit']})</td>{cells}</tr>"
    return f"<h2>Comparison</h2><table id='comparison'><tr><th>spec</th>{head}</tr>{rows}</table>"


def _error(message: str) -> str:
    return f"<p class='error' role='alert'>{html.escape(message)}</p>"


def _page(title: str, body: str) -> str:
    links = (
        ("/", "Catalog"),
        ("/train", "Train"),
        ("/serve", "Serve"),
        ("/fleet", "Fleet"),
        ("/runs", "Runs"),
    )
    nav = "<nav>" + " | ".join(f"<a href='{url}'>{name}</a>" for url, name in links) + "</nav>"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title} - swarmscale</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px}.error{color:#b00;font-weight:bold}</style>"
        f"</head><body>{nav}{body}</body></html>"
    )
