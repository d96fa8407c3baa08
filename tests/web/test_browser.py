"""Playwright drives Debian's Chromium through the UI: plan a job from the form, see its table and
plot, save it as a run; a bad value shows a clear message. `make test` installs Chromium when it
is missing."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from swarmscale.web.app import app
from tests.web.conftest import count_runs

SERVE = {
    "model": "llama3-70b",
    "chips": "h100-sxm,h20",
    "rate": "10",
    "input_len": "1000",
    "output_len": "200",
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):  # startup waits for the compute workers to load the catalog
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: `make test` installs it with apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser.new_page()
        browser.close()


def test_training_plan_from_the_form_then_save(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/train")
    page.fill("#model", "llama3-8b")
    page.fill("#chip", "h100-sxm")
    page.fill("#chips", "64")
    page.fill("#tokens", "1e12")
    page.click("#compute")
    expect(page.locator("#result")).to_be_visible(timeout=60_000)
    assert page.locator("#result tr").count() >= 2  # header and at least one plan
    expect(page.locator(".plotly-graph-div .main-svg").first).to_be_visible(timeout=30_000)
    assert count_runs() == 0
    page.click("#save-run")
    expect(page.locator("h1")).to_contain_text("train run", timeout=60_000)
    assert count_runs() == 1
    run_id = page.url.rsplit("/", 1)[-1]
    page.goto(f"{base_url}/runs")
    expect(page.locator(f"a[href='/runs/{run_id}']")).to_be_visible()


def test_bad_form_value_shows_a_message(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/train")
    page.fill("#model", "llama3-8b")
    page.fill("#chip", "h100-sxm")
    page.fill("#chips", "many")
    page.click("#compute")
    expect(page.locator(".error")).to_contain_text("chips: Input should be a valid integer")
    page.fill("#chips", "64")
    page.fill("#chip", "h1000")
    page.click("#compute")
    expect(page.locator(".error")).to_contain_text("unknown chip 'h1000'")


def test_catalog_comparison(page: Page, base_url: str) -> None:
    page.goto(base_url)
    page.check("input[value='h100-sxm']")
    page.check("input[value='ascend-910c']")
    page.click("button[type='submit']")
    expect(page.locator("#comparison")).to_contain_text("BF16")


def test_serving_plan_from_the_form(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/serve")
    for field, value in SERVE.items():
        page.fill(f"#{field}", value)
    page.click("#compute")
    expect(page.locator("#result")).to_contain_text("h20", timeout=60_000)
    page.fill("#rate", "-1")
    page.click("#compute")
    expect(page.locator(".error")).to_contain_text("rate: '-1' is out of range")
