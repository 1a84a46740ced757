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

from cartelsim import datasets
from cartelsim.scenario import ScenarioError, builtin_descriptions

USER_ERRORS = (ScenarioError, datasets.DataError, FileExistsError, ValueError, KeyError)


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
    p.add_argument("scenario", help="built-in scenario name or path to a TOML file")
    p.add_argument("--runs", type=_positive_int, default=1)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", type=Path, default=None, help="folder (default results/NAME)")
    p.add_argument("--data-dir", default=None, help="local folder with downloaded datasets")
    p.add_argument("--json", action="store_true", help="print the summary JSON on stdout")
    p.add_argument("--force", action="store_true", help="replace a finished result")
    p.set_defaults(command=_run)

    p = sub.add_parser("fit", help="least-squares fit of parameters to a scenario's data")
    p.add_argument("scenario")
    p.add_argument("--param", action="append", required=True, help="parameter to fit")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(command=_fit)

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
    from cartelsim.report import write_report
    from cartelsim.runner import run
    from cartelsim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    out = args.out or Path("results") / scenario.name
    if (out / "summary.json").exists() and not args.force:
        raise FileExistsError(
            f"{out / 'summary.json'}: a finished result is already there; use --force to replace it"
        )
    with tqdm(total=args.runs, desc=scenario.name, unit="run", delay=1.0, file=sys.stderr) as bar:
        results = run(
            scenario, runs=args.runs, seed=args.seed, data_dir=args.data_dir, progress=bar.update
        )
    paths = results.write(out, force=args.force)
    report = write_report(results, out / "report.html")
    if args.json:
        print(paths["summary"].read_text(encoding="utf-8"))
    else:
        summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
        final = summary["final"]
        print(f"{scenario.name}: {summary['start']} to {summary['end']}, {args.runs} run(s)")
        print(f"  members at the end: {final['members_total']:,.0f}")
        print(f"  deaths per week at the end: {final['deaths_per_week']:,.1f}")
        print(f"results: {paths['results']}")
        print(f"summary: {paths['summary']}")
    print(f"report: {report.resolve()}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _fit(args) -> int:
    from cartelsim.fit import fit

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


def _fetch(args) -> int:
    folder = datasets.fetch_pc2023(args.data_dir)
    for name in datasets.PC2023_FILES:
        print(f"{folder / name}: MD5 ok")
    return 0
