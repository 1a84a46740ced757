"""The `cartelsim` command line.

Kept apart from the engine so that importing cartelsim never parses arguments or prints;
`__main__.py` only calls `main`. Every user error ends as one line per problem on stderr and
exit status 2; stdout carries results only (with --json, exactly one JSON document).

Bad input is never a traceback. Every path is checked by outputs.py (plain scenario names,
output folders, results written whole), every size by budget.py before anything runs, every
number at the scenario schema or here, by the option's parser. What is left over is the
machine's (a full disk, no memory: one line) or a bug: one line saying "internal error",
with what to report, and exit status 70.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path

from tqdm import tqdm

import cartelsim
from cartelsim import datasets, outputs
from cartelsim.invariants import InvariantError
from cartelsim.rng import check_seeds
from cartelsim.scenario import (
    BOUNDS,
    ScenarioError,
    builtin_descriptions,
    range_problem,
    with_mode,
)
from cartelsim.version import VERSION

#: Errors reported as one line each (InvariantError: a model bug, explained, not a traceback).
USER_ERRORS = (
    ScenarioError,
    datasets.DataError,
    FileExistsError,
    ValueError,
    KeyError,
    InvariantError,
)
#: Exit status of an internal error (EX_SOFTWARE).
INTERNAL = 70


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except USER_ERRORS as exc:
        message = exc.args[0] if exc.args else str(exc)
        for line in str(message).splitlines() or [type(exc).__name__]:
            print(f"cartelsim: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cartelsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cartelsim ... | head`: the reader left, nothing to say
        return 0
    except MemoryError:
        print(
            "cartelsim: out of memory: this request needs more than the machine has; "
            "use fewer runs or samples (its estimate was too low: please report it)",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:  # the machine's: a full disk, a file-size limit, a lost mount
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"cartelsim: {where}{outputs.reason(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 (a bug: one line, not a traceback)
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        print(
            f"cartelsim: internal error ({type(exc).__name__}: {text}); please report it, "
            f"with the command, at https://github.com/cartelsim/cartelsim/issues "
            f"(cartelsim {cartelsim.__version__})",
            file=sys.stderr,
        )
        return INTERNAL


#: Examples shown under each command's --help.
EXAMPLES = {
    "scenarios": "  cartelsim scenarios",
    "run": """  cartelsim run mexico-2006-2012                      one deterministic run, report
  cartelsim run mexico-2006-2012 --json               the summary JSON on stdout
  cartelsim run pc2023 --mode stochastic --runs 200 --seed 7 --workers 2
  cartelsim run pc2023 --mode stochastic --seeds 1,5,9           three runs, seeds 1, 5, 9
  cartelsim run mexico-2006-2012 --engine agents --scale 0.1 --out results/agents
  cartelsim run --from results/pc2023/summary.json --out results/again   rerun a result""",
    "fit": "  cartelsim fit mexico-2006-2012 --param conflict_lethality --param state_kill_rate",
    "calibrate": """  cartelsim calibrate pc2023 --out runs/abc --workers 2
  cartelsim calibrate pc2023 --out runs/abc-s10 --fix cartel_share=0.1 --seed 1
  cartelsim calibrate mexico-2006-2012 --engine agents --scale 0.05 --out runs/abc-agents""",
    "compare": """  cartelsim compare pc2023-status-quo --policy halve-recruitment
  cartelsim compare pc2023-status-quo --policy intel-sharing --mode stochastic --runs 200
  cartelsim compare pc2023-status-quo --policy troop-surge --mode stochastic --seeds 1,5,9
  cartelsim compare pc2023-status-quo --policy halve-recruitment --posterior runs/abc
  cartelsim compare mexico-2006-2012 --policy truce:SIN+GOL --start 2009-01-01
  cartelsim compare mexico-2006-2012 --engine agents --scale 0.25 --policy troop-surge \
      --start 2009-01-01 --runs 8      each militarization form, and form-averaged""",
    "sensitivity": """  cartelsim sensitivity pc2023 --samples 512 --seed 1
  cartelsim sensitivity mexico-2006-2012 --engine agents --trajectories 6 --scale 0.05""",
    "hindcast": """  cartelsim hindcast mexico --workers 2             five origins, both variants
  cartelsim hindcast mexico --origins 2011-01-01,2016-01-01 --draws 200 --particles 60""",
    "serve": """  cartelsim serve                                     http://127.0.0.1:8765/
  cartelsim serve --port 8800 --scenarios my-scenarios/ --posteriors runs/""",
    "data": "  cartelsim data fetch pc2023",
}
DATA_DIR_HELP = (
    "a folder holding the PC2023 files (default: $CARTELSIM_DATA_DIR, else the copy shipped "
    "with cartelsim), e.g. --data-dir ~/pc2023"
)
SEEDS_HELP = (
    "a list of seeds instead of --seed and --runs: one stochastic run per seed, each the same "
    "as the one run with that --seed, e.g. --seeds 1,5,9"
)
MODE_HELP = (
    "override the scenario's simulation.mode: deterministic (the ODE: every run the same) or "
    "stochastic (Poisson recruits, binomial exits: runs differ), e.g. --mode stochastic"
)


def _command(sub, name: str, help: str):
    """A subcommand whose --help ends with examples."""
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog="examples:\n" + EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _abc_options(p, populations: str, particles: str) -> None:
    """The options of a command that runs ABC calibrations (calibrate, hindcast): the sizes
    (with their own help), where the particles run, fixed parameters and the seed."""
    p.add_argument("--populations", type=_bounded(1, 100), default=None, help=populations)
    p.add_argument("--particles", type=_bounded(2, 100_000), default=None, help=particles)
    p.add_argument(
        "--workers", type=_workers, default=1, help="local processes (default 1), e.g. --workers 2"
    )
    p.add_argument(
        "--scheduler", default=None, help="a Dask scheduler instead, e.g. tcp://10.0.0.5:8786"
    )
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument(
        "--fix", action="append", default=[],
        help="NAME=VALUE: hold a free parameter fixed, e.g. --fix cartel_share=0.1",
    )  # fmt: skip
    p.add_argument("--seed", type=_seed, default=0, help="seed (default 0), e.g. --seed 1")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cartelsim",
        description="Simulate organized-crime conflict. `cartelsim COMMAND --help` shows each "
        "command's options with examples.",
    )
    parser.add_argument("--version", action="version", version=f"cartelsim {VERSION}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = _command(sub, "scenarios", "list the built-in scenarios, one line each")
    p.set_defaults(command=_scenarios)

    p = _command(sub, "run", "run a scenario; write results, summary and report")
    p.add_argument(
        "scenario", nargs="?", help="a built-in name (see `cartelsim scenarios`) or a TOML file"
    )
    p.add_argument(
        "--runs", type=_positive_int, default=None,
        help="runs (default 1); several runs need --mode stochastic (or a stochastic "
        "scenario): deterministic runs are all the same, e.g. --runs 200",
    )  # fmt: skip
    p.add_argument("--seed", type=_seed, default=None, help="seed (default 0), e.g. --seed 7")
    p.add_argument("--seeds", default=None, help=SEEDS_HELP)
    p.add_argument("--mode", choices=MODES, default=None, help=MODE_HELP)
    p.add_argument(
        "--out", type=Path, default=None,
        help="output folder (default results/NAME), e.g. --out runs/mine",
    )  # fmt: skip
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--json", action="store_true", help="print the summary JSON on stdout")
    p.add_argument("--force", action="store_true", help="replace a finished result in --out")
    p.add_argument(
        "--workers", type=_workers, default=1, help="local processes (default 1), e.g. --workers 2"
    )
    p.add_argument(
        "--scheduler", default=None, help="a Dask scheduler instead, e.g. tcp://10.0.0.5:8786"
    )
    p.add_argument("--resume", action="store_true", help="finish an interrupted ensemble in --out")
    p.add_argument(
        "--engine", choices=["aggregate", "agents"], default="aggregate",
        help="aggregate (groups, weekly; default) or agents (every member, soldier and official "
        "an agent, daily, on a map), e.g. --engine agents",
    )  # fmt: skip
    p.add_argument(
        "--scale", type=_scale, default=None,
        help="agents: share of the people simulated (default 1: 1:1), e.g. --scale 0.1",
    )  # fmt: skip
    p.add_argument(
        "--regions", default=None,
        help="agents: 'states' (default), 'states-juarez' (Chihuahua split into Ciudad "
        "Juarez and the rest) or a region CSV, e.g. --regions my-regions.csv",
    )  # fmt: skip
    p.add_argument(
        "--chunk", type=_positive_int, default=None,
        help="runs per saved part (default: the engine's: 64 aggregate, 1 agents), e.g. --chunk 16",
    )  # fmt: skip
    p.add_argument(
        "--format",
        choices=["parquet", "netcdf"],
        default="parquet",
        help="parquet (default), or netcdf: results.nc as well (xarray, h5netcdf), "
        "e.g. --format netcdf",
    )
    p.add_argument(
        "--from",
        dest="from_summary",
        type=Path,
        default=None,
        help="rerun the scenario, runs, seed and engine recorded in a summary.json, "
        "e.g. --from results/pc2023/summary.json",
    )
    p.set_defaults(command=_run)

    p = _command(sub, "fit", "least-squares fit of parameters to a scenario's data")
    p.add_argument("scenario", help="a built-in name or a TOML file with fitted series")
    p.add_argument(
        "--param", action="append", required=True,
        help="a parameter to fit (repeat for several), e.g. --param conflict_lethality",
    )  # fmt: skip
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--json", action="store_true", help="print the fit as JSON on stdout")
    p.set_defaults(command=_fit)

    p = _command(sub, "calibrate", "ABC-SMC calibration (pyabc); resumes in --out")
    p.add_argument("scenario", help="a built-in name or a TOML file with a [calibration] section")
    _abc_options(
        p,
        populations="populations wanted in all, counting those already in --out, e.g. "
        "--populations 15",
        particles="particles per population (default: the scenario's), e.g. --particles 400",
    )
    p.add_argument(
        "--out", type=Path, required=True,
        help="folder for abc.db, the posterior, summary and report, e.g. --out runs/abc",
    )  # fmt: skip
    p.add_argument(
        "--engine", choices=["aggregate", "agents"], default="aggregate",
        help="aggregate (default: the scenario's priors) or agents (the agent engine's "
        "assumptions, each particle an agent run at --scale), e.g. --engine agents",
    )  # fmt: skip
    p.add_argument(
        "--scale", type=_number, default=None,
        help="with --engine agents: agents per real person (default 0.05), e.g. --scale 0.1",
    )  # fmt: skip
    p.add_argument(
        "--factor", type=_number, default=None,
        help="with --engine agents: each prior log-uniform from value / F to value x F, "
        "probabilities clipped at 1 (default 2), e.g. --factor 3",
    )  # fmt: skip
    p.add_argument(
        "--parameters", default=None,
        help="with --engine agents: the assumed parameters calibrated, comma-separated "
        "(default: the Morris screening's top five), e.g. --parameters raid_rate,leader_capture",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary JSON on stdout")
    p.add_argument("--force", action="store_true", help="replace another command's result")
    p.set_defaults(command=_calibrate)

    p = _command(sub, "compare", "policies against a base, paired over parameter draws")
    p.add_argument("scenario", help="the base scenario: a built-in name or a TOML file")
    p.add_argument(
        "--policy", action="append", required=True,
        help="a built-in policy (halve-recruitment, double-incapacitation, "
        "halve-recruitment+double-incapacitation, troop-surge, intel-sharing), merger:A+B, "
        "truce:A+B, or a scenario that extends the base; repeat for several, "
        "e.g. --policy troop-surge",
    )  # fmt: skip
    p.add_argument(
        "--posterior", default=None, help="a `calibrate --out` folder, e.g. --posterior runs/abc"
    )
    p.add_argument(
        "--runs", type=_positive_int, default=None,
        help="draws (default 200 with a posterior or in stochastic mode, else 1; with "
        "--engine agents, runs per form and policy, default 8), e.g. --runs 400",
    )  # fmt: skip
    p.add_argument("--seed", type=_seed, default=None, help="seed (default 0), e.g. --seed 7")
    p.add_argument("--seeds", default=None, help=SEEDS_HELP)
    p.add_argument("--mode", choices=MODES, default=None, help=MODE_HELP)
    p.add_argument(
        "--engine", choices=["aggregate", "agents"], default="aggregate",
        help="aggregate (default) or agents: base and policy agent runs paired with common "
        "random numbers, each militarization form apart and form-averaged",
    )  # fmt: skip
    p.add_argument(
        "--scale", type=_scale, default=None,
        help="with --engine agents: agents per real person (default the scenario's, 1), "
        "e.g. --scale 0.25",
    )  # fmt: skip
    p.add_argument(
        "--regions", default=None,
        help="with --engine agents: states, states-juarez or a region CSV, e.g. --regions states",
    )  # fmt: skip
    p.add_argument(
        "--forms", choices=["militarization"], default=None,
        help="with --engine agents: run each form of this calibration hypothesis (automatic "
        "when the scenario has [calibration.hypotheses.militarization]), e.g. --forms "
        "militarization",
    )  # fmt: skip
    p.add_argument(
        "--start", default=None,
        help="the date the policies start (default: the scenario's start), e.g. 2009-01-01",
    )  # fmt: skip
    p.add_argument("--from", dest="start_old", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument(
        "--out", type=Path, default=None,
        help="output folder (default results/compare-NAME), e.g. --out runs/cmp",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the comparison JSON on stdout")
    p.add_argument("--force", action="store_true", help="replace a result in --out")
    p.set_defaults(command=_compare)

    p = _command(
        sub, "sensitivity",
        "Sobol indices over the calibration priors, or Morris screening of the agent "
        "engine's assumptions (SALib)",
    )  # fmt: skip
    p.add_argument(
        "scenario",
        help="a built-in name or a TOML file (with a [calibration] section for the aggregate "
        "engine)",
    )
    p.add_argument(
        "--engine", choices=["aggregate", "agents"], default="aggregate",
        help="aggregate (Sobol over the calibration priors; default) or agents (Morris "
        "elementary effects of the agent parameters marked as assumptions), e.g. --engine agents",
    )  # fmt: skip
    p.add_argument(
        "--samples", type=_samples, default=None,
        help="aggregate: base samples, a power of 2 (default 256; 64 or more for usable "
        "intervals), e.g. --samples 512",
    )  # fmt: skip
    p.add_argument(
        "--trajectories", type=_whole, default=None,
        help="agents: Morris trajectories r, each parameters + 1 runs (default 10), "
        "e.g. --trajectories 4",
    )  # fmt: skip
    p.add_argument(
        "--levels", type=_whole, default=None,
        help="agents: Morris grid levels, even (default 4), e.g. --levels 6",
    )  # fmt: skip
    p.add_argument(
        "--factor", type=_number, default=None,
        help="agents: each parameter from value / F to value x F, log scale; probabilities "
        "clipped at 1 (default 2), e.g. --factor 3",
    )  # fmt: skip
    p.add_argument(
        "--scale", type=_number, default=None,
        help="agents: agents per real person (default 0.05), e.g. --scale 0.1",
    )  # fmt: skip
    p.add_argument(
        "--years", type=_whole, default=None,
        help="agents: simulate only the scenario's first N years (default: all), e.g. --years 2",
    )  # fmt: skip
    p.add_argument(
        "--parameters", default=None,
        help="agents: vary only these assumed parameters, comma-separated (default: all), "
        "e.g. --parameters raid_rate,leader_capture",
    )  # fmt: skip
    p.add_argument("--seed", type=_seed, default=0, help="seed (default 0), e.g. --seed 1")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument(
        "--out", type=Path, default=None,
        help="output folder (default results/sobol-NAME, with --engine agents "
        "results/morris-NAME), e.g. --out runs/sobol",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the indices JSON on stdout")
    p.add_argument("--force", action="store_true", help="replace a result in --out")
    p.set_defaults(command=_sensitivity)

    p = _command(sub, "hindcast", "forecasts from the data before each origin, scored (CRPS)")
    p.add_argument("scenario", help="a built-in name or a TOML file with a [calibration] section")
    p.add_argument(
        "--origins", default=None,
        help="1 January dates, comma-separated (default 2009, 2011, 2013, 2016 and 2019), "
        "e.g. --origins 2011-01-01,2016-01-01",
    )  # fmt: skip
    p.add_argument(
        "--horizons", type=_bounded(1, 10), default=3,
        help="years ahead (default 3: 1, 2 and 3 years), e.g. --horizons 2",
    )  # fmt: skip
    p.add_argument(
        "--variants", default=None,
        help="known-events (later events kept) and/or blind (dropped); default both, "
        "e.g. --variants blind",
    )  # fmt: skip
    p.add_argument(
        "--baselines", default=None,
        help="persistence, drift, nb_random_walk (default all), e.g. --baselines persistence",
    )  # fmt: skip
    p.add_argument(
        "--draws", type=_bounded(1, 100_000), default=1000,
        help="posterior-predictive draws per origin and variant (default 1000), e.g. --draws 200",
    )  # fmt: skip
    _abc_options(
        p,
        populations="populations of each origin's calibration (default 4), e.g. --populations 3",
        particles="particles of each origin's calibration (default 800), e.g. --particles 100",
    )
    p.add_argument(
        "--out", type=Path, default=None,
        help="output folder (default results/hindcast-NAME); an unfinished hindcast there "
        "resumes, e.g. --out runs/hindcast",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary JSON on stdout")
    p.add_argument("--force", action="store_true", help="replace another command's result")
    p.set_defaults(command=_hindcast)

    p = _command(sub, "serve", "the dashboard: explore scenarios in the browser")
    p.add_argument(
        "--host", default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only), e.g. --host 0.0.0.0",
    )  # fmt: skip
    p.add_argument(
        "--port", type=_bounded(1, 65535), default=8765, help="port (default 8765), e.g. 8800"
    )
    p.add_argument(
        "--scenarios", type=Path, default=None,
        help="a folder of scenario files to offer beside the built-ins, e.g. my-scenarios/",
    )  # fmt: skip
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument(
        "--posteriors",
        type=Path,
        default=None,
        help="a folder whose subfolders are `cartelsim calibrate` outputs (default: none), "
        "e.g. --posteriors runs/",
    )
    p.set_defaults(command=_serve)

    p = _command(sub, "data", "datasets: download and check")
    data_sub = p.add_subparsers(required=True, metavar="ACTION")
    f = data_sub.add_parser(
        "fetch",
        help="download a dataset from its deposit and check its MD5s",
        epilog="examples:\n"
        + EXAMPLES["data"]
        + "\n  cartelsim data fetch pc2023 --data-dir ~/pc2023",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("dataset", choices=["pc2023"], help="pc2023: the PC2023 authors' files")
    f.add_argument(
        "--data-dir", default=None, help="check this folder instead of downloading, e.g. ~/pc2023"
    )
    f.set_defaults(command=_fetch)
    return parser


def _whole(text: str) -> int:
    """A whole number as typed: digits (no 1e9, no 1.5), at most 19 of them."""
    stripped = text.strip().replace("_", "")
    digits = stripped.lstrip("+-")
    if not digits.isdigit() or len(digits) > 19:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {_typed(text)})")
    return int(stripped)


def _typed(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:30]) + f"... ({len(text)} characters)"


def _bounded(low: int, high: int):
    def parse(text: str) -> int:
        value = _whole(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high:,} (got {value})")
        return value

    parse.__name__ = "number"
    return parse


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


#: Most local worker processes (ensemble.MAX_WORKERS).
_workers = _bounded(1, 1024)


def _samples(text: str) -> int:
    value = _whole(text)
    if value < 8 or value > 2**20 or value & (value - 1):
        raise argparse.ArgumentTypeError(
            f"must be a power of 2 between 8 and {2**20:,} (got {value})"
        )
    return value


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {_typed(text)})") from None
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (got {value})")
    return value


def _number(text: str) -> float:
    """A finite number as typed; its range is checked by the command (one line naming it)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {_typed(text)})") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite (got {_typed(text)})")
    return value


