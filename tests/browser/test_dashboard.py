"""The dashboard in a real browser (headless Chromium driven by Playwright).

Each test opens its own session (browser context) on one shared server. Assertions read the
page's text (totals, captions, messages) and compare the charts' drawn SVG before and after
an input changes, so a view that does not update fails. Every input change is one event
(a slider's Home key, one click), so exactly one new request follows it; the status line
counts simulation runs (a request of N runs adds N). The charts are Vega-Lite specs drawn in
the browser: hovering shows values, a legend click hides a series, and the page fetches
nothing from outside the server.
"""

from __future__ import annotations

from pathlib import Path

from dashboard_server import open_dashboard, wait_for_runs


def _killings(page) -> float:
    text = page.locator(".cs-killings-total").inner_text()
    return float(text.rsplit(":", 1)[1].replace(",", ""))


CHART = ".cs-chart svg.marks"


def _figures(page) -> list[str]:
    """The drawn charts (SVG), once every chart on the page is drawn."""
    page.locator(CHART).first.wait_for(timeout=30_000)
    return page.locator(CHART).evaluate_all("els => els.map(e => e.innerHTML)")


def _wait_figures_change(page, before: list[str]) -> None:
    page.wait_for_function(
        """([sel, before]) => {
            const now = Array.from(document.querySelectorAll(sel)).map(e => e.innerHTML);
            return now.length > 0 && JSON.stringify(now) != JSON.stringify(before);
        }""",
        arg=[CHART, before],
        timeout=30_000,
    )


def _slider(page, label: str):
    return page.locator(".v-input", has_text=label).get_by_role("slider")


def _rerun(page, action) -> None:
    """Do `action` and wait until its run has changed the killings total and is finished."""
    before = page.locator(".cs-killings-total").inner_text()
    action()
    page.wait_for_function(
        """before => {
            const total = document.querySelector('.cs-killings-total').innerText;
            const status = document.querySelector('.cs-status').innerText;
            return total != before && status.endsWith('(ready)');
        }""",
        arg=before,
        timeout=30_000,
    )


def _press(page, locator, key: str):
    return lambda: (locator.focus(), page.keyboard.press(key))


