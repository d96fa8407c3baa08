"""`swarmscale web`: a JSON API (described by OpenAPI) and server-rendered pages over it.

Cheap requests (catalog, runs, static files, empty forms) are answered by the server process;
every computation goes to the bounded process pool of `web.pool`, so heavy requests run in
parallel and queue there while cheap pages stay quick. Computing never stores: a run is stored
only when asked (POST /api/runs, or a planner page's "Save run" button, which is POST /train
etc.), and only when it succeeded. Pages are plain HTML; plotly.js is served from the
installed plotly package, so nothing is fetched from a CDN.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import parse_qsl

import anyio
import plotly
from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from swarmscale import __version__
from swarmscale.api.inputs import Input, InputError, ServeInput, TrainInput
from swarmscale.catalog import UnknownIdError, default_catalog
from swarmscale.report.run_report import render_html
from swarmscale.report.specs import compare
from swarmscale.store import ResultsStore, Run, StoreError
from swarmscale.web import pages
from swarmscale.web.inputs import (
    EXAMPLES,
    SCHEMAS,
    SaveRequest,
    Verb,
    WebFleetInput,
    WebSimulateInput,
    default_values,
    form_values,
    from_form,
)
from swarmscale.web.limits import RequestLimits
from swarmscale.web.pool import Answer, ComputeError, ComputePool, PoolSettings
from swarmscale.web.worker import BAD_INPUT, message_of

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
RETRY_AFTER_S = 5
COMPUTE_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": "Request body over the size limit"},
    503: {"description": "Busy (every worker and queue place taken): retry"},
    504: {"description": "Not answered within the time limit"},
}

router = APIRouter()


def create_app(settings: PoolSettings | None = None) -> FastAPI:
    """The app with its own compute pool, started and stopped with the app's lifespan (or
    started by the first computation, where a test client runs no lifespan)."""
    pool = ComputePool(settings or PoolSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(pool.start)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(pool.close)

    app = FastAPI(
        title="swarmscale",
        version=__version__,
        description="Plan and predict AI training on heterogeneous accelerator fleets.",
        lifespan=lifespan,
    )
    app.state.pool = pool
    app.add_middleware(RequestLimits)
    app.add_exception_handler(ComputeError, _compute_error)
    app.add_exception_handler(StoreError, _store_error)
    for error in BAD_INPUT:
        app.add_exception_handler(error, _bad_input)
    app.include_router(router)
    return app


def _pool(request: Request) -> ComputePool:
    return cast(ComputePool, request.app.state.pool)


async def _compute_error(_: Request, exc: Exception) -> Response:
    error = cast(ComputeError, exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if error.status == 503 else None
    return JSONResponse({"detail": error.message}, status_code=error.status, headers=headers)


async def _store_error(_: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": f"results store: {exc}"}, status_code=503)


async def _bad_input(_: Request, exc: Exception) -> Response:
    """Unknown ids and impossible requests are the caller's to change: 422 with the reason."""
    return JSONResponse({"detail": message_of(exc)}, status_code=422)


@router.get("/api/chips", summary="Every chip in the catalog")
def api_chips() -> dict[str, Any]:
    catalog = default_catalog()
    chips = [chip.model_dump(mode="json") for chip in catalog.chips.values()]
    return {"catalog_version": catalog.version, "chips": chips}


@router.get("/api/compare", summary="Specs side by side, ratios to the first chip")
def api_compare(ids: Annotated[list[str], Query(min_length=1, max_length=8)]) -> dict[str, Any]:
    catalog = default_catalog()
    return compare([catalog.chip(chip_id) for chip_id in ids])


@router.post(
    "/api/train",
    summary="Best parallel plan and totals for a training job (not stored)",
    responses=COMPUTE_RESPONSES,
)
async def api_train(
    body: Annotated[TrainInput, Body(examples=[EXAMPLES["train"]])], request: Request
) -> dict[str, Any]:
    return (await _pool(request).run("train", body)).payload


@router.post(
    "/api/serve",
    summary="Serving layout, replicas and cost within TTFT and TPOT (not stored)",
    responses=COMPUTE_RESPONSES,
)
async def api_serve(
    body: Annotated[ServeInput, Body(examples=[EXAMPLES["serve"]])], request: Request
) -> dict[str, Any]:
    return (await _pool(request).run("serve", body)).payload