def _seed(text: str) -> int:
    value = _whole(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63-1 (got {value})")
    return value


def _seed_list(text: str) -> tuple[int, ...]:
    """--seeds 1,5,9: whole numbers 0 to 2**63-1, comma-separated, each once; ValueError
    (one line, naming the option) otherwise."""
    flag = f"--seeds {_typed(text)}"
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise ValueError(f"{flag}: expected seeds separated by commas, e.g. --seeds 1,5,9")
    seeds = []
    for item in items:
        try:
            seeds.append(_seed(item))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"{flag}: {exc}") from None
    try:
        return check_seeds(seeds)
    except ValueError as exc:
        raise ValueError(f"{flag}: {str(exc).removeprefix('seeds: ')}") from None


def _seeds_given(args, runs_flag: str = "--runs") -> tuple[int, ...] | None:
    """The --seeds list, or None; refused beside --seed or --runs (it gives both)."""
    if args.seeds is None:
        return None
    seeds = _seed_list(args.seeds)
    if args.seed is not None:
        raise ValueError("--seeds: not with --seed (give every seed in the list)")
    if args.runs is not None:
        raise ValueError(f"--seeds: not with {runs_flag} (one run per listed seed)")
    return seeds


def _scenarios(args) -> int:
    descriptions = builtin_descriptions()
    width = max(map(len, descriptions))
    for name, text in descriptions.items():
        print(f"{name:<{width}}  {text}")
    return 0


