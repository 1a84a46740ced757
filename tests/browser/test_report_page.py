"""The HTML report in a real browser: opened from a file, it draws its charts with the inlined
Vega script and fetches nothing; hover shows a value with its unit; a legend click hides a
series; the events are markers whose hover names them."""

from __future__ import annotations

import pytest

from cartelsim.report.run_report import write_report
from cartelsim.runner import run


@pytest.fixture(scope="module")
def report_page(browser, tmp_path_factory):
    path = write_report(
        run("mexico-2006-2012", runs=1, seed=0), tmp_path_factory.mktemp("r") / "report.html"
    )
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.locator("#chart-members svg.marks, #chart-members canvas").first.wait_for()
    yield page, requests
    context.close()


def test_report_draws_every_chart_offline(report_page):
    page, requests = report_page
    page.wait_for_function("document.querySelectorAll('.chart .marks').length >= 7")
    assert all(r.startswith(("file:", "data:", "blob:")) for r in requests)
    assert page.locator(".chart", has_text="chart not drawn").count() == 0


def test_report_hover_shows_a_value_with_its_unit(report_page):
    page, _ = report_page
    chart = page.locator("#chart-member_deaths_by_rivals .marks")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=10_000)
    assert "(members killed per week)" in tooltip.inner_text()
    page.mouse.move(0, 0)


def test_report_legend_click_hides_a_series(report_page):
    page, _ = report_page
    chart = page.locator("#chart-groups")
    chart.scroll_into_view_if_needed()
    label = chart.locator(".role-legend-label text", has_text="Gulf cartel (with Los Zetas")
    label.click()
    page.wait_for_function(
        "el => Array.from(el.querySelectorAll('.mark-line path'))"
        ".filter(e => e.getAttribute('opacity') === '0').length == 1",
        arg=chart.element_handle(),
        timeout=10_000,
    )