def test_page_loads_and_default_run_shows_charts(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    assert "mexico-2006-2012" in page.locator("body").inner_text()
    assert _killings(page) > 0
    page.locator(CHART).first.wait_for()
    assert page.locator(CHART).count() == 3
    chart = page.locator(CHART).first
    assert chart.is_visible() and chart.bounding_box()["height"] > 250
    references = page.locator(".cs-references li").all_inner_texts()
    assert references and len(references) == len(set(references))  # each source once
    assert not any("recalled series" in r for r in references)  # 2000-2005: outside the run
    page.context.close()


def test_recruitment_lever_changes_killings_curve(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    before, charts = _killings(page), _figures(page)
    _rerun(page, _press(page, _slider(page, "Recruitment change"), "Home"))  # -95 %
    assert _killings(page) < 0.9 * before
    _wait_figures_change(page, charts)
    page.context.close()


def test_map_renders_and_time_slider_changes_it(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="map").click()
    caption = page.locator(".cs-map-caption")
    caption.wait_for()
    assert caption.inner_text().startswith("2012:")
    assert "control is not shown" in page.locator("body").inner_text()
    before = _figures(page)
    assert page.get_by_text("Year: 2012").is_visible()  # the year in full, not clipped
    _press(page, _slider(page, "Year"), "Home")()
    page.wait_for_function(
        "() => document.querySelector('.cs-map-caption').innerText.startsWith('2007:')"
    )
    _wait_figures_change(page, before)
    page.context.close()


def test_comparison_side_by_side_and_difference(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    _rerun(page, _press(page, _slider(page, "Recruitment change"), "Home"))
    page.get_by_role("button", name="compare").click()
    table = page.locator(".cs-comparison")
    table.wait_for()
    text = table.inner_text()
    assert "without levers" in page.locator("body").inner_text()
    killings_row = next(line for line in text.splitlines() if line.startswith("killings"))
    assert killings_row.split()[-1].startswith("-")  # fewer killings with less recruitment
    page.locator(CHART).nth(3).wait_for()
    assert page.locator(CHART).count() == 4
    page.context.close()


def test_invalid_upload_shows_error_and_page_keeps_working(dashboard, browser):
    url, server = dashboard
    page = open_dashboard(browser, url)
    before = _killings(page)
    bad = b"name = 'bad'\n[parameters]\nrecruitment_rate = -1\n"
    upload = {"name": "bad.toml", "mimeType": "text/plain", "buffer": bad}
    page.locator("input[type=file]").set_input_files(files=[upload])
    error = page.locator(".cs-upload-error")
    error.wait_for()
    assert "Invalid scenario file: bad.toml" in error.inner_text()
    assert "parameters.recruitment_rate.value: must be >= 0 (got -1)" in error.inner_text()
    assert _killings(page) == before  # what was computed is still there
    good = b'extends = "mexico-2006-2012"\nname = "mine"\n[parameters]\nrecruitment_rate = 0.002\n'
    upload = {"name": "good.toml", "mimeType": "text/plain", "buffer": good}
    _rerun(page, lambda: page.locator("input[type=file]").set_input_files(files=[upload]))
    assert page.locator(".cs-upload-error").count() == 0
    assert _killings(page) < before  # less recruitment than the built-in's 0.0035
    assert server.poll() is None
    page.context.close()


def test_out_of_range_and_failed_run_show_messages(dashboard, browser):
    url, server = dashboard
    page = open_dashboard(browser, url)
    before = _killings(page)
    runs = page.get_by_label("Runs")
    runs.fill("0")
    runs.press("Enter")
    page.get_by_text("Not run: runs: must be between 1 and 500 (got 0)").wait_for()
    runs.fill("1")
    runs.press("Enter")
    page.get_by_text("Runs finished: 2 (ready)").wait_for()  # the page settles first
    page.locator(".v-select", has_text="Scenario").first.click()
    page.get_by_role("option", name="starts-from-nowhere").click()
    message = page.locator(".cs-run-error")
    message.wait_for()
    assert "The run failed" in message.inner_text()
    assert "no-such-scenario" in message.inner_text()
    assert _killings(page) == before  # the previous results stay on the page
    assert server.poll() is None
    page.context.close()


def test_agent_run_goes_to_background_and_can_be_cancelled(dashboard, browser):
    url, server = dashboard
    page = open_dashboard(browser, url)
    before = _killings(page)
    runs = page.get_by_label("Runs")
    runs.fill("4")
    runs.press("Enter")
    page.get_by_text("Runs finished: 5 (ready)").wait_for()  # 1 run, then 4
    page.get_by_role("button", name="agents").click()  # 4 agent runs: seconds each
    page.get_by_text("Runs finished: 5 (running)").wait_for()
    assert page.locator(".v-progress-linear").count() >= 1
    page.get_by_role("button", name="map").click()  # the page still answers
    page.locator(".cs-map-caption").wait_for()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Runs finished: 5 (ready)").wait_for(timeout=60_000)
    assert page.locator(".cs-run-error").count() == 0
    assert _killings(page) == before  # the cancelled run replaced nothing
    assert server.poll() is None
    page.context.close()


def test_downloads(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="download").click()
    expected = {"Parquet": b"PAR1", "CSV": b"run,date,group,", "HTML": b"<!"}
    for label, start in expected.items():
        with page.expect_download() as info:
            page.get_by_role("button", name=label).click()
        path = info.value.path()
        assert Path(path).read_bytes()[: len(start)] == start, label
    page.context.close()


def test_ten_concurrent_sessions(dashboard, browser):
    """Ten sessions load at once: every one gets its run and the same numbers, none an error."""
    url, server = dashboard
    contexts = [browser.new_context() for _ in range(10)]
    pages = [context.new_page() for context in contexts]
    for page in pages:
        page.goto(url, wait_until="commit")  # all ten load together
    for page in pages:
        page.get_by_text("Runs finished: 1 (ready)").wait_for(timeout=60_000)
    assert all(page.locator(".cs-run-error").count() == 0 for page in pages)
    assert len({_killings(page) for page in pages}) == 1
    assert server.poll() is None
    for context in contexts:
        context.close()


def _choose(page, label: str, option: str) -> None:
    page.locator(".v-select", has_text=label).first.click()
    page.get_by_role("option", name=option).click()


def test_posterior_bands_and_paired_comparison(dashboard, browser):
    """With the posterior "tiny" (conftest.py), run r uses posterior draw r: bands appear
    where deterministic runs without a posterior are all the same."""
    url, _ = dashboard
    page = open_dashboard(browser, url)
    runs = page.get_by_label("Runs")
    runs.fill("20")
    runs.press("Enter")
    page.get_by_text("Runs finished: 21 (ready)").wait_for()
    without = _figures(page)
    assert "posterior" not in page.locator(".cs-run-info").inner_text()
    _choose(page, "Parameter uncertainty", "posterior tiny")
    page.get_by_text("Runs finished: 41 (ready)").wait_for()
    assert "20 posterior draws from tiny" in page.locator(".cs-run-info").inner_text()
    _wait_figures_change(page, without)
    page.get_by_role("button", name="stochastic").click()
    page.get_by_text("Runs finished: 61 (ready)").wait_for()
    info = page.locator(".cs-run-info").inner_text()
    assert "20 posterior draws from tiny (each with its own stochastic run)" in info
    page.get_by_role("button", name="compare").click()
    page.locator(".cs-comparison").wait_for()
    assert "same 20 draws of the posterior tiny" in page.locator("body").inner_text()
    assert page.locator(".cs-run-error").count() == 0
    page.context.close()


def test_broken_posterior_shows_one_line_and_server_keeps_serving(dashboard, browser):
    url, server = dashboard
    page = open_dashboard(browser, url)
    before = _killings(page)
    _choose(page, "Parameter uncertainty", "posterior broken")
    message = page.locator(".cs-run-error")
    message.wait_for()
    text = message.inner_text()
    assert text.startswith("The run failed: posterior broken: posterior.parquet: not a readable")
    assert "\n" not in text and "/tmp" not in text  # one line, no server path
    assert _killings(page) == before  # the previous results stay on the page
    _choose(page, "Parameter uncertainty", "none")
    page.get_by_text("Runs finished: 2 (ready)").wait_for()
    assert page.locator(".cs-run-error").count() == 0
    assert server.poll() is None
    page.context.close()


# --- the charts, the page's layout and its numbers ----------------------------------------


def test_page_fetches_nothing_from_outside(dashboard, browser):
    """Every request of the page (its scripts, Vega included) goes to the server itself."""
    url, _ = dashboard
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.get_by_text("Runs finished: 1 (ready)").wait_for(timeout=30_000)
    page.locator(CHART).first.wait_for(timeout=30_000)
    origin = url.rstrip("/")
    outside = [r for r in requests if not r.startswith((origin, "blob:", "data:"))]
    assert not outside
    assert any("cartelsim-vega@" in r for r in requests)  # Vega came from the server
    context.close()


def test_hover_shows_a_value_with_its_unit(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    chart = page.locator(CHART).nth(1)  # killings per week
    chart.wait_for()
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=10_000)
    text = tooltip.inner_text()
    assert "simulated (killings per week)" in text
    value = text.split("simulated (killings per week)")[1].split()[0]
    assert float(value.replace(",", "")) > 0
    page.context.close()


def test_legend_click_hides_a_series(dashboard, browser):
    """The members chart's legend shows full names; a click hides that group's line."""
    url, _ = dashboard
    page = open_dashboard(browser, url)
    chart = page.locator(".cs-chart").first
    label = chart.locator(".role-legend-label text", has_text="Sinaloa cartel (Federation)")
    label.wait_for()
    hidden = "els => els.filter(e => e.getAttribute('opacity') === '0').length"
    lines = chart.locator(".mark-line path")
    assert lines.evaluate_all(hidden) == 0
    label.click()
    page.wait_for_function(
        "el => Array.from(el.querySelectorAll('.mark-line path'))"
        ".filter(e => e.getAttribute('opacity') === '0').length == 1",
        arg=chart.element_handle(),
        timeout=10_000,
    )
    label.click()  # and back
    page.wait_for_function(
        "el => Array.from(el.querySelectorAll('.mark-line path'))"
        ".filter(e => e.getAttribute('opacity') === '0').length == 0",
        arg=chart.element_handle(),
        timeout=10_000,
    )
    page.context.close()


def test_tabs_fit_1280_px_and_switching_runs_nothing(dashboard, browser):
    """No view is wider than a 1,280 px window; switching views adds no runs (the
    comparison's B runs once, then is reused)."""
    url, _ = dashboard
    page = open_dashboard(browser, url, width=1280, height=900)
    for name in ("map", "compare", "scenario", "download", "time series"):
        page.get_by_role("button", name=name, exact=True).click()
        page.wait_for_timeout(500)
        page.get_by_text("(ready)").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, name
    assert "Runs finished: 2 (ready)" in page.locator(".cs-status").inner_text()  # A, then B
    page.get_by_role("button", name="compare", exact=True).click()
    page.locator(".cs-comparison").wait_for()
    page.get_by_role("button", name="map", exact=True).click()
    page.locator(".cs-map-caption").wait_for()
    assert "Runs finished: 2 (ready)" in page.locator(".cs-status").inner_text()
    page.context.close()


def test_levers_share_one_scale_and_inputs_are_labelled(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    thumbs = [
        _slider(page, label).bounding_box()
        for label in ("Recruitment change", "Incapacitation change", "Troops change")
    ]
    assert len({round(t["x"]) for t in thumbs}) == 1  # the zeros line up
    assert page.get_by_label("Upload a scenario file (.toml)").count() >= 1
    page.context.close()


def test_scenario_tab_formats_numbers_without_index(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="scenario", exact=True).click()
    groups = page.locator(".cs-groups")
    groups.wait_for()
    text = groups.inner_text()
    assert "24,000" in text and "24000.0" not in text
    assert not groups.locator("th", has_text="#").count()
    page.context.close()


def test_equal_a_and_b_difference_reads_zero(dashboard, browser):
    """Without levers A equals B: the difference is 0, not float noise like 1e-17."""
    url, _ = dashboard
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="compare", exact=True).click()
    page.locator(".cs-comparison").wait_for()
    page.locator(CHART).nth(3).wait_for()
    text = " ".join(page.locator(".cs-chart").all_inner_texts())
    assert "e-1" not in text and "e−17" not in text
    page.context.close()


# --- bands, and hover and legend on every kind of chart -------------------------------------


def test_stochastic_bands_say_what_they_span(dashboard, browser):
    """Stochastic runs: the run line, the chart's subtitle and the hover name the runs the
    bands span, with the 90 % and the 50 % band."""
    url, _ = dashboard
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="stochastic").click()
    wait_for_runs(page, 2)
    runs = page.get_by_label("Runs")
    runs.fill("5")
    runs.press("Enter")
    wait_for_runs(page, 7)
    assert "5 stochastic run(s)" in page.locator(".cs-run-info").inner_text()
    chart = page.locator(CHART).nth(1)  # killings per week
    chart.wait_for()
    assert "median of 5 stochastic runs" in page.locator(".cs-chart").nth(1).inner_text()
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=10_000)
    text = tooltip.inner_text()
    assert "90 % of 5 stochastic runs, low" in text and "50 % of 5 stochastic runs, high" in text
    page.context.close()


def test_map_hover_shows_a_state_and_its_rate(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="map").click()
    page.locator(".cs-map-caption").wait_for()
    tile = page.locator(".cs-chart .mark-rect path").nth(12)
    tile.wait_for()
    box = tile.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=10_000)
    text = tooltip.inner_text()
    assert "state" in text and "per 100,000" in text, text
    page.context.close()


