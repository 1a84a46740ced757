"""Hindcasts: forecasts made only from the data before each origin, scored out of sample.

Every figure a calibration reports was fitted to the years it is compared with; a hindcast
asks how the model does on years it has not seen, the way conflict forecasts are judged
(the VIEWS prediction challenge, Hegre et al. 2025, J. Peace Research 62(6)): forecasts as
samples, scored with the continuous ranked probability score (CRPS, `scoringrules`) against
naive baselines, which are often hard to beat.

For each origin (a 1 January; default 2009, 2011, 2013, 2016, 2019):

1. **Calibrate** on the observations dated before the origin only: the scenario cut at the
   origin (events after it cannot matter), its targets limited to the years before it (a
   claim dated after it dropped), with `analysis.calibrate` (pyabc ABC-SMC; a history per
   origin in OUT/origins/DATE/calibration, so an interrupted hindcast resumes there).
   `min_epsilon` is scaled by sqrt(points here / points in the full calibration): it means
   "each point within about one measurement error" whatever the number of points.
2. **Forecast** 1, 2 and 3 years ahead (the calendar years from the origin on) with `draws`
   posterior-predictive runs in stochastic mode (process noise) plus observation noise:
   each simulated value times exp(sigma * N(0, 1)), sigma the target's relative_error, the
   same error the calibration's distance divides by. Two variants:
   - `known-events`: the scenario's dated events, deployments and policies after the origin
     stay (a forecast conditional on what was going to happen);
   - `blind`: they are dropped (forces stay at their last level before the origin; no split,
     removal or fragmentation after it).
   Both variants use the same parameter draws, seeds and observation noise (paired), so
   their difference is the events alone. Each is scored twice: as simulated (`model`), and
   `anchored`: every run times observed / simulated in the jump-off year (the year before
   the origin), the jump-off correction of population and macroeconomic forecasting. The
   first asks whether the calibrated world is where the data were; the second whether the
   model's predicted change from there beats the baselines' (persistence predicts none).
3. **Score** every yearly series the scenario's calibration fits (full calendar years only:
   a Jan-Sep figure has no comparable previous year) and, where the scenario fits INEGI
   homicides, INEGI's monthly series (observe.MONTHLY; a week's flow spread over its days).
   Baselines, from the observed series alone (its years before the scenario's start
   included):
   - `persistence`: the last observed year (month), as a point forecast;
   - `drift`: the straight line through the last three years (36 months), extrapolated;
   - `nb_random_walk`: y_t ~ NegBin(mean y_{t-1}, dispersion r), r by the method of moments
     from the changes over the last five years (60 months); Poisson when they vary less.
   A point forecast's CRPS is its absolute error. Skill = 1 - CRPS_model / CRPS_baseline;
   the skill of a series over origins is 1 - sum CRPS_model / sum CRPS_baseline (each
   series in its own unit), and the mean skill at a horizon is 1 - the geometric mean over
   the series of CRPS_model / CRPS_baseline (skills are unbounded below; ratios average
   fairly on the log scale).

Outputs (OUT): hindcast.json (per origin, horizon, series and variant: the observations,
forecast quantiles, CRPS and coverage, the same for each baseline, and skills),
hindcast.parquet (every draw), report.html (written by report.hindcast_report).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scoringrules

from cartelsim import datasets, integrity, observe, outputs
from cartelsim.analysis import calibrate
from cartelsim.scenario import Scenario, ScenarioError, load_scenario, validate, with_mode

DEFAULT_ORIGINS = ("2009-01-01", "2011-01-01", "2013-01-01", "2016-01-01", "2019-01-01")
VARIANTS = ("known-events", "blind")
BASELINES = ("persistence", "drift", "nb_random_walk")
#: Years (months) of history each baseline uses.
DRIFT_YEARS, NB_YEARS = 3, 5
#: Default posterior-predictive draws per origin and variant.
DEFAULT_DRAWS = 1000
#: Default ABC settings of each origin's calibration: smaller than a full calibration's, so
#: that five origins fit in 30 minutes on two cores (the README gives the measured time).
DEFAULT_PARTICLES, DEFAULT_POPULATIONS = 800, 4
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_HORIZON = 10
#: Years of observations before an origin that the summary keeps (and the report shows).
HISTORY_YEARS = 5
MONTHLY_KEY = "inegi:homicides_monthly"
#: The model's two forecasts: as simulated, and anchored to the jump-off year (_anchor);
#: each one's skill against a baseline is stored under its key here.
SKILL = {"model": "skill", "anchored": "skill_anchored"}
#: What a finished origin's record holds; a record of another format is not read back.
FORMAT = 2
#: The file that marks an origin as finished (its forecasts and scores).
ORIGIN_FILE = "forecast.json"
DRAWS_FILE = "draws.parquet"
HINDCAST_META = b"cartelsim_hindcast"


class HindcastError(ValueError):
    """A bad hindcast option: one line naming the option and the reason."""


@dataclass(frozen=True)
class Series:
    """An observed national series a hindcast scores: yearly (calendar-year values) or
    monthly ((year, month) values), with the weekly model variable it is compared with."""

    name: str
    variable: str
    relative_error: float
    source: str
    monthly: bool
    values: dict  # year -> value, or (year, month) -> value

    def history(self, origin: dt.date) -> list[float]:
        """Observed values before the origin, oldest first, up to the last before it; only
        an unbroken run of periods counts (a gap ends the history)."""
        keys = sorted(k for k in self.values if _key_date(k, self.monthly) < origin)
        out, previous = [], None
        for key in reversed(keys):
            if previous is not None and _step_back(previous, self.monthly) != key:
                break
            out.append(self.values[key])
            previous = key
        if out and _step_back(_first_key(origin, self.monthly), self.monthly) != keys[-1]:
            return []  # the last period before the origin is not observed
        return out[::-1]

    def periods(self, origin: dt.date, horizon: int) -> list:
        """The keys of horizon `horizon` (1 = the first calendar year from the origin)."""
        year = origin.year + horizon - 1
        return [(year, m) for m in range(1, 13)] if self.monthly else [year]


def _key_date(key, monthly: bool) -> dt.date:
    return dt.date(key[0], key[1], 1) if monthly else dt.date(key, 1, 1)


def _first_key(origin: dt.date, monthly: bool):
    return (origin.year, origin.month) if monthly else origin.year


def _step_back(key, monthly: bool):
    if not monthly:
        return key - 1
    year, month = key
    return (year - 1, 12) if month == 1 else (year, month - 1)


def scored_series(scenario: Scenario, data_dir=None) -> list[Series]:
    """The series a hindcast of `scenario` scores: each yearly, equal-comparison series
    target of its calibration (full calendar years, including those before the target's
    first_year: the baselines' history), and INEGI's monthly homicides when the scenario
    fits INEGI homicides."""
    out, names = [], set()
    for target in scenario.calibration.targets:
        if target.data.startswith("claim:") or target.comparison != "equal":
            continue
        series = observe.load_series(target.data, data_dir)
        values = {y: v for y, v in series.values.items() if series.months[y] == (1, 12)}
        if len(values) < 2 or target.name in names:
            continue
        names.add(target.name)
        source = target.source or series.source_text()
        out.append(
            Series(target.name, target.variable, target.relative_error, source, False, values)
        )
        if target.variable == "homicides" and "inegi" in target.data:
            monthly = observe.load_monthly(MONTHLY_KEY)
            out.append(
                Series(
                    target.name + "_monthly",
                    "homicides",
                    target.relative_error,
                    monthly.source,
                    True,
                    dict(monthly.values),
                )
            )
    return out


# --- options ---------------------------------------------------------------------------------


def parse_origins(text: str | None) -> list[dt.date]:
    """--origins: comma-separated 1 January dates (default DEFAULT_ORIGINS)."""
    items = DEFAULT_ORIGINS if text is None else [t.strip() for t in text.split(",")]
    origins = []
    for item in items:
        try:
            day = dt.date.fromisoformat(item)
        except ValueError:
            raise HindcastError(f"--origins {item}: not a date YYYY-MM-DD") from None
        if (day.month, day.day) != (1, 1):
            raise HindcastError(
                f"--origins {item}: must be a 1 January (the yearly series are calendar years)"
            )
        if day in origins:
            raise HindcastError(f"--origins {item}: given twice")
        origins.append(day)
    if not origins:
        raise HindcastError("--origins: give at least one date, e.g. 2011-01-01")
    return sorted(origins)


def parse_choice(text: str | None, known: tuple[str, ...], option: str) -> list[str]:
    """A comma-separated subset of `known` (default: all of them)."""
    if text is None:
        return list(known)
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    for item in chosen:
        if item not in known:
            raise HindcastError(f"{option} {item}: unknown (known: {', '.join(known)})")
    if not chosen or len(set(chosen)) != len(chosen):
        raise HindcastError(f"{option}: give each of {', '.join(known)} at most once")
    return chosen


def check_origins(
    scenario: Scenario, origins: list[dt.date], horizons: int, series: list[Series]
) -> None:
    """Every origin inside the scenario, with an observation before it and the horizon
    within the scenario's end."""
    start, end = scenario.simulation.start, scenario.simulation.end()
    if not 1 <= horizons <= MAX_HORIZON:
        raise HindcastError(f"--horizons {horizons}: must be between 1 and {MAX_HORIZON}")
    for origin in origins:
        if not start < origin < end:
            raise HindcastError(
                f"--origins {origin}: outside {scenario.name}'s period {start} to {end}"
            )
        if not any(s.history(origin) for s in series):
            raise HindcastError(f"--origins {origin}: no observation before it")
        last = dt.date(origin.year + horizons, 1, 1)
        if last > end + dt.timedelta(days=7):
            raise HindcastError(
                f"--horizons {horizons}: from origin {origin}, {horizons} years reach {last}, "
                f"past {scenario.name}'s end {end}"
            )
        if not any(
            all(k in s.values for k in s.periods(origin, h))
            for s in series
            for h in range(1, horizons + 1)
        ):
            raise HindcastError(f"--origins {origin}: no observation to score after it")


# --- the scenario at an origin ----------------------------------------------------------------


def cut(scenario: Scenario, end: dt.date, origin: dt.date | None = None) -> Scenario:
    """The scenario simulated until `end` (its weeks up to the first that starts on or after
    `end`), without what takes effect after its last week; with `origin` (blind), also
    without the events, deployments and policies dated on or after the origin."""
    return validate(_cut_document(scenario, end, origin), f"{scenario.name}.toml")


def _cut_document(scenario: Scenario, end: dt.date, origin: dt.date | None) -> dict:
    """cut's scenario as a document, before validation."""
    sim = scenario.simulation
    weeks = next(w for w in range(1, sim.weeks + 1) if sim.week_start(w) >= end or w == sim.weeks)
    last = sim.week_start(weeks - 1) + dt.timedelta(days=1)
    limit = min(last, origin) if origin is not None else last
    document = scenario.model_dump(mode="python", exclude_none=True)
    document["simulation"]["weeks"] = weeks
    for key in ("events", "deployments", "policies"):
        document[key] = [item for item in document[key] if item["date"] < limit]
    return document


def calibration_scenario(scenario: Scenario, origin: dt.date, data_dir=None) -> Scenario:
    """The scenario cut at the origin, its calibration fitting only what was observed before:
    yearly targets end with the year before the origin, claims dated after it are dropped,
    and a target with no point before the origin is left out."""
    document = _cut_document(scenario, origin, None)
    kept, facts = [], {r["claim"]: r for r in datasets.fact_rows("mexico_claims.csv")}
    for target in document["calibration"]["targets"]:
        if target["data"].startswith("claim:"):
            row = facts.get(target["data"].removeprefix("claim:"))
            if row is not None and dt.date.fromisoformat(row["date"]) < origin:
                kept.append(target)
            continue
        series = observe.load_series(target["data"], data_dir)
        first, last = target.get("first_year"), target.get("last_year")
        if any(
            scenario.simulation.start.year <= y < origin.year
            and (first is None or y >= first) and (last is None or y <= last)
            for y in series.values
        ):  # fmt: skip
            target["last_year"] = min(last or origin.year - 1, origin.year - 1)
            kept.append(target)
    if not kept:
        raise HindcastError(f"--origins {origin}: no calibration target has data before it")
    document["calibration"]["targets"] = kept
    return validate(document, f"{scenario.name}.toml")


# --- forecasts and scores --------------------------------------------------------------------


def model_values(plan, weekly: dict[str, np.ndarray], series: Series, key) -> np.ndarray:
    """The model's value of one period of a series for every run: (runs,)."""
    variable = observe.VARIABLE_OF.get(series.variable, series.variable)
    if series.monthly:
        weights = observe.month_weights(plan, *key)
        return weights @ weekly[variable]
    return observe.window_value(plan, weekly[variable], variable, key)


def stream(seed: int, *names: str) -> np.random.Generator:
    """The random stream of one purpose (observation noise of a series, a baseline), from
    the seed and the purpose's names: independent of every other stream and of the order
    in which the forecasts are made."""
    words = [zlib.crc32("/".join(names).encode())]
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


def baseline_forecast(
    name: str,
    history: list[float],
    steps: int,
    draws: int,
    generator: np.random.Generator,
    periods: int = 1,
) -> np.ndarray | None:
    """`steps` periods ahead of the history: (steps, 1) for a point forecast, (steps, draws)
    for the negative-binomial random walk; None when the history is too short. `periods`:
    periods per year (12 for a monthly series), which sets the spans the baselines fit."""
    y = np.asarray(history, float)
    if name == "persistence":
        return None if len(y) < 1 else np.full((steps, 1), y[-1])
    if name == "drift":
        span = DRIFT_YEARS * periods
        if len(y) < 2:
            return None
        tail = y[-span:]
        t = np.arange(len(tail), dtype=float)
        slope, intercept = np.polyfit(t, tail, 1)
        ahead = t[-1] + np.arange(1, steps + 1)
        return np.maximum(intercept + slope * ahead, 0.0)[:, None]
    span = NB_YEARS * periods
    if len(y) < 3:
        return None
    tail = y[-span:]
    changes = np.diff(tail)
    mean, var = float(tail.mean()), float(np.mean(changes**2))
    r = mean**2 / (var - mean) if var > mean else math.inf
    out = np.empty((steps, draws))
    level = np.full(draws, y[-1])
    for step in range(steps):
        mu = np.maximum(level, 1e-9)
        if math.isinf(r):
            level = generator.poisson(mu).astype(float)
        else:
            level = generator.negative_binomial(r, r / (r + mu)).astype(float)
        out[step] = level
    return out


def score(observed: np.ndarray, sample: np.ndarray) -> dict:
    """CRPS (mean over the periods), 50 % / 90 % coverage (share of periods inside; None for
    a point forecast) and quantiles of a forecast `sample` (periods, draws)."""
    crps = scoringrules.crps_ensemble(observed, sample, m_axis=-1)
    out = {"crps": float(np.mean(crps))}
    if sample.shape[1] > 1:
        q = np.quantile(sample, QUANTILES, axis=1)
        out["coverage_50"] = float(np.mean((q[1] <= observed) & (observed <= q[3])))
        out["coverage_90"] = float(np.mean((q[0] <= observed) & (observed <= q[4])))
        out["quantiles"] = {f"q{round(p * 100):02d}": _list(q[k]) for k, p in enumerate(QUANTILES)}
    else:
        out["coverage_50"] = out["coverage_90"] = None
        out["quantiles"] = {"point": _list(sample[:, 0])}
    return out


def _list(x) -> list[float]:
    return [float(v) for v in np.atleast_1d(x)]


def forecast_origin(
    scenario: Scenario,
    origin: dt.date,
    horizons: int,
    variants: list[str],
    baselines: list[str],
    series: list[Series],
    table: pd.DataFrame,
    fixed: dict[str, float],
    n_draws: int,
    seed: int,
    data_dir=None,
) -> tuple[list[dict], pd.DataFrame]:
    """Forecast rows (one per variant, series and horizon with observations) and the draws
    table of one origin, from its posterior `table`."""
    end = dt.date(origin.year + horizons, 1, 1)
    sample = calibrate.posterior_sample_models(table, n_draws, seed)
    frames, simulated = [], {}
    for variant in variants:
        case = with_mode(cut(scenario, end, origin if variant == "blind" else None), "stochastic")
        ensembles = calibrate.model_ensembles(
            case, sample, fixed, data_dir, lambda k: seed + 7919 * k, record="national"
        )
        weekly = {v: np.concatenate([e[3][v] for e in ensembles], axis=1) for v in ensembles[0][3]}
        simulated[variant] = (ensembles[0][1], weekly)
    rows = []
    for s in series:
        generator = stream(seed, "observation_noise", origin.isoformat(), s.name)
        history = s.history(origin)
        base = _baselines(baselines, history, s, horizons, n_draws, seed, origin)
        for h in range(1, horizons + 1):
            keys = s.periods(origin, h)
            eps = generator.standard_normal((len(keys), n_draws))  # the same for every variant
            if not all(k in s.values for k in keys):
                continue
            observed = np.array([s.values[k] for k in keys])
            ahead = slice((h - 1) * len(keys), h * len(keys))
            for variant in variants:
                plan, weekly = simulated[variant]
                values = np.maximum(np.stack([model_values(plan, weekly, s, k) for k in keys]), 0)
                noise = np.exp(s.relative_error * eps)
                forecasts = {"model": values * noise}
                factor = _anchor(plan, weekly, s, origin)
                if factor is not None:
                    forecasts["anchored"] = values * factor * noise
                row = {
                    "origin": origin.isoformat(),
                    "horizon": h,
                    "series": s.name,
                    "monthly": s.monthly,
                    "variant": variant,
                    "periods": [_label(k) for k in keys],
                    "observed": _list(observed),
                    **{kind: score(observed, f) for kind, f in forecasts.items()},
                    "baselines": {},
                }
                row.setdefault("anchored", None)
                for name, whole in base.items():
                    result = None if whole is None else score(observed, whole[ahead])
                    if result is not None and result["crps"] > 0:
                        for kind in forecasts:
                            result[SKILL[kind]] = 1.0 - row[kind]["crps"] / result["crps"]
                    row["baselines"][name] = result
                rows.append(row)
                for kind, forecast in forecasts.items():
                    frames.append(
                        pd.DataFrame({
                            "origin": origin.isoformat(), "variant": variant, "forecast": kind,
                            "series": s.name, "horizon": h,
                            "period": np.repeat([_label(k) for k in keys], forecast.shape[1]),
                            "draw": np.tile(np.arange(forecast.shape[1]), len(keys)),
                            "value": forecast.ravel(),
                        })
                    )  # fmt: skip
    draws_table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return rows, draws_table


def _anchor(plan, weekly: dict, s: Series, origin: dt.date) -> np.ndarray | None:
    """Per run, observed / simulated over the jump-off year (the calendar year before the
    origin): the factor that puts each run's level where the data were when the forecast
    was made, keeping the model's change from there (a jump-off correction, as population
    and macroeconomic forecasts make). None when that year is not observed or simulated."""
    keys = s.periods(dt.date(origin.year - 1, 1, 1), 1)
    if not all(k in s.values for k in keys):
        return None
    if plan.dates()[0] > dt.date(origin.year - 1, 1, 1) + dt.timedelta(days=7):
        return None
    simulated = sum(np.maximum(model_values(plan, weekly, s, k), 0.0) for k in keys)
    observed = sum(s.values[k] for k in keys)
    return observed / np.maximum(simulated, 1e-9)


def _baselines(names, history, s: Series, horizons: int, n, seed, origin) -> dict:
    """Each baseline's forecast of every period up to the last horizon: (periods, 1 or n),
    or None where the history is too short for it."""
    per_year = 12 if s.monthly else 1
    return {
        name: baseline_forecast(
            name,
            history,
            horizons * per_year,
            n,
            stream(seed, "baseline", name, s.name, origin.isoformat()),
            per_year,
        )  # fmt: skip
        for name in names
    }


def _label(key) -> str:
    return f"{key[0]}-{key[1]:02d}" if isinstance(key, tuple) else str(key)


# --- summaries --------------------------------------------------------------------------------


def skill_table(rows: list[dict]) -> list[dict]:
    """Skill per forecast (model, anchored), variant, baseline, horizon and series over the
    origins (1 - sum of the model's CRPS / sum of the baseline's, on the forecasts both
    have), and the mean over the series (`series` = "mean"): 1 - the geometric mean of the
    CRPS ratios, since a skill is unbounded below and one series the baseline nails would
    otherwise decide an arithmetic mean alone."""
    out, per = [], {}
    baselines = sorted({b for r in rows for b in r["baselines"]})
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["horizon"], r["series"]), []).append(r)
    for kind in SKILL:
        for (variant, horizon, name), chosen in sorted(groups.items()):
            for b in baselines:
                pairs = [
                    (r[kind]["crps"], r["baselines"][b]["crps"])
                    for r in chosen
                    if r.get(kind) is not None and r["baselines"].get(b) is not None
                ]
                if not pairs or sum(p[1] for p in pairs) <= 0:
                    continue
                skill = 1.0 - sum(p[0] for p in pairs) / sum(p[1] for p in pairs)
                per.setdefault((kind, variant, b, horizon), []).append(skill)
                out.append({
                    "forecast": kind, "variant": variant, "baseline": b, "horizon": horizon,
                    "series": name, "origins": len(pairs), "skill": float(skill),
                })  # fmt: skip
    for (kind, variant, b, horizon), skills in sorted(per.items()):
        ratios = np.maximum(1.0 - np.asarray(skills), 1e-12)  # CRPS_model / CRPS_baseline
        out.append({
            "forecast": kind, "variant": variant, "baseline": b, "horizon": horizon,
            "series": "mean", "origins": None,
            "skill": float(1.0 - np.exp(np.mean(np.log(ratios)))),
        })  # fmt: skip
    return out


