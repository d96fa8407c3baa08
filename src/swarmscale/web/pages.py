"""Server-rendered HTML: the page frame, each planner's form (generated from its input model)
and answer, the catalog and the runs list. Pure functions of their arguments: no I/O.

A planner page's form always shows the inputs that were computed: after an answer, the text
of the validated model (`form_values`); after a refusal, what was sent. The answer carries a
"Save run" form that posts those same inputs back to be recomputed and stored.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping
from typing import Any

from swarmscale import __version__
from swarmscale.api.inputs import Input
from swarmscale.report.run_report import charts_html
from swarmscale.store import Run
from swarmscale.web.inputs import SCHEMAS, Verb, choices, form_values, is_flag

PLOTLY_URL = "/static/plotly.min.js"
TITLES: dict[Verb, str] = {
    "train": "Training planner",
    "serve": "Serving planner",
    "fleet": "Fleet optimiser",
    "simulate": "Network simulation",
}
NAV = (
    ("/", "Catalog"),
    ("/train", "Train"),
    ("/serve", "Serve"),
    ("/fleet", "Fleet"),
    ("/simulate", "Simulate"),
    ("/runs", "Runs"),
)
CHECKED_TEXT = ("true", "on", "1", "yes")
STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:2px 8px}.error{color:#b00;font-weight:bold}"
    ".hint{color:#555;font-size:90%}"
)


def page(title: str, body: str) -> str:
    nav = "<nav>" + " | ".join(f"<a href='{url}'>{name}</a>" for url, name in NAV) + "</nav>"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)} - "
        f"swarmscale</title><style>{STYLE}</style></head><body>{nav}{body}</body></html>"
    )


def error(message: str) -> str:
    lines = "<br>".join(html.escape(line) for line in message.splitlines())
    return f"<p class='error' role='alert'>{lines}</p>"


def planner(verb: Verb, values: Mapping[str, str], notice: str = "", answer: str = "") -> str:
    """A planner's page: its form showing `values`, then a refusal (`notice`) or an answer."""
    body = f"<h1>{TITLES[verb]}</h1>{form(verb, values)}{error(notice) if notice else ''}"
    return page(TITLES[verb], body + answer)


def form(verb: Verb, values: Mapping[str, str]) -> str:
    """One row per field of the verb's model, in its order, with the field's help as a hint."""
    schema = SCHEMAS[verb]
    rows = "".join(
        f"<tr><td><label for='{name}'>{name}</label></td>"
        f"<td>{_control(schema, name, values.get(name, ''))}</td>"
        f"<td class='hint'>{html.escape(schema.help(name))}</td></tr>"
        for name in schema.model_fields
    )
    return (
        f"<form id='planner' action='/{verb}' method='get'><table>{rows}</table>"
        "<button id='compute'>Plan</button></form>"
    )


def _control(schema: type[Input], name: str, text: str) -> str:
    options = choices(schema, name)
    if options:
        shown = options if not text or text in options else (*options, text)
        items = "".join(
            f"<option{' selected' if option == text else ''}>{html.escape(option)}</option>"
            for option in shown
        )
        return f"<select name='{name}' id='{name}'>{items}</select>"
    if is_flag(schema, name):  # the hidden "false" is sent when unchecked; checked, "true" wins
        checked = " checked" if text.strip().lower() in CHECKED_TEXT else ""
        return (
            f"<input type='hidden' name='{name}' value='false'>"
            f"<input type='checkbox' name='{name}' id='{name}' value='true'{checked}>"
        )
    return f"<input name='{name}' id='{name}' value='{html.escape(text)}'>"


def answer(verb: Verb, query: Input, payload: dict[str, Any], wall_s: float) -> str:
    """The result table, a "Save run" form with the computed inputs, and the run's charts."""
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{html.escape(text)}'>"
        for name, text in form_values(query).items()
    )
    save = (
        f"<form id='save' action='/{verb}' method='post'>{hidden}"
        f"<p>Computed in {wall_s:.3g} s, not stored. "
        "<button id='save-run'>Save run</button></p></form>"
    )
    inputs = query.model_dump(mode="json")
    run = Run("unsaved", dt.datetime.now(), verb, "", "", __version__, wall_s, inputs, payload)
    return RESULTS[verb](payload) + save + charts_html(run, PLOTLY_URL)


def _number(value: float | None, spec: str = ".4g") -> str:
    return "?" if value is None else format(value, spec)


def _table(header: tuple[str, ...], rows: str) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    return f"<table id='result'><tr>{head}</tr>{rows}</table>"


