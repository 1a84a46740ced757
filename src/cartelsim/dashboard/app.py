"""The dashboard page (Solara): pick a scenario, move levers, see series, a map, a comparison.

Every input change re-runs the scenario in a background thread (a Solara task), so the page
never waits on a run: a progress bar shows while it runs and Cancel stops it at the next
progress report (after each block of 64 aggregate runs, after each agent run). The last
finished outcome stays on the page until a new one replaces it, and a failure shows as a
message above it. Module-level `solara.reactive` values are per browser session; the catalog,
the calibration posteriors and the data folder are the server's, set once by `serve`.

With a posterior chosen (posteriors.py), run r uses posterior draw r: the bands then show
the parameter uncertainty (and, in the stochastic mode, the noise of each draw's run too).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import solara
import solara.lab
import solara.server.settings
import solara.util
import traitlets
from ipyvuetify.extra import FileInput

from cartelsim import runner
from cartelsim.dashboard import figures, limits, views
from cartelsim.dashboard.catalog import Catalog
from cartelsim.dashboard.levers import CHANGE_RANGE, Levers, apply_levers, make_levers
from cartelsim.dashboard.posteriors import Posteriors, Sample, posterior_parquet, run_sample
from cartelsim.dashboard.vega import VegaChart
from cartelsim.plan import make_plan
from cartelsim.report import page as report_page
from cartelsim.results import Results
from cartelsim.scenario import Scenario, ScenarioError

# Solara's "This website runs on Solara" banner sits over the bottom right of the page (over
# the sources list): not shown.
solara.server.settings.theme.show_banner = False


class LabelledFileInput(FileInput):
    """Vuetify's file chooser with a visible label (ipyvuetify's has none)."""

    template = traitlets.Unicode(
        FileInput.template.default_value.replace(
            "<v-file-input", '<v-file-input label="Upload a scenario file (.toml)"', 1
        )
    ).tag(sync=True)


#: Set by `serve` before the first page: the scenario catalog, the calibration posteriors and
#: the datasets folder.
SERVER = {"catalog": Catalog(), "posteriors": Posteriors(), "data_dir": None}
DEFAULT_SCENARIO = "mexico-2006-2012"
WITHOUT_LEVERS = "A without the levers"
NO_POSTERIOR = "none"
POSTERIOR_PREFIX = "posterior "
STATES = views.States.load()
STATE_CODES = {name: code for code, name in STATES.table["name"].items()}

# --- per-session state ---------------------------------------------------------------------
scenario_name = solara.reactive(DEFAULT_SCENARIO)
uploads = solara.reactive({})  # name -> Scenario, this session's uploaded files
upload_message = solara.reactive("")
runs = solara.reactive(1)
seed = solara.reactive(0)
mode = solara.reactive("deterministic")
uncertainty = solara.reactive(NO_POSTERIOR)  # NO_POSTERIOR or POSTERIOR_PREFIX + a name
engine = solara.reactive("aggregate")
scale = solara.reactive(5)  # agent engine: percent of the real population simulated
recruitment = solara.reactive(0)  # percent change
incapacitation = solara.reactive(0)
troops = solara.reactive(0)
region_name = solara.reactive("")  # a state for a regional deployment (agent engine)
region_troops = solara.reactive(5000)
intel_sharing = solara.reactive(False)
pact = solara.reactive("none")
pact_a = solara.reactive("")
pact_b = solara.reactive("")
kingpins = solara.reactive([])
#: Each lever's start date as typed (YYYY-MM-DD; empty: the scenario's start).
LEVER_DATES = ("recruitment", "incapacitation", "troop", "region", "intel", "pact", "kingpin")
dates = {lever: solara.reactive("") for lever in LEVER_DATES}
compare_with = solara.reactive(WITHOUT_LEVERS)
outcome = solara.reactive(None)  # the last finished Outcome
run_error = solara.reactive("")
map_year = solara.reactive(0)
map_source = solara.reactive("simulated")
view = solara.reactive("time series")
#: Simulation runs finished in this session (A's and B's), shown on the page; a result reused
#: (switching views) runs nothing and counts nothing.
finished_runs = solara.reactive(0)
other = solara.reactive(None)  # the last finished Other (scenario B for the comparison)


@dataclass(frozen=True)
class Request:
    """Everything a run depends on; a new Request starts a new run."""

    scenario: str
    upload: Scenario | None
    levers: Levers
    runs: int
    seed: int
    mode: str
    engine: str
    scale: float | None  # agent engine only: fraction of the real population
    posterior: str | None = None  # a posterior's name: run r uses its draw r


@dataclass(frozen=True, eq=False)  # compared by identity: it holds tables
class Outcome:
    request: Request
    scenario: Scenario  # A, with the levers applied
    results: Results
    table: pd.DataFrame
    groups: list[str]
    observed: list[views.Observed]
    notes: list[str]
    seconds: float

    @property
    def names(self) -> dict[str, str]:
        """Group short name -> full name (legends show full names)."""
        plan = self.results.plan
        return dict(zip(plan.shorts, plan.names, strict=True))


@dataclass(frozen=True, eq=False)
class Other:
    """Scenario B for the comparison, run for A's request (same runs, seed and draws)."""

    request: Request
    compare_with: str
    name: str
    table: pd.DataFrame