def test_comparison_legend_click_hides_b(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    page.get_by_role("button", name="compare", exact=True).click()
    page.locator(".cs-comparison").wait_for()
    page.locator(CHART).nth(3).wait_for()
    chart = page.locator(".cs-chart").first  # killings of A and B
    label = chart.locator(".role-legend-label text", has_text="B: ")
    hidden = "els => els.filter(e => e.getAttribute('opacity') === '0').length"
    assert chart.locator(".mark-line path").evaluate_all(hidden) == 0
    label.click()
    page.wait_for_function(
        "el => Array.from(el.querySelectorAll('.mark-line path'))"
        ".filter(e => e.getAttribute('opacity') === '0').length == 1",
        arg=chart.element_handle(),
        timeout=10_000,
    )
    page.context.close()


def test_sources_are_a_deduplicated_reference_list(dashboard, browser):
    url, _ = dashboard
    page = open_dashboard(browser, url)
    refs = page.locator(".cs-references")
    refs.wait_for()
    links = refs.locator("a").evaluate_all("els => els.map(e => e.href)")
    keys = [link.split("://", 1)[1].removeprefix("www.").rstrip("/") for link in links]
    assert keys and len(keys) == len(set(keys))
    assert "not found in searchable text" not in refs.inner_text()
    page.context.close()