def _train_result(payload: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(plan['plan_text'])}</td><td>{100 * plan['mfu']:.1f}%</td>"
        f"<td>{_number(plan['totals']['step_s'])}</td>"
        f"<td>{_number(plan['totals']['time_days'])}</td>"
        f"<td>{_number(plan['totals']['cost_usd'])}</td>"
        f"<td>{_number(plan['totals']['energy_mwh'])}</td></tr>"
        for plan in payload["top"]
    )
    tokens = payload["job"]["tokens"]
    scope = (
        f"Totals for {tokens:.4g} training tokens."
        if tokens
        else "Totals for one optimizer step: give tokens for a whole training run."
    )
    header = ("plan", "MFU", "step s", "days", "USD", "MWh")
    return f"<h2>Best plans</h2>{_table(header, rows)}<p id='scope'>{scope}</p>"


SERVE_HEADER = (
    "chip",
    "replica",
    "replicas",
    "chips",
    "TTFT s",
    "TPOT s",
    "out tok/s/chip",
    "USD/M out",
)


def _serve_row(row: dict[str, Any]) -> str:
    chip = f"<td>{html.escape(row['chip'])}</td>"
    if not row["feasible"]:
        return f"<tr>{chip}<td colspan='7'>cannot: {html.escape(row['reason'])}</td></tr>"
    return (
        f"<tr>{chip}<td>{html.escape(row['plan'])}</td><td>{row['replicas']}</td>"
        f"<td>{row['chips']}</td><td>{_number(row['ttft_s'], '.3g')}</td>"
        f"<td>{_number(row['tpot_s'], '.3g')}</td>"
        f"<td>{_number(row['output_tokens_per_s_per_chip'])}</td>"
        f"<td>{_number(row['usd_per_million_output_tokens'])}</td></tr>"
    )


def _serve_result(payload: dict[str, Any]) -> str:
    rows = "".join(_serve_row(row) for row in payload["designs"])
    return f"<h2>Deployments</h2>{_table(SERVE_HEADER, rows)}"


def _fleet_result(payload: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(row['chip'])}</td><td>{html.escape(row['site'])}</td>"
        f"<td>{row['chips']:,}</td></tr>"
        for row in payload["fleet"]
    )
    summary = (
        f"<p>{payload['chips']:,} chips, {_number(payload['days'], '.3g')} days, "
        f"USD {_number(payload['cost_usd'])}, {_number(payload['energy_mwh'])} MWh under "
        f"{html.escape(payload['policy'])}</p>"
    )
    return f"<h2>Fleet</h2>{_table(('chip', 'site', 'chips'), rows)}{summary}"


SIMULATE_SHOWN = (
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


def _simulate_result(payload: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{key}</td><td>{_cell(payload.get(key))}</td></tr>" for key in SIMULATE_SHOWN
    )
    return f"<h2>Result</h2>{_table(('metric', 'value'), rows)}"


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))


RESULTS: dict[Verb, Callable[[dict[str, Any]], str]] = {
    "train": _train_result,
    "serve": _serve_result,
    "fleet": _fleet_result,
    "simulate": _simulate_result,
}


def catalog_page(chips: list[tuple[str, str, str]], comparison: str) -> str:
    """Every chip (id, name, vendor) with a box to tick for the side-by-side comparison."""
    rows = "".join(
        f"<tr><td><input type='checkbox' name='ids' value='{html.escape(chip_id)}'></td>"
        f"<td>{html.escape(chip_id)}</td><td>{html.escape(name)}</td>"
        f"<td>{html.escape(vendor)}</td></tr>"
        for chip_id, name, vendor in chips
    )
    body = (
        "<h1>Chips</h1><form action='/' method='get'><table><tr><th></th><th>id</th>"
        f"<th>name</th><th>vendor</th></tr>{rows}</table>"
        "<button type='submit'>Compare selected</button></form>"
    )
    return page("Catalog", body + comparison)


def comparison(result: dict[str, Any]) -> str:
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


def runs_page(runs: list[Run]) -> str:
    rows = "".join(
        f"<tr><td><a href='/runs/{run.id}'>{run.id}</a></td><td>{run.verb}</td>"
        f"<td>{run.created:%Y-%m-%d %H:%M:%S}</td><td>{run.wall_s:.3g}</td></tr>"
        for run in runs
    )
    table = f"<table><tr><th>id</th><th>verb</th><th>created</th><th>wall s</th></tr>{rows}</table>"
    return page("Past runs", f"<h1>Past runs</h1>{table}")