def _load(name: str, upload: Scenario | None, run_mode: str) -> Scenario:
    scenario = upload if upload is not None else SERVER["catalog"].load(name)
    if scenario.simulation.mode == run_mode:
        return scenario
    return scenario.model_copy(
        update={"simulation": scenario.simulation.model_copy(update={"mode": run_mode})}
    )


def _groups(scenario: Scenario) -> list[str]:
    if scenario.groups:
        return [g.short for g in scenario.groups]
    return make_plan(scenario, data_dir=SERVER["data_dir"]).shorts


@solara.lab.task(prefer_threaded=True)
def simulate(request: Request) -> None:
    """Run A (and B for the comparison); keep the result, or say in the page why not."""
    started = time.perf_counter()
    total = request.runs
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        if not simulate.is_current():
            raise solara.util.CancelledError()
        done += n
        simulate.progress = 100.0 * done / total

    data_dir = SERVER["data_dir"]
    try:
        base = _load(request.scenario, request.upload, request.mode)
        groups = _groups(base)
        scenario = apply_levers(base, request.levers, groups, request.engine)
        sample = None
        if request.posterior is not None:  # A and B run over the same draws: paired
            sample = SERVER["posteriors"].sample(request.posterior, request.runs, request.seed)
        results = _ensemble(scenario, request, sample, progress)
        observed, notes = views.observed_series(scenario, data_dir)
        table = results.to_pandas()
        result = Outcome(
            request,
            scenario,
            results,
            table,
            groups,
            observed,
            notes,
            time.perf_counter() - started,
        )
    except Exception as exc:  # shown in the page; the server and the last outcome stay
        if simulate.is_current():
            run_error.value = _one_line(exc)
        return
    if simulate.is_current():
        outcome.value = result
        run_error.value = ""
        finished_runs.value += request.runs


@solara.lab.task(prefer_threaded=True)
def simulate_other(request: Request, compare_with: str) -> None:
    """Run B for the comparison with A's request (paired: same seeds, same posterior draws),
    unless the last B was run for the same request."""
    last = other.value
    if last is not None and last.request == request and last.compare_with == compare_with:
        return

    def progress(n: int) -> None:
        if not simulate_other.is_current():
            raise solara.util.CancelledError()

    try:
        base = _load(request.scenario, request.upload, request.mode)
        if compare_with == WITHOUT_LEVERS:
            scenario, name = base, f"{base.name} without levers"
        else:
            scenario, name = _load(compare_with, None, request.mode), compare_with
        sample = None
        if request.posterior is not None:
            sample = SERVER["posteriors"].sample(request.posterior, request.runs, request.seed)
        table = _ensemble(scenario, request, sample, progress).to_pandas()
    except Exception as exc:
        if simulate_other.is_current():
            run_error.value = _one_line(exc)
        return
    if simulate_other.is_current():
        other.value = Other(request, compare_with, name, table)
        finished_runs.value += request.runs


