"""The hindcast report in a real browser: opened from a file it draws every fan chart with
the inlined Vega script, fetches nothing from outside, and shows the skill table."""

from __future__ import annotations

import datetime as dt

import pytest

from cartelsim.analysis import hindcast
from cartelsim.report import hindcast_report


@pytest.fixture(scope="module")
def hindcast_page(browser, tmp_path_factory):
    out = tmp_path_factory.mktemp("hindcast") / "out"
    hindcast.hindcast(
        "mexico", out, origins=[dt.date(2016, 1, 1)], n_draws=20, particles=20, populations=1,
        fix={"cartel_share": 0.1}, write_report=hindcast_report.write,
    )  # fmt: skip
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((out / "report.html").as_uri())
    page.locator("#fan-0 svg.marks").first.wait_for()
    yield page, requests
    context.close()


def test_hindcast_page_draws_every_chart_offline(hindcast_page):
    page, requests = hindcast_page
    charts = page.locator(".chart").count()
    assert charts >= 4  # one per series scored from the origin
    page.wait_for_function(f"document.querySelectorAll('.chart .marks').length >= {charts}")
    assert page.locator(".chart", has_text="chart not drawn").count() == 0
    assert all(r.startswith(("file:", "data:", "blob:")) for r in requests)
    assert page.get_by_text("Skill against the baselines").count() == 1
    assert page.locator("table").first.is_visible()
