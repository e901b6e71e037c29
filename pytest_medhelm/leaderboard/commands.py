"""The ``medhelm leaderboard`` and ``medhelm export-helm`` commands (added to ``medhelm``'s parser)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_commands(commands: Any) -> None:
    board = commands.add_parser(
        "leaderboard", help="one leaderboard from results.json or JUnit files of earlier runs or shards"
    )
    board.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="results.json files or per-item JUnit files (pytest --junitxml) of earlier runs",
    )
    board.add_argument(
        "--output",
        type=Path,
        default=Path("medhelm-leaderboard"),
        help="where results.json, leaderboard.md, report.html, medhelm-summary.xml go (default medhelm-leaderboard/)",
    )
    board.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    board.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    board.add_argument(
        "--include-text", action="store_true", help="show model outputs and references (patient text) in report.html"
    )
    board.set_defaults(run=leaderboard)
    helm = commands.add_parser("export-helm", help="per-run stats.json and per_instance_stats.json in HELM's layout")
    helm.add_argument("results", type=Path, metavar="RESULTS.json")
    helm.add_argument(
        "--to", type=Path, required=True, metavar="DIR", help="a HELM suite directory (benchmark_output/runs/<suite>/)"
    )
    helm.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the data mirror holding HELM's package (DIR/helm/), whose run specs name the runs "
        "(default: the download cache)",
    )
    helm.set_defaults(run=export_helm)


def leaderboard(args: argparse.Namespace) -> int:
    from pytest_medhelm.leaderboard.markdown import render
    from pytest_medhelm.leaderboard.merge import MergeError, merge
    from pytest_medhelm.leaderboard.outputs import write_outputs
    from pytest_medhelm.results import Uncertainty

    if args.resamples < 100:
        print("medhelm leaderboard: --resamples must be at least 100", file=sys.stderr)
        return 2
    try:
        results, mismatches = merge(
            list(args.files),
            uncertainty=Uncertainty(seed=args.seed, resamples=args.resamples),
            command_line=["medhelm", *sys.argv[1:]],
        )
    except MergeError as exc:
        print(f"medhelm leaderboard: {exc}", file=sys.stderr)
        return 2
    written = write_outputs(results, args.output, include_text=args.include_text)
    print(render(results))
    for problem in mismatches:
        print(f"medhelm leaderboard: mismatch: {problem}", file=sys.stderr)
    if results.status != "complete":
        print(f"medhelm leaderboard: {results.status.upper()}: {results.status_reason}", file=sys.stderr)
    print(f"written: {', '.join(str(path) for path in written.values())}", file=sys.stderr)
    return 1 if mismatches or results.status != "complete" else 0


def export_helm(args: argparse.Namespace) -> int:
    from pytest_medhelm.leaderboard.helm_export import export
    from pytest_medhelm.leaderboard.merge import MergeError, read_file

    try:
        _, results = read_file(args.results)
    except MergeError as exc:
        print(f"medhelm export-helm: {exc}", file=sys.stderr)
        return 2
    if results is None:
        print(f"medhelm export-helm: {args.results}: give a results.json file", file=sys.stderr)
        return 2
    from pytest_medhelm.helm import HelmPackageError, locate

    try:
        package = locate(args.data_dir)
    except HelmPackageError as exc:
        print(f"medhelm export-helm: {exc}", file=sys.stderr)
        return 2
    if package is None:
        where = f"{args.data_dir}/helm/ or the download cache" if args.data_dir else "the download cache"
        print(
            f"medhelm export-helm: HELM's package (its run specs name the runs) is not in {where}: "
            "give --data-dir MIRROR, or run `medhelm download`",
            file=sys.stderr,
        )
        return 2
    try:
        runs = export(results, args.to, package)
    except (KeyError, ValueError) as exc:
        print(f"medhelm export-helm: {exc}", file=sys.stderr)
        return 2
    for directory in runs:
        print(directory)
    if not runs:
        print("medhelm export-helm: no public MedHELM benchmark in this file", file=sys.stderr)
        return 1
    return 0