def _ensemble(scenario: Scenario, request: Request, sample: Sample | None, progress) -> Results:
    """The request's runs of `scenario`: run r with posterior draw r when there is a sample."""
    data_dir = SERVER["data_dir"]
    if sample is not None:
        return run_sample(scenario, sample, request.seed, data_dir, progress)
    options = {"engine": request.engine}
    if request.engine == "agents":
        options["scale"] = request.scale
    return runner.run(scenario, request.runs, request.seed, data_dir, progress, **options)


def _html(tag: str, text: str, bold: str = "", classes: list[str] | None = None) -> None:
    """Text in an HTML element (escaped); `bold` is put in front in bold."""
    lead = f"<b>{html.escape(bold)}</b> " if bold else ""
    solara.HTML(tag=tag, unsafe_innerHTML=lead + html.escape(text), classes=classes or [])


def _one_line(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    lines = text.splitlines() or [type(exc).__name__]
    more = f" (and {len(lines) - 1} more problems)" if len(lines) > 1 else ""
    return f"The run failed: {lines[0]}{more}"


# --- page ----------------------------------------------------------------------------------


def _levers() -> tuple[Levers | None, str]:
    """The levers from the controls, or None and the reason they are not valid."""
    try:
        parsed = {k: _date(k, v.value) for k, v in dates.items()}
        pair = (pact_a.value, pact_b.value) if pact.value != "none" else None
        return (
            make_levers(
                recruitment_change=recruitment.value / 100,
                recruitment_date=parsed["recruitment"],
                incapacitation_change=incapacitation.value / 100,
                incapacitation_date=parsed["incapacitation"],
                troop_change=troops.value / 100,
                troop_date=parsed["troop"],
                region=STATE_CODES.get(region_name.value),
                region_troops=region_troops.value,
                region_date=parsed["region"],
                intel_sharing=intel_sharing.value,
                intel_date=parsed["intel"],
                pact=pact.value,
                pact_groups=pair,
                pact_date=parsed["pact"],
                kingpin_groups=tuple(kingpins.value),
                kingpin_date=parsed["kingpin"],
            ),
            "",
        )
    except ScenarioError as exc:
        return None, str(exc)


def _date(lever: str, text: str) -> dt.date | None:
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ScenarioError(f"{lever} start: not a date YYYY-MM-DD (got {text!r})") from None


def _settings_error(posterior: str | None) -> str:
    name = scenario_name.value
    try:
        scenario = uploads.value.get(name) or SERVER["catalog"].load(name)
    except ScenarioError as exc:
        return str(exc)
    scale_value = scale.value / 100 if engine.value == "agents" else None
    too_large = limits.request_error(scenario, runs.value, engine.value, scale_value)
    if too_large:
        return too_large
    if not 0 <= seed.value < 2**63:
        return f"seed: must be between 0 and 2**63-1 (got {seed.value})"
    if posterior is not None and engine.value != "aggregate":
        return "parameter uncertainty: a posterior runs with the aggregate engine only"
    return ""


@functools.cache
def _scenario_name(name: str) -> str | None:
    """The `name` field of catalog scenario `name` (a folder file's may differ from its file
    name), which a calibration's summary records; None if it does not load."""
    try:
        return SERVER["catalog"].load(name).name
    except ScenarioError:
        return None


def _posterior_choices(name: str) -> list[str]:
    """The parameter uncertainty choices for catalog scenario `name` (none for uploads)."""
    if name in uploads.value:
        return [NO_POSTERIOR]
    found = SERVER["posteriors"].names_for(_scenario_name(name))
    return [NO_POSTERIOR, *(POSTERIOR_PREFIX + n for n in found)]


def _posterior(name: str) -> str | None:
    """The chosen posterior's name, if one is chosen and calibrated on scenario `name`."""
    if uncertainty.value in _posterior_choices(name)[1:]:
        return uncertainty.value.removeprefix(POSTERIOR_PREFIX)
    return None


def _on_upload(file: dict) -> None:
    name = f"upload: {Path(file['name']).name}"
    try:
        scenario = SERVER["catalog"].parse_upload(file["name"], file["data"] or b"")
    except ScenarioError as exc:
        lines = str(exc).splitlines()
        upload_message.value = "Invalid scenario file: " + " | ".join(lines[:4])
        return
    upload_message.value = ""
    uploads.value = {**uploads.value, name: scenario}
    scenario_name.value = name


@solara.component
def Page():  # noqa: N802 (components are CamelCase in Solara)
    solara.Title("cartelsim dashboard")
    levers, lever_error = _levers()
    name = scenario_name.value
    posterior = _posterior(name)
    problem = lever_error or _settings_error(posterior)
    request = None
    if not problem:
        request = Request(
            name,
            uploads.value.get(name),
            levers,
            runs.value,
            seed.value,
            mode.value,
            engine.value,
            scale.value / 100 if engine.value == "agents" else None,
            posterior,
        )
    solara.use_effect(lambda: simulate(request) if request else None, [request])
    comparing = view.value == "compare"
    solara.use_effect(
        lambda: simulate_other(request, compare_with.value) if request and comparing else None,
        [request, compare_with.value, comparing],
    )
    solara.Style(CSS)

    with solara.Columns([1, 3]):
        with solara.Column():
            Controls()
        with solara.Column():
            _html("h2", "cartelsim: organized-crime conflict, scenario explorer")
            # Messages and the progress bar come and go inside a fixed column, so the views
            # below keep their place in the tree (and their drawn figures) meanwhile.
            with solara.Column():
                Messages(problem)
            if outcome.value is None:
                solara.Info("Running the first scenario...")
            else:
                ResultsView(outcome.value)


@solara.component
def Messages(problem: str):  # noqa: N802 (components are CamelCase in Solara)
    """Input problems, a failed run, and the run status with its progress bar."""
    if problem:
        solara.Error(f"Not run: {problem}", classes=["cs-input-error"])
    if run_error.value:
        solara.Error(run_error.value, classes=["cs-run-error"])
    pending = simulate.pending or simulate_other.pending
    status = "running" if pending else "ready"
    solara.Text(f"Runs finished: {finished_runs.value:,} ({status})", classes=["cs-status"])
    if pending:
        with solara.Row():
            solara.ProgressLinear(simulate.progress or True)
            solara.Button("Cancel", on_click=_cancel, text=True)


def _cancel() -> None:
    for task in (simulate, simulate_other):
        if task.pending:
            task.cancel()


@solara.component
def Controls():  # noqa: N802 (components are CamelCase in Solara)
    catalog = SERVER["catalog"]
    names = [*catalog.names(), *uploads.value]
    solara.Select("Scenario", values=names, value=scenario_name)
    ScenarioUpload()
    if upload_message.value:
        solara.Error(upload_message.value, classes=["cs-upload-error"])
    with solara.Row():
        solara.InputInt("Runs", value=runs)
        solara.InputInt("Seed", value=seed)
    solara.ToggleButtonsSingle(value=mode, values=["deterministic", "stochastic"])
    solara.ToggleButtonsSingle(value=engine, values=["aggregate", "agents"])
    choices = _posterior_choices(scenario_name.value)
    if len(choices) > 1:
        solara.Select(
            "Parameter uncertainty",
            values=choices,
            value=uncertainty.value if uncertainty.value in choices else NO_POSTERIOR,
            on_value=uncertainty.set,
        )
    posterior = _posterior(scenario_name.value)
    if engine.value == "agents":
        solara.SliderInt(
            "Agents: % of real numbers", value=scale, min=1, max=100, thumb_label="always"
        )
        solara.Text("Agent runs take seconds to a minute; they run in the background.")
    if posterior is not None:
        stochastic = " and its own stochastic run" if mode.value == "stochastic" else ""
        solara.Text(
            f"Each run takes its own draw from the posterior {posterior}{stochastic}: the "
            "bands show the parameter uncertainty"
            + (" and the runs' noise." if stochastic else " (deterministic runs: no noise).")
        )
    elif runs.value > 1 and mode.value == "deterministic":
        solara.Text("Deterministic runs are identical: choose stochastic for bands.")
    groups = outcome.value.groups if outcome.value else []

    _html("h3", "Policy levers")
    solara.Text("Each starts on its date (YYYY-MM-DD; empty: the scenario's start).")
    solara.Text(
        f"Changes in %, all on one scale ({LOW:+d} % to {HIGH:+d} %): 0 is the scenario as written."
    )
    _slider_with_date("Recruitment change (%)", recruitment, "recruitment")
    _slider_with_date("Incapacitation change (%)", incapacitation, "incapacitation")
    _slider_with_date("Troops change (%)", troops, "troop")
    if engine.value == "agents":
        with solara.Row():
            solara.Select("Troops to a state", values=["", *STATE_CODES], value=region_name)
            solara.InputInt("troops", value=region_troops)
        solara.InputText("State deployment from", value=dates["region"])
    else:
        solara.Text("Troops by state: choose the agent engine (this one is national).")
    solara.Checkbox(label="Intelligence sharing (arrests x1.5, assumption)", value=intel_sharing)
    if intel_sharing.value:
        solara.InputText("Intelligence sharing from", value=dates["intel"])
    _html("div", "between two groups", bold="Merger or truce")
    solara.ToggleButtonsSingle(value=pact, values=["none", "merge", "truce"])
    if pact.value != "none":
        with solara.Row():
            solara.Select("group", values=groups, value=pact_a)
            solara.Select("with", values=groups, value=pact_b)
            solara.InputText("from", value=dates["pact"])
    _html("div", "leader removed: +36.5 % violence for 26 weeks", bold="Kingpin targeting")
    with solara.Row():
        solara.SelectMultiple("groups", values=kingpins, all_values=groups)
        solara.InputText("on", value=dates["kingpin"])
    _html("h3", "Compare with (B)")
    solara.Select("B", values=[WITHOUT_LEVERS, *catalog.names()], value=compare_with)


LOW, HIGH = (round(100 * x) for x in CHANGE_RANGE)


def _slider_with_date(label: str, value, key: str) -> None:
    with solara.Column(classes=["cs-lever"], gap="0px"):
        solara.SliderInt(label, value=value, min=LOW, max=HIGH, step=5, thumb_label="always")
    solara.InputText(f"{label.split(' ')[0]} from (YYYY-MM-DD)", value=dates[key])


@solara.component
def ScenarioUpload():  # noqa: N802 (components are CamelCase in Solara)
    """A file chooser (Vuetify's, with a real file input) whose file is read into memory.

    Solara's FileDrop only takes files dragged onto it; this one also opens the system's
    file dialog. The reading follows Solara's FileDrop: the browser sends the file in chunks
    to the widget, read in a thread."""
    info, set_info = solara.use_state(None)
    files, set_files = solara.use_state(None)
    chooser = LabelledFileInput.element(multiple=False, accept=".toml", on_file_info=set_info)

    def connect() -> None:  # the widget exists only in an effect
        if info:
            set_files(solara.get_widget(chooser).get_files())

    def read() -> None:
        if files:
            _on_upload({"name": files[0]["name"], "data": files[0]["file_obj"].read()})

    solara.use_effect(connect, [info])
    solara.use_thread(read, [files])
    return chooser


@solara.component
def ResultsView(result: Outcome):  # noqa: N802 (components are CamelCase in Solara)
    scenario = result.scenario
    totals = solara.use_memo(lambda: views.totals(result.table), [result])
    _html("div", scenario.description, bold=scenario.name)
    _html(
        "div",
        f"{_runs_text(result.request)}, seed {result.request.seed}, "
        f"{_engine_text(result.request)}; computed in {result.seconds:.2f} s.",
        classes=["cs-run-info"],
    )
    solara.Text(
        f"Killings over the whole run (median): {totals['killings (whole run)']:,.0f}",
        classes=["cs-killings-total"],
    )
    for note in result.notes:
        solara.Warning(note)
    solara.ToggleButtonsSingle(value=view, values=list(VIEWS), classes=["cs-views"])
    VIEWS[view.value](result)


def _stochastic(request: Request) -> bool:
    """Whether the runs draw random events: the stochastic mode, or the agent engine."""
    return request.mode == "stochastic" or request.engine == "agents"


def _runs_text(request: Request) -> str:
    if request.posterior is None:
        kind = "stochastic" if _stochastic(request) else "deterministic"
        return f"{request.runs} {kind} run(s)"
    kind = " (deterministic runs)"
    if _stochastic(request):
        kind = " (each with its own stochastic run)"
    return f"{request.runs} posterior draws from {request.posterior}{kind}"


def _engine_text(request: Request) -> str:
    if request.engine == "agents":
        return f"agent engine at {request.scale:.0%} of the real numbers"
    return "aggregate engine"


@solara.component
def TimeSeries(result: Outcome):  # noqa: N802 (components are CamelCase in Solara)
    specs = solara.use_memo(
        lambda: figures.time_series(
            result.table,
            result.observed,
            result.request.runs,
            result.request.posterior,
            result.names,
            _stochastic(result.request),
        ),
        [result],
    )
    solara.Text(
        "Hover a chart for values; drag or scroll to zoom in time (double-click resets); "
        "click a legend entry to hide or show its series.",
        classes=["cs-hint"],
    )
    for spec in specs:
        VegaChart(spec)
    References(result)


def _references(result: Outcome) -> list[dict]:
    """The observed series' sources, deduplicated, for the observations the run covers (at
    least half of each observation's months inside the run's dates)."""
    start, end = result.table["date"].min(), result.table["date"].max()
    supported: dict[str, list[int]] = {}
    for obs in result.observed:
        for year, (begin, stop, _) in zip(sorted(obs.sources), obs.spans, strict=False):
            inside = (min(stop, end) - max(begin, start)).days
            if inside < 0.5 * (stop - begin).days:
                continue
            for source in report_page.split_sources(obs.sources[year]):
                supported.setdefault(source, []).append(year)
    return report_page.reference_list(supported)


@solara.component
def References(result: Outcome):  # noqa: N802 (components are CamelCase in Solara)
    entries = solara.use_memo(lambda: _references(result), [result])
    if not entries:
        return
    names = ", ".join(obs.name for obs in result.observed)
    solara.HTML(
        tag="div",
        unsafe_innerHTML=f"<h4>Sources of the observed series ({html.escape(names)}), for the "
        "years shown</h4>" + report_page.references_html(entries),
        classes=["cs-references"],
    )


@solara.component
def MapView(result: Outcome):  # noqa: N802 (components are CamelCase in Solara)
    years = views.map_years(result.table)
    if not years:
        solara.Warning("The run covers no full calendar year: no map.")
        return
    year = map_year.value if map_year.value in years else years[-1]
    observed = map_source.value != "simulated"
    solara.ToggleButtonsSingle(value=map_source, values=["simulated", "observed 2009"])
    if not observed:
        solara.SliderInt(
            f"Year: {year}",
            value=year,
            min=years[0],
            max=years[-1],
            on_value=map_year.set,
            tick_labels=[str(y) for y in years],
        )
    frame = solara.use_memo(
        lambda: (
            views.observed_map_frame(STATES)
            if observed
            else views.map_frame(result.table, STATES, year)
        ),
        [result, year, observed],
    )
    # One colour scale for all simulated years, so moving the slider compares like with like.
    vmax = solara.use_memo(
        lambda: (
            frame.rate.max()
            if observed
            else max(views.map_frame(result.table, STATES, y).rate.max() for y in years)
        ),
        [result, observed],
    )
    maps = solara.use_memo(lambda: figures.tile_map(frame, STATES, vmax), [frame, vmax])
    with solara.Row(classes=["cs-maps"]):
        for spec in maps:
            VegaChart(spec)
    top = frame.rate.idxmax()
    solara.Text(
        f"{frame.year}: highest {STATES.table.loc[top, 'name']}, "
        f"{frame.rate[top]:.1f} killings per 100,000",
        classes=["cs-map-caption"],
    )
    solara.Text(f"How: {frame.method}.")
    if frame.control is None and views.regional(result.table).empty:
        solara.Info(
            "Which group controls each state needs results with regions (the agent engine); "
            "these results are national, so control is not shown."
        )
    elif frame.control is None:
        solara.Info(
            "Which group controls each state needs members by group and state; these "
            "results have members by state only, so control is not shown."
        )


@solara.component
def Comparison(result: Outcome):  # noqa: N802 (components are CamelCase in Solara)
    last = other.value
    if last is None or last.request != result.request or last.compare_with != compare_with.value:
        solara.Info("Running B for the comparison...")
        return
    ComparisonView(result, last)


@solara.component
def ComparisonView(result: Outcome, b: Other):  # noqa: N802 (components are CamelCase in Solara)
    name_a = f"{result.scenario.name} (with levers)"
    specs = solara.use_memo(
        lambda: figures.comparison(
            result.table,
            b.table,
            name_a,
            b.name,
            result.request.runs,
            result.request.posterior,
            _stochastic(result.request),
        ),
        [result, b],
    )
    _html("div", f"{name_a};  B: {b.name}", bold="A:")
    if result.request.posterior is not None:
        solara.Text(
            f"A and B run over the same {result.request.runs} draws of the posterior "
            f"{result.request.posterior}: the difference is taken draw by draw."
        )
    a_totals, b_totals = views.totals(result.table), views.totals(b.table)
    rows = [
        [key, _count(a_totals[key]), _count(b_totals[key]),
         _count(a_totals[key] - b_totals[key], sign=True)]
        for key in a_totals
    ]  # fmt: skip
    _table(["median over the runs", "A", "B", "A - B"], rows, ["cs-comparison"])
    if result.table["date"].min() != b.table["date"].min():
        solara.Warning("A and B cover different dates: the difference uses the dates both cover.")
    with solara.Columns([1, 1]):
        for spec in specs[0::2]:
            VegaChart(spec)
    with solara.Columns([1, 1]):
        for spec in specs[1::2]:
            VegaChart(spec)


def _count(x: float, sign: bool = False) -> str:
    """'24,000', '-1,234' (with `sign`: '+1,234'); a difference within rounding reads 0."""
    x = 0.0 if abs(x) < 0.5 else x
    return f"{x:+,.0f}" if sign and x else f"{x:,.0f}"


def _table(headers: list[str], rows: list[list[str]], classes: list[str]) -> None:
    """A plain HTML table (escaped), without an index column; long text wraps."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    solara.HTML(
        tag="div",
        unsafe_innerHTML=f"<table class='cs-table'><tr>{head}</tr>{body}</table>",
        classes=classes,
    )


@solara.component
def ScenarioInfo(scenario: Scenario):  # noqa: N802 (components are CamelCase in Solara)
    _html("div", scenario.description, bold=scenario.name)
    if scenario.groups:
        rows = [
            [g.name, g.short, _count(g.initial_members),
             g.source + (" (assumption)" if g.assumption else "")]
            for g in scenario.groups
        ]  # fmt: skip
        _table(["group", "short", "members at start", "source"], rows, ["cs-groups"])
    else:
        solara.Text(f"Groups and network from the dataset {scenario.network.dataset}.")
    params = scenario.parameters
    rows = []
    for name in type(params).model_fields:
        value = getattr(params, name)
        if hasattr(value, "value"):
            rows.append(
                [name, f"{value.value:,.6g}", value.unit,
                 value.source + (" (assumption)" if value.assumption else "")]
            )  # fmt: skip
    _table(["parameter", "value", "unit", "source"], rows, ["cs-parameters"])
    changes = [
        f"{p.date}: {p.parameter} "
        + (f"x {p.multiply:g}" if p.multiply is not None else f"= {p.set:g}")
        + f" ({p.note})"
        for p in scenario.policies
    ]
    if changes:
        _html("div", "; ".join(changes), bold="Policies:")


@solara.component
def Downloads(result: Outcome):  # noqa: N802 (components are CamelCase in Solara)
    stem = result.scenario.name

    def parquet() -> bytes:
        if result.request.posterior is not None:
            return posterior_parquet(result.results, result.table, result.request.posterior)
        with tempfile.TemporaryDirectory() as folder:
            return result.results.write(folder)["results"].read_bytes()

    def csv() -> bytes:
        buffer = io.StringIO()
        result.table.to_csv(buffer, index=False)
        return buffer.getvalue().encode()

    def report() -> bytes:
        from cartelsim.report.run_report import write_report

        with tempfile.TemporaryDirectory() as folder:
            return write_report(result.results, Path(folder) / "report.html").read_bytes()

    posterior = result.request.posterior
    if posterior is None:
        solara.Text("Scenario A (with the levers): the tidy table and the HTML report.")
    else:
        solara.Text(
            f"Scenario A (with the levers) over the posterior {posterior}: the tidy table, "
            "run r with draw r. The HTML report is for runs without a posterior (its summary "
            "would show one set of parameters); the calibration's own report.html shows the "
            "posterior."
        )
    with solara.Row():
        solara.FileDownload(parquet, filename=f"{stem}.parquet", label="Results (Parquet)")
        solara.FileDownload(csv, filename=f"{stem}.csv", label="Results (CSV)")
        if posterior is None:
            solara.FileDownload(report, filename=f"{stem}-report.html", label="Report (HTML)")


#: The page's style: readable fonts, tables that wrap rather than widen the page, room at the
#: bottom so that Solara's badge covers nothing.
CSS = """
.cs-table { border-collapse: collapse; table-layout: fixed; width: 100%; font-size: 14px; }
.cs-table td, .cs-table th { border-bottom: 1px solid #ddd; padding: 3px 10px;
  text-align: left; vertical-align: top; overflow-wrap: anywhere; }
.cs-comparison .cs-table { width: auto; }
.cs-comparison .cs-table td + td { text-align: right; font-variant-numeric: tabular-nums; }
.cs-references { font-size: 14px; margin-top: 1em; padding-bottom: 80px; }
.cs-references li { overflow-wrap: anywhere; }
.cs-hint { color: #555; font-size: 14px; }
.cs-chart { margin: 6px 0 18px; }
.v-application { font-size: 15px; }
.cs-lever .v-input.v-slider { display: grid; grid-template-columns: 100%;
  grid-template-areas: "prepend" "control" "messages"; }
.cs-lever .v-input__prepend { margin: 0 0 30px 0; }
"""

#: The result views, one shown at a time (only the one shown is drawn).
VIEWS = {
    "time series": TimeSeries,
    "map": MapView,
    "compare": Comparison,
    "scenario": lambda result: ScenarioInfo(result.scenario),
    "download": Downloads,
}
