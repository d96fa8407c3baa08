"""Web fixtures: one test client per module (its lifespan starts the compute pool once), a run
counter over the test's own results store, and the values a browser would submit from a form."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from swarmscale.store import ResultsStore
from swarmscale.web.app import app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def count_runs() -> int:
    """Runs in the store that SWARMSCALE_STORE names (each test has its own)."""
    return len(ResultsStore().list(limit=100_000))


class _FormReader(HTMLParser):
    """Collects (name, value) pairs as a browser submits them: text and hidden inputs, checked
    boxes, the selected option of each select."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.pairs: list[tuple[str, str]] = []
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.option_selected = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = values.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and (values.get("type") != "checkbox" or "checked" in values):
            self.pairs.append((values["name"], values.get("value", "")))
        elif tag == "select":
            self.select, self.options = values["name"], []
        elif tag == "option":
            self.option_selected = "selected" in values

    def handle_data(self, data: str) -> None:
        if self.inside and self.select is not None and self.lasttag == "option":
            self.options.append((data, self.option_selected))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = [text for text, selected in self.options if selected] or [self.options[0][0]]
            self.pairs.append((self.select, chosen[0]))
            self.select = None


def submitted(page: str, form_id: str) -> dict[str, str]:
    """What submitting the form `form_id` of `page` sends (a repeated name: the last wins, as
    the server reads it)."""
    reader = _FormReader(form_id)
    reader.feed(page)
    assert reader.pairs, f"no form {form_id!r} on the page"
    return dict(reader.pairs)
