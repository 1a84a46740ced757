"""The calibration report in a real browser: opened from a file it draws every chart with the
inlined Vega script and fetches nothing; hover on a band shows its numbers with the unit and
what the band spans; a legend click hides a layer."""

from __future__ import annotations

import pytest
from test_calibration_report import made_up_calibration

from cartelsim.report import calibration_report


@pytest.fixture(scope="module")
def calibration_page(browser, tmp_path_factory):
    path = tmp_path_factory.mktemp("calibration") / "report.html"
    calibration_report.write(path, *made_up_calibration(particles=40))
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.locator("#chart-target-0 svg.marks").first.wait_for()
    yield page, requests
    context.close()


def test_calibration_page_draws_every_chart_offline(calibration_page):
    page, requests = calibration_page
    page.wait_for_function("document.querySelectorAll('.chart .marks').length >= 4")
    assert all(r.startswith(("file:", "data:", "blob:")) for r in requests)
    assert page.locator(".chart", has_text="chart not drawn").count() == 0


def test_hover_on_a_band_shows_its_numbers_and_what_it_spans(calibration_page):
    page, _ = calibration_page
    chart = page.locator("#chart-target-0")
    chart.scroll_into_view_if_needed()
    band = chart.locator(".mark-rule.role-mark line").first
    box = band.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=10_000)
    text = tooltip.inner_text()
    assert "(homicides per month)" in text and "posterior draws" in text, text
    page.mouse.move(0, 0)


def test_legend_click_hides_a_layer(calibration_page):
    page, _ = calibration_page
    chart = page.locator("#chart-target-1")
    chart.scroll_into_view_if_needed()
    hidden = (
        "el => Array.from(el.querySelectorAll('.mark-rule.role-mark line'))"
        ".filter(e => e.getAttribute('opacity') === '0').length"
    )
    assert chart.evaluate(hidden) == 0
    chart.locator(".role-legend-label text", has_text="middle 50 %").click()
    page.wait_for_function(
        "el => Array.from(el.querySelectorAll('.mark-rule.role-mark line'))"
        ".some(e => e.getAttribute('opacity') === '0')",
        arg=chart.element_handle(),
        timeout=10_000,
    )