@router.post(
    "/api/fleet",
    summary="Cheapest fleet that trains the job by the deadline under a policy (not stored)",
    responses=COMPUTE_RESPONSES,
)
async def api_fleet(
    body: Annotated[WebFleetInput, Body(examples=[EXAMPLES["fleet"]])], request: Request
) -> dict[str, Any]:
    return (await _pool(request).run("fleet", body)).payload


@router.post(
    "/api/simulate",
    summary="A job trace through a network of sites under a scheduler (not stored)",
    responses=COMPUTE_RESPONSES,
)
async def api_simulate(
    body: Annotated[WebSimulateInput, Body(examples=[EXAMPLES["simulate"]])], request: Request
) -> dict[str, Any]:
    return (await _pool(request).run("simulate", body)).payload


@router.post(
    "/api/runs",
    status_code=201,
    summary="Compute a run and store it; answers with the stored run",
    responses=COMPUTE_RESPONSES,
)
async def api_save(
    body: Annotated[SaveRequest, Body(examples=[{"verb": "train", "inputs": EXAMPLES["train"]}])],
    request: Request,
) -> dict[str, Any]:
    answer = await _pool(request).run(body.verb, body.inputs)
    run = await run_in_threadpool(_store, body.verb, body.inputs, answer)
    return run.as_dict()


@router.get("/api/runs", summary="Recent stored runs, newest first")
def api_runs(limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    return {"runs": [_summary(run) for run in ResultsStore().list(limit=limit)]}


@router.get("/api/runs/{run_id}", summary="One stored run")
def api_run(run_id: str) -> dict[str, Any]:
    return _stored(run_id).as_dict()


@router.get(pages.PLOTLY_URL, include_in_schema=False)
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page_catalog(ids: Annotated[list[str] | None, Query()] = None) -> str:
    catalog = default_catalog()
    chips = [(chip.id, chip.name, chip.vendor) for chip in catalog.chips.values()]
    shown = ""
    if ids:
        try:
            shown = pages.comparison(compare([catalog.chip(chip_id) for chip_id in ids]))
        except UnknownIdError as exc:
            shown = pages.error(exc.args[0])
    return pages.catalog_page(chips, shown)


@router.get("/runs", response_class=HTMLResponse, include_in_schema=False)
def page_runs() -> str:
    return pages.runs_page(ResultsStore().list(limit=200))


@router.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
def page_run(run_id: str) -> str:
    return render_html(_stored(run_id), pages.PLOTLY_URL)


def _add_planner(verb: Verb) -> None:
    """GET /{verb}: the form, and with a query its answer (never stored). POST /{verb}: the
    same inputs as a form body, computed and stored, then a redirect to the stored run."""

    async def show(request: Request) -> Response:
        values = dict(request.query_params)
        if not values:
            return HTMLResponse(pages.planner(verb, default_values(SCHEMAS[verb])))
        return await _planner_answer(request, verb, values, save=False)

    async def save(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        values = dict(parse_qsl(body, keep_blank_values=True))
        return await _planner_answer(request, verb, values, save=True)

    router.add_api_route(f"/{verb}", show, methods=["GET"], include_in_schema=False)
    router.add_api_route(f"/{verb}", save, methods=["POST"], include_in_schema=False)


async def _planner_answer(
    request: Request, verb: Verb, values: Mapping[str, str], save: bool
) -> Response:
    """A refusal shows what was sent; an answer shows the validated inputs it computed."""
    try:
        query = from_form(SCHEMAS[verb], values)
    except InputError as exc:
        return HTMLResponse(pages.planner(verb, values, str(exc)), status_code=422)
    shown = form_values(query)
    try:
        answer = await _pool(request).run(verb, query)
    except ComputeError as exc:
        return HTMLResponse(pages.planner(verb, shown, exc.message), status_code=exc.status)
    if save:
        run = await run_in_threadpool(_store, verb, query, answer)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)
    result = await run_in_threadpool(pages.answer, verb, query, answer.payload, answer.wall_s)
    return HTMLResponse(pages.planner(verb, shown, answer=result))


for _verb in SCHEMAS:
    _add_planner(_verb)


def _store(verb: str, query: Input, answer: Answer) -> Run:
    store = ResultsStore()
    inputs = query.model_dump(mode="json")
    version = default_catalog().version
    return store.get(store.record(verb, inputs, answer.payload, answer.wall_s, version))


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


app = create_app()