def _run(args) -> int:
    from cartelsim import budget, ensemble
    from cartelsim.report.run_report import write_report
    from cartelsim.scenario import load_scenario

    original = None
    engine, options = args.engine, {"scale": args.scale, "regions": args.regions}
    if args.from_summary is not None:
        taken = (args.scenario, args.runs, args.seed, args.seeds)
        if any(value is not None for value in taken):
            raise ValueError("--from: takes the scenario, --runs and --seed from the summary")
        scenario, runs, seed, original = ensemble.from_summary(args.from_summary)
        engine = original["engine"]
        options = {**original.get("engine_options", {}), **_given(options)}
        budget.check_run(scenario, runs, engine, options, flag=f"{args.from_summary}: runs")
        if original["provenance"].get("cartelsim_version") != cartelsim.__version__:
            print(
                f"cartelsim: note: {args.from_summary} was made by cartelsim "
                f"{original['provenance'].get('cartelsim_version')}, this is "
                f"{cartelsim.__version__}",
                file=sys.stderr,
            )
    elif args.scenario is None:
        raise ValueError("run: give a scenario (a built-in name or a TOML file) or --from")
    else:
        seeds = _seeds_given(args)
        scenario = with_mode(load_scenario(args.scenario), args.mode)
        runs, seed = args.runs or 1, args.seed or 0
        flag = f"--runs {runs}"
        if seeds is not None:
            runs, seed, flag = len(seeds), seeds, f"--seeds {args.seeds.strip()}"
        if runs > 1 and engine == "aggregate" and scenario.simulation.mode == "deterministic":
            budget.check_run(scenario, runs, engine, {})  # a size refusal comes first
            raise ValueError(
                f"{flag}: {scenario.name} is deterministic, so its {runs} runs would "
                "all be the same; add --mode stochastic for runs that differ, or use "
                "`cartelsim compare --posterior` for parameter uncertainty"
            )
    if args.from_summary is not None and args.mode is not None:
        raise ValueError("--mode: not with --from (the summary records the mode)")
    out = args.out if args.out is not None else _default_run_folder(scenario.name, engine, args)
    with tqdm(total=runs, desc=scenario.name, unit="run", delay=1.0, file=sys.stderr) as bar:
        results, paths = ensemble.run_ensemble(
            scenario,
            runs,
            out,
            seed,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            force=args.force,
            chunk=args.chunk,
            data_dir=args.data_dir,
            progress=bar.update,
            write_report=_with_netcdf(write_report) if args.format == "netcdf" else write_report,
            engine=engine,
            **_given(options),
        )
    summary = results.summary()
    if original is not None:
        changed = ensemble.differences(original, summary)
        verdict = f"differs from it in {', '.join(changed)}" if changed else "is identical to it"
        print(f"cartelsim: reran {args.from_summary}; the new summary {verdict}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        final = summary["final"]
        print(f"{scenario.name}: {summary['start']} to {summary['end']}, {runs} run(s)")
        print(f"  members at the end: {final['members_total']:,.0f}")
        print(f"  deaths per week at the end: {final['deaths_per_week']:,.1f}")
        print(f"results: {paths['results']}")
        print(f"summary: {paths['summary']}")
        if args.format == "netcdf":
            print(f"netcdf: {Path(out) / 'results.nc'}")
    print(f"report: {paths['report'].resolve()}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _default_run_folder(name: str, engine: str, args) -> Path:
    """results/NAME (results/NAME-agents for the agent engine); when that holds a finished
    result and neither --force nor --resume is given, the first free results/NAME-2, -3, ...,
    said on stderr: so the README's commands can follow each other without --out."""
    base = outputs.default_folder(f"{name}-agents" if engine == "agents" else name)
    out, k = base, 1
    if args.force or args.resume:
        return out
    while (out / "summary.json").exists() and not (out / "parts").exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    if out != base:
        print(f"cartelsim: note: {base} holds a finished result; writing to {out}", file=sys.stderr)
    return out


#: The two simulation modes (scenario.simulation.mode).
MODES = ("deterministic", "stochastic")


def _with_netcdf(write_report):
    """write_report that also writes results.nc beside the report: run_ensemble calls it in
    the staging folder of outputs.publish, so results.nc is published with results.parquet
    and summary.json, whole or not at all."""

    def write(results, path: Path) -> Path:
        results.to_xarray().to_netcdf(Path(path).parent / "results.nc", engine="h5netcdf")
        return write_report(results, path)

    return write


def _given(options: dict) -> dict:
    """The options the user set (None: not given)."""
    return {k: v for k, v in options.items() if v is not None}


def _fit(args) -> int:
    from cartelsim.analysis.fit import fit

    outcome = fit(args.scenario, args.param, data_dir=args.data_dir)
    if args.json:
        print(json.dumps(outcome, indent=2))
        return 0
    for name, value in outcome["parameters"].items():
        print(f"{name} = {value:.6g}")
    for row in outcome["comparison"]:
        print(
            f"  {row['series']} {row['year']}: observed {row['observed']:,.0f}, "
            f"simulated {row['simulated']:,.0f} ({row['relative_error']:+.1%})"
        )
    return 0


def _calibrate(args) -> int:
    if args.engine == "agents":
        return _agent_calibrate(args)
    from cartelsim.analysis.calibrate import calibrate
    from cartelsim.report import calibration_report

    for name in ("scale", "factor", "parameters"):
        if getattr(args, name) is not None:
            raise ValueError(f"--{name}: only with --engine agents")
    fix = _fixed(args)
    summary = calibrate(
        args.scenario,
        args.out,
        populations=args.populations,
        particles=args.particles,
        workers=args.workers,
        scheduler=args.scheduler,
        data_dir=args.data_dir,
        fix=fix,
        seed=args.seed,
        write_report=calibration_report.write,
        force=args.force,
    )
    keys = ("scenario", "populations", "particles", "posterior", "derived")
    if args.json:
        print(json.dumps({**{k: summary[k] for k in keys}, **summary}, indent=2))
    else:
        print(f"{summary['scenario']}: {summary['populations']} populations")
        for name, q in summary["posterior"].items():
            print(f"  {name}: {q['median']:.4g} (90 %: {q['q05']:.4g} - {q['q95']:.4g})")
    print(f"report: {(args.out / 'report.html').resolve()}", file=sys.stderr)
    return 0


def _agent_calibrate(args) -> int:
    """`calibrate --engine agents`: ABC over agent assumptions (analysis/agent_calibrate.py)."""
    from cartelsim.analysis import agent_calibrate as abc
    from cartelsim.report import agent_calibration_report

    if args.fix:
        raise ValueError("--fix: only with --engine aggregate (agents: --parameters)")
    if args.scheduler is not None:
        raise ValueError("--scheduler: only with --engine aggregate")
    names = None
    if args.parameters is not None:
        names = [n.strip() for n in args.parameters.split(",")]
    summary = abc.calibrate_agents(
        args.scenario,
        args.out,
        populations=args.populations,
        particles=args.particles,
        scale=_or(args.scale, abc.SCALE),
        factor=_or(args.factor, abc.FACTOR),
        parameters=names,
        workers=args.workers,
        data_dir=args.data_dir,
        seed=args.seed,
        force=args.force,
        progress=lambda text: print(f"cartelsim: {text}", file=sys.stderr),
        write_report=agent_calibration_report.write,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{summary['scenario']} (agents, scale {summary['scale']:g}): "
            f"{summary['populations']} populations, {summary['simulations']:,} agent runs"
        )
        for name, q in summary["posterior"].items():
            print(f"  {name}: {q['median']:.4g} (90 %: {q['q05']:.4g} - {q['q95']:.4g})")
        print(f"  target points inside the 90 % band: {summary['inside_90']} of "
              f"{len(summary['predictive_check'])}")  # fmt: skip
    print(f"report: {(args.out / 'report.html').resolve()}", file=sys.stderr)
    return 0


def _fixed(args) -> dict[str, float]:
    """--fix NAME=VALUE items as {name: value}, each checked against its bounds."""
    fix = {}
    for item in args.fix:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name or number is None:
            raise ValueError(f"--fix {item}: expected NAME=VALUE, e.g. cartel_share=0.1")
        if name in fix:
            raise ValueError(f"--fix {name}: given twice")
        if name in BOUNDS:
            problem = range_problem(name, number, _form_of(args.scenario, name))
            if problem is not None:
                raise ValueError(f"--fix {name}={value}: {problem}")
        elif not math.isfinite(number):
            raise ValueError(f"--fix {name}={value}: must be finite")
        fix[name] = number
    return fix


def _hindcast(args) -> int:
    from cartelsim.analysis import hindcast
    from cartelsim.report import hindcast_report
    from cartelsim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    origins = hindcast.parse_origins(args.origins)
    variants = hindcast.parse_choice(args.variants, hindcast.VARIANTS, "--variants")
    baselines = hindcast.parse_choice(args.baselines, hindcast.BASELINES, "--baselines")
    out = args.out if args.out is not None else outputs.default_folder(scenario.name, "hindcast-")
    summary = hindcast.hindcast(
        scenario,
        out,
        origins=origins,
        horizons=args.horizons,
        variants=variants,
        baselines=baselines,
        n_draws=args.draws,
        particles=args.particles,
        populations=args.populations,
        workers=args.workers,
        scheduler=args.scheduler,
        data_dir=args.data_dir,
        fix=_fixed(args),
        seed=args.seed,
        write_report=hindcast_report.write,
        force=args.force,
        progress=lambda text: print(f"cartelsim: {text}", file=sys.stderr),
    )
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "forecasts"}, indent=2))
    else:
        print(hindcast_report.skill_text(summary))
    print(f"report: {(out / 'report.html').resolve()}", file=sys.stderr)
    return 0


