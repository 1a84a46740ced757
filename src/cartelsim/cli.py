"""The `cartelsim` command line.

Kept apart from the engine so that importing cartelsim never parses arguments or prints;
`__main__.py` only calls `main`. Every user error ends as one line per problem on stderr and
exit status 2; stdout carries results only (with --json, exactly one JSON document).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

import cartelsim
from cartelsim import datasets
from cartelsim.invariants import InvariantError
from cartelsim.scenario import ScenarioError, builtin_descriptions

#: Errors reported as one line each (InvariantError: a model bug, explained, not a traceback).
USER_ERRORS = (
    ScenarioError,
    datasets.DataError,
    FileExistsError,
    ValueError,
    KeyError,
    InvariantError,
)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except USER_ERRORS as exc:
        message = exc.args[0] if exc.args else str(exc)
        for line in str(message).splitlines():
            print(f"cartelsim: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cartelsim: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cartelsim", description="Simulate organized-crime conflict."
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("scenarios", help="list the built-in scenarios")
    p.set_defaults(command=_scenarios)

    p = sub.add_parser("run", help="run a scenario; write results, summary and report")
    p.add_argument("scenario", nargs="?", help="built-in scenario name or path to a TOML file")
    p.add_argument("--runs", type=_positive_int, default=None, help="runs (default 1)")
    p.add_argument("--seed", type=_seed, default=None, help="seed (default 0)")
    p.add_argument("--out", type=Path, default=None, help="folder (default results/NAME)")
    p.add_argument("--data-dir", default=None, help="local folder with downloaded datasets")
    p.add_argument("--json", action="store_true", help="print the summary JSON on stdout")
    p.add_argument("--force", action="store_true", help="replace a finished result")
    p.add_argument("--workers", type=_positive_int, default=1, help="local processes")
    p.add_argument("--scheduler", default=None, help="Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--resume", action="store_true", help="finish an interrupted ensemble")
    p.add_argument("--engine", choices=["aggregate", "agents"], default="aggregate")
    p.add_argument("--scale", type=_scale, default=None, help="agents: share of people (1)")
    p.add_argument("--regions", default=None, help="agents: 'states' or a region CSV")
    p.add_argument("--chunk", type=_positive_int, default=None, help="runs per saved part")
    p.add_argument(
        "--from",
        dest="from_summary",
        type=Path,
        default=None,
        help="rerun the scenario, runs and seed recorded in a summary.json",
    )
    p.set_defaults(command=_run)

    p = sub.add_parser("fit", help="least-squares fit of parameters to a scenario's data")
    p.add_argument("scenario")
    p.add_argument("--param", action="append", required=True, help="parameter to fit")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(command=_fit)

    p = sub.add_parser("calibrate", help="ABC-SMC calibration (pyabc); resumes in --out")
    p.add_argument("scenario", help="built-in scenario name or path to a TOML file")
    p.add_argument("--populations", type=_positive_int, default=None, help="total wanted")
    p.add_argument("--particles", type=_positive_int, default=None)
    p.add_argument("--workers", type=_positive_int, default=1, help="local processes")
    p.add_argument("--scheduler", default=None, help="Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--data-dir", default=None, help="local folder with downloaded datasets")
    p.add_argument("--fix", action="append", default=[], help="NAME=VALUE: not free")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", type=Path, required=True, help="folder for abc.db and results")
    p.add_argument("--json", action="store_true", help="print the summary JSON on stdout")
    p.set_defaults(command=_calibrate)

    p = sub.add_parser("compare", help="policies against a base, over parameter draws")
    p.add_argument("scenario", help="the base scenario")
    p.add_argument("--policy", action="append", required=True, help="policy name or scenario")
    p.add_argument("--posterior", default=None, help="a calibrate --out folder")
    p.add_argument("--runs", type=_positive_int, default=None, help="parameter draws")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--from", dest="start", default=None, help="policy start date YYYY-MM-DD")
    p.add_argument("--data-dir", default=None, help="local folder with downloaded datasets")
    p.add_argument("--out", type=Path, default=None, help="folder (default results/compare-NAME)")
    p.add_argument("--json", action="store_true", help="print the comparison JSON on stdout")
    p.set_defaults(command=_compare)

    p = sub.add_parser("sensitivity", help="Sobol indices over the calibration priors (SALib)")
    p.add_argument("scenario")
    p.add_argument("--samples", type=_positive_int, default=256, help="base samples, power of 2")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--data-dir", default=None, help="local folder with downloaded datasets")
    p.add_argument("--out", type=Path, default=None, help="folder (default results/sobol-NAME)")
    p.add_argument("--json", action="store_true", help="print the indices JSON on stdout")
    p.set_defaults(command=_sensitivity)

    p = sub.add_parser("serve", help="the dashboard: explore scenarios in the browser")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--scenarios", type=Path, default=None, help="folder of scenario files")
    p.add_argument("--data-dir", default=None, help="local folder with downloaded datasets")
    p.add_argument(
        "--posteriors",
        type=Path,
        default=None,
        help="folder whose subfolders are `cartelsim calibrate` outputs (default: none)",
    )
    p.set_defaults(command=_serve)

    p = sub.add_parser("data", help="datasets")
    data_sub = p.add_subparsers(required=True, metavar="ACTION")
    f = data_sub.add_parser("fetch", help="download and verify a dataset")
    f.add_argument("dataset", choices=["pc2023"])
    f.add_argument("--data-dir", default=None, help="verify this folder instead")
    f.set_defaults(command=_fetch)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (got {value})")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63-1 (got {value})")
    return value


def _scenarios(args) -> int:
    descriptions = builtin_descriptions()
    width = max(map(len, descriptions))
    for name, text in descriptions.items():
        print(f"{name:<{width}}  {text}")
    return 0


def _run(args) -> int:
    from cartelsim import ensemble
    from cartelsim.report.run_report import write_report
    from cartelsim.scenario import load_scenario

    original = None
    engine, options = args.engine, {"scale": args.scale, "regions": args.regions}
    if args.from_summary is not None:
        if args.scenario is not None or args.runs is not None or args.seed is not None:
            raise ValueError("--from: takes the scenario, --runs and --seed from the summary")
        scenario, runs, seed, original = ensemble.from_summary(args.from_summary)
        engine = original["engine"]
        options = {**original.get("engine_options", {}), **_given(options)}
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
        scenario = load_scenario(args.scenario)
        runs, seed = args.runs or 1, args.seed or 0
    out = args.out or Path("results") / scenario.name
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
            write_report=write_report,
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
    print(f"report: {paths['report'].resolve()}", file=sys.stderr if args.json else sys.stdout)
    return 0


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
    from cartelsim.analysis.calibrate import calibrate
    from cartelsim.report import calibration_report

    fix = {}
    for item in args.fix:
        name, _, value = item.partition("=")
        try:
            fix[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--fix {item}: expected NAME=VALUE, e.g. cartel_share=0.1") from None
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


def _compare(args) -> int:
    import datetime as dt

    from cartelsim.analysis import compare
    from cartelsim.report import figures

    start = None
    if args.start is not None:
        try:
            start = dt.date.fromisoformat(args.start)
        except ValueError:
            raise ValueError(f"--from: expected a date YYYY-MM-DD (got {args.start!r})") from None
    result = compare.compare(
        args.scenario,
        args.policy,
        posterior=args.posterior,
        runs=args.runs,
        seed=args.seed,
        data_dir=args.data_dir,
        start=start,
    )
    out = args.out or Path("results") / f"compare-{result['base']}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "compare.txt").write_text(compare.table(result) + "\n", encoding="utf-8")
    figure = figures.compare_figure(result, out / "compare.png")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(compare.table(result))
    print(f"figure: {figure.resolve()}", file=sys.stderr)
    return 0


def _sensitivity(args) -> int:
    from cartelsim.analysis import sensitivity
    from cartelsim.report import figures

    result = sensitivity.sensitivity(
        args.scenario, samples=args.samples, seed=args.seed, data_dir=args.data_dir
    )
    for warning in result["warnings"]:
        print(f"cartelsim: warning: {warning}", file=sys.stderr)
    out = args.out or Path("results") / f"sobol-{result['scenario']}"
    out.mkdir(parents=True, exist_ok=True)
    table = sensitivity.frame(result)
    table.to_csv(out / "sobol.csv", index=False)
    (out / "sobol.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    figure = figures.sobol_figure(result, out / "sobol.png")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(table.round(3).to_string(index=False))
    print(f"figure: {figure.resolve()}", file=sys.stderr)
    return 0


def _serve(args) -> int:
    from cartelsim.dashboard import serve

    serve(args.host, args.port, args.scenarios, args.data_dir, args.posteriors)
    return 0


def _fetch(args) -> int:
    folder = datasets.fetch_pc2023(args.data_dir) if args.data_dir else datasets.download_pc2023()
    for name in datasets.PC2023_FILES:
        print(f"{folder / name}: MD5 ok")
    return 0