def events_share(rows: list[dict]) -> list[dict]:
    """Per origin, series and horizon: the CRPS of each forecast (model, anchored) knowing
    the later events and blind, beside persistence's, and the events' gain: 1 - CRPS known /
    CRPS blind (how much of the accuracy the events bring rather than the dynamics)."""
    index = {(r["origin"], r["series"], r["horizon"], r["variant"]): r for r in rows}
    out = []
    for (origin, name, horizon, variant), known in sorted(index.items()):
        blind = index.get((origin, name, horizon, "blind"))
        if variant != "known-events" or blind is None:
            continue
        persistence = known["baselines"].get("persistence")
        for kind in SKILL:
            if known.get(kind) is None or blind.get(kind) is None:
                continue
            a, b = known[kind]["crps"], blind[kind]["crps"]
            out.append({
                "origin": origin, "series": name, "horizon": horizon, "forecast": kind,
                "crps_known_events": a, "crps_blind": b,
                "crps_persistence": None if persistence is None else persistence["crps"],
                "events_gain": 1.0 - a / b if b > 0 else None,
            })  # fmt: skip
    return out


# --- the command ------------------------------------------------------------------------------


def hindcast(
    scenario: Scenario | str | Path,
    out: str | Path,
    origins: list[dt.date] | None = None,
    horizons: int = 3,
    variants: list[str] | None = None,
    baselines: list[str] | None = None,
    n_draws: int = DEFAULT_DRAWS,
    particles: int | None = None,
    populations: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    data_dir: str | Path | None = None,
    fix: dict[str, float] | None = None,
    seed: int = 0,
    write_report: Callable | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run (or finish) the hindcast into folder `out`; return the summary (hindcast.json).

    Finished origins (OUT/origins/DATE/forecast.json with its draws, checksums matching)
    are read back, not redone; an unfinished origin's calibration continues its pyabc
    history. The stamp in OUT/origins/DATE/forecast.json says what it was made for, so a
    changed scenario, option or seed is refused rather than mixed in. `write_report(path,
    summary)` writes OUT/report.html (the CLI passes report.hindcast_report.write: analyses
    never import the reports)."""
    out = Path(out)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if scenario.calibration is None:
        raise ScenarioError(f"{scenario.name}.toml: calibration: the scenario has no section")
    origins = origins or parse_origins(None)
    variants = variants or list(VARIANTS)
    baselines = baselines or list(BASELINES)
    if not 1 <= n_draws <= 100_000:
        raise HindcastError(f"--draws {n_draws}: must be between 1 and 100,000")
    series = scored_series(scenario, data_dir)
    if not series:
        raise HindcastError(f"{scenario.name}: no yearly series target to score")
    check_origins(scenario, origins, horizons, series)
    stale = outputs.check_folder(out, "hindcast", force=force, resume=True)
    full_points = len(calibrate.setup(scenario, data_dir, fix).points)
    particles = particles or DEFAULT_PARTICLES
    populations = populations or DEFAULT_POPULATIONS
    started = time.perf_counter()
    rows, frames, origin_info = [], [], []
    for origin in origins:
        stamp = {
            "format": FORMAT,
            "scenario_sha256": scenario.sha256(), "origin": origin.isoformat(),
            "horizons": horizons, "variants": variants, "baselines": baselines,
            "draws": n_draws, "particles": particles, "populations": populations,
            "fixed": fix or {}, "seed": seed,
        }  # fmt: skip
        folder = out / "origins" / origin.isoformat()
        done = _read_origin(folder, stamp)
        if done is None:
            if progress:
                progress(f"origin {origin}: calibrating on the data before it")
            done = _run_origin(
                scenario, origin, folder, stamp, series, full_points, particles, populations,
                workers, scheduler, data_dir, fix, seed,
            )  # fmt: skip
        elif progress:
            progress(f"origin {origin}: finished before, read back")
        info, origin_rows, table = done
        rows += origin_rows
        frames.append(table)
        origin_info.append(info)
    summary = {
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256(),
        "origins": origin_info,
        "horizons": horizons,
        "variants": variants,
        "baselines": baselines,
        "draws": n_draws,
        "particles": particles,
        "populations": populations,
        "fixed": fix or {},
        "seed": seed,
        "series": [
            {
                "name": s.name,
                "variable": s.variable,
                "monthly": s.monthly,
                "relative_error": s.relative_error,
                "source": s.source,
            }
            for s in series
        ],  # fmt: skip
        "observations": _observations(series, origins, horizons),
        "skill": skill_table(rows),
        "events": events_share(rows),
        "forecasts": rows,
        "seconds_this_call": round(time.perf_counter() - started, 1),
        "seconds_total": round(sum(i["seconds"] for i in origin_info), 1),
    }
    table = pd.concat(frames, ignore_index=True)
    with outputs.publish(out, stale) as staging:
        summary["draws_sha256"] = _write_draws(table, staging / "hindcast.parquet")
        text = json.dumps(summary, indent=1)
        (staging / "hindcast.json").write_text(text, encoding="utf-8")
        if write_report is not None:
            write_report(staging / "report.html", summary)
    return summary


def effective_sample_size(table: pd.DataFrame) -> float:
    """Kish's effective sample size of a posterior table's final population, over all
    models, from the sampler's weights (calibrate.SAMPLER_WEIGHT; in a table written before
    smoothing, each particle's weight within its model times the model's probability): how
    many particles the calibration delivered."""
    if calibrate.SAMPLER_WEIGHT in table.columns:
        return calibrate.effective_sample_size(table[calibrate.SAMPLER_WEIGHT])
    key = "model" if "model" in table.columns else "incapacitation_form"
    within = table.weight / table.groupby(key).weight.transform("sum")
    return calibrate.effective_sample_size(within * table.model_probability)


def _observations(series: list[Series], origins: list[dt.date], horizons: int) -> dict:
    """Each series' observations from HISTORY_YEARS before the first origin to the last
    horizon (the report draws them around each forecast)."""
    first, last = origins[0].year - HISTORY_YEARS, origins[-1].year + horizons - 1
    out = {}
    for s in series:
        keys = sorted(k for k in s.values if first <= (k[0] if s.monthly else k) <= last)
        out[s.name] = {_label(k): s.values[k] for k in keys}
    return out


def _run_origin(
    scenario, origin, folder, stamp, series, full_points, particles, populations, workers,
    scheduler, data_dir, fix, seed,
):  # fmt: skip
    began = time.perf_counter()
    cal = calibration_scenario(scenario, origin, data_dir)
    points = len(calibrate.setup(cal, data_dir, fix).points)
    section = cal.calibration.model_copy(
        update={
            "min_epsilon": cal.calibration.min_epsilon * math.sqrt(points / full_points),
            # every population the same size: the hindcast's own --particles, as measured
            "final_population_factor": 1,
        }
    )
    cal = cal.model_copy(update={"calibration": section})
    summary = calibrate.calibrate(
        cal, folder / "calibration", populations=populations, particles=particles,
        workers=workers, scheduler=scheduler, data_dir=data_dir, fix=fix, seed=seed,
    )  # fmt: skip
    table = calibrate.read_posterior(folder / "calibration" / calibrate.POSTERIOR_FILE)
    fitted = time.perf_counter()
    rows, draws_table = forecast_origin(
        scenario, origin, stamp["horizons"], stamp["variants"], stamp["baselines"], series,
        table, fix or {}, stamp["draws"], seed, data_dir,
    )  # fmt: skip
    info = {
        "origin": origin.isoformat(),
        "calibration_points": points,
        "calibration_targets": [t.name for t in cal.calibration.targets],
        "calibration_simulations": summary["simulations"],
        "calibration_populations": summary["populations"],
        "calibration_epsilon": summary["epsilon"][-1] if summary["epsilon"] else None,
        "calibration_ess": effective_sample_size(table),
        "form_probabilities": summary["form_probabilities"],
        "seconds_calibration": round(fitted - began, 1),
        "seconds": round(time.perf_counter() - began, 1),
    }
    folder.mkdir(parents=True, exist_ok=True)
    digest = _write_draws(draws_table, folder / DRAWS_FILE)
    record = {"stamp": stamp, "info": info, "rows": rows, "draws_sha256": digest}
    outputs.atomic_write(folder / ORIGIN_FILE, lambda tmp: Path(tmp).write_text(json.dumps(record)))
    return info, rows, draws_table


def _read_origin(folder: Path, stamp: dict):
    """A finished origin's (info, rows, draws), or None when it has not finished. One made
    for another stamp, or whose draws do not match their checksum, is an error."""
    path = folder / ORIGIN_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(outputs.read_bounded(path, "summary"))
        previous = record["stamp"]
    except (OSError, ValueError, KeyError, TypeError, outputs.OutputError):
        raise HindcastError(f"{path}: unreadable; move {folder} away to redo it") from None
    changed = [k for k in stamp if previous.get(k) != stamp[k]]
    if changed:
        raise HindcastError(
            f"{path}: made for a different hindcast ({', '.join(changed)} changed); use "
            "another --out"
        )
    table = _read_draws(folder / DRAWS_FILE)
    if integrity.digest_frame(table) != record.get("draws_sha256"):
        raise HindcastError(f"{folder / DRAWS_FILE}: does not match {path}; move {folder} away")
    return record["info"], record["rows"], table


def _write_draws(table: pd.DataFrame, path: Path) -> str:
    digest = integrity.digest_frame(table)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata(
        {**(arrow.schema.metadata or {}), HINDCAST_META: json.dumps({"sha256": digest}).encode()}
    )
    pq.write_table(arrow, path, write_page_checksum=True)
    return digest


def _read_draws(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path, page_checksum_verification=True).to_pandas()
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise HindcastError(f"{path}: not readable ({outputs.reason(exc)})") from None