def _form_of(scenario: str, name: str) -> str | None:
    """The incapacitation form whose bound `--fix incapacitation=...` is checked against."""
    if name != "incapacitation":
        return None
    from cartelsim.scenario import load_scenario

    return load_scenario(scenario).parameters.incapacitation_form


def _compare(args) -> int:
    from cartelsim.analysis import compare
    from cartelsim.report import figures
    from cartelsim.scenario import load_scenario

    start, flag = None, "--start"
    if args.start_old is not None:
        print("cartelsim: note: compare --from DATE is now --start DATE", file=sys.stderr)
        args.start, flag = args.start or args.start_old, "--from"
    if args.start is not None:
        try:
            start = dt.date.fromisoformat(args.start)
        except ValueError:
            raise ValueError(f"{flag}: expected a date YYYY-MM-DD (got {args.start!r})") from None
    seeds = _seeds_given(args)
    base = with_mode(load_scenario(args.scenario), args.mode)
    runs, seed = args.runs, args.seed or 0
    if seeds is not None:
        flag = f"--seeds {args.seeds.strip()}"
        if args.posterior is not None:
            raise ValueError(f"{flag}: not with --posterior (its draws are chosen with --seed)")
        if len(seeds) > 1 and base.simulation.mode == "deterministic" and args.engine != "agents":
            raise ValueError(
                f"{flag}: {base.name} is deterministic, so its {len(seeds)} runs would all be "
                "the same; add --mode stochastic"
            )
        runs, seed = len(seeds), seeds
    agents = args.engine == "agents"
    if not agents:
        for flag, value in (("--scale", args.scale), ("--regions", args.regions),
                            ("--forms", args.forms)):  # fmt: skip
            if value is not None:
                raise ValueError(f"{flag}: only with --engine agents")
    elif args.mode is not None:
        raise ValueError("--mode: not with --engine agents (agent runs are always stochastic)")
    out = args.out if args.out is not None else outputs.default_folder(base.name, "compare-")
    stale = outputs.check_folder(out, "compare", force=args.force)  # before the work
    if agents:
        result = compare.compare_agents(
            base, args.policy, posterior=args.posterior, runs=runs,
            seed=tuple(seed) if seeds is not None else seed, data_dir=args.data_dir,
            start=start, scale=args.scale, regions=args.regions, forms=args.forms,
        )  # fmt: skip
    else:
        result = _compare_aggregate(compare, base, args, runs, seed, start)
    with outputs.publish(out, stale) as staging:
        (staging / "compare.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        (staging / "compare.txt").write_text(compare.table(result) + "\n", encoding="utf-8")
        figures.compare_figure(result, staging / "compare.png")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(compare.table(result))
    print(f"figure: {(out / 'compare.png').resolve()}", file=sys.stderr)
    return 0


def _compare_aggregate(compare, base, args, runs, seed, start) -> dict:
    return compare.compare(
        base,
        args.policy,
        posterior=args.posterior,
        runs=runs,
        seed=seed,
        data_dir=args.data_dir,
        start=start,
        mode=args.mode,
    )


#: sensitivity's options that only one engine takes.
AGENT_SENSITIVITY_OPTIONS = ("trajectories", "levels", "factor", "scale", "years", "parameters")


def _sensitivity(args) -> int:
    if args.engine == "agents":
        return _agent_sensitivity(args)
    from cartelsim import budget
    from cartelsim.analysis import sensitivity
    from cartelsim.report import figures
    from cartelsim.scenario import load_scenario, start_from_chain

    for name in AGENT_SENSITIVITY_OPTIONS:
        if getattr(args, name) is not None:
            raise ValueError(f"--{name}: only with --engine agents")
    args.samples = args.samples if args.samples is not None else 256
    scenario = load_scenario(args.scenario)
    out = args.out if args.out is not None else outputs.default_folder(scenario.name, "sobol-")
    stale = outputs.check_folder(out, "sensitivity", force=args.force)  # before the work
    bases = start_from_chain(scenario)
    spec, _ = sensitivity.problem(scenario)
    estimate = budget.draws_estimate(scenario, bases[0] if bases else None)
    # Saltelli sampling, first and total order: samples x (parameters + 2) runs.
    estimate.check(args.samples, "--samples", spec["num_vars"] + 2, powers_of_2=True)
    result = sensitivity.sensitivity(
        scenario, samples=args.samples, seed=args.seed, data_dir=args.data_dir
    )
    for warning in result["warnings"]:
        print(f"cartelsim: warning: {warning}", file=sys.stderr)
    table = sensitivity.frame(result)
    with outputs.publish(out, stale) as staging:
        table.to_csv(staging / "sobol.csv", index=False)
        (staging / "sobol.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        figures.sobol_figure(result, staging / "sobol.png")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(table.round(3).to_string(index=False))
    print(f"figure: {(out / 'sobol.png').resolve()}", file=sys.stderr)
    return 0


def _agent_sensitivity(args) -> int:
    """`sensitivity --engine agents`: Morris screening (analysis/agent_sensitivity.py)."""
    from cartelsim.analysis import agent_sensitivity as morris
    from cartelsim.scenario import load_scenario

    if args.samples is not None:
        raise ValueError("--samples: only with --engine aggregate (agents: --trajectories)")
    scenario = load_scenario(args.scenario)
    names = None
    if args.parameters is not None:
        names = [n.strip() for n in args.parameters.split(",")]
    options = {
        "trajectories": _or(args.trajectories, morris.TRAJECTORIES),
        "levels": _or(args.levels, morris.LEVELS),
        "factor": _or(args.factor, morris.FACTOR),
        "scale": _or(args.scale, morris.SCALE),
        "years": args.years,
        "parameters": names,
    }
    ranges = morris.check_options(scenario, **options)  # before the folder and the work
    out = args.out if args.out is not None else outputs.default_folder(scenario.name, "morris-")
    stale = outputs.check_folder(out, "sensitivity", force=args.force)  # Sobol's or Morris's
    runs = options["trajectories"] * (len(ranges) + 1)
    with tqdm(total=runs, desc=scenario.name, unit="run", delay=1.0, file=sys.stderr) as bar:
        result = morris.agent_sensitivity(
            scenario, seed=args.seed, data_dir=args.data_dir, progress=bar.update, **options
        )
    table = morris.frame(result)
    with outputs.publish(out, stale) as staging:
        table.to_csv(staging / "morris.csv", index=False)
        morris.samples_frame(result).to_csv(staging / "morris_runs.csv", index=False)
        (staging / "sensitivity.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(morris.ranking_text(result))
    print(f"indices: {(Path(out) / 'morris.csv').resolve()}", file=sys.stderr)
    return 0


def _or(value, default):
    return default if value is None else value


def _serve(args) -> int:
    from cartelsim.dashboard import check_address, serve

    check_address(args.host, args.port)  # before the web framework is imported (seconds)
    serve(args.host, args.port, args.scenarios, args.data_dir, args.posteriors)
    return 0


def _fetch(args) -> int:
    folder = datasets.fetch_pc2023(args.data_dir) if args.data_dir else datasets.download_pc2023()
    for name in datasets.PC2023_FILES:
        print(f"{folder / name}: MD5 ok")
    return 0
