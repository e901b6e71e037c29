"""``medhelm gate`` and ``medhelm schema``: the release-CI side of the ``medhelm`` command.

* ``medhelm gate RESULTS.json [--baseline PREVIOUS.json]`` judges the gates (``pytest_medhelm.gates``)
  on a results file made elsewhere, typically the merge of a CI matrix's shards by
  ``medhelm leaderboard``; it prints each verdict, writes them as JUnit (``--junitxml``) and exits
  1 when a gate fails, 5 when there was nothing to judge;
* ``medhelm schema`` prints the JSON Schema of results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_GATE_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 5


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gate = commands.add_parser("gate", help="judge the gates on a results.json (e.g. merged shards)")
    gate.add_argument("results", metavar="RESULTS.json", help="the run to judge")
    gate.add_argument("--baseline", metavar="PREVIOUS.json", help="a previous complete run to compare with")
    gate.add_argument("--max-drop", type=float, default=None, help="allowed drop of a 0-1 score (default 0.02)")
    gate.add_argument("--alpha", type=float, default=None, help="significance level of the paired test (default 0.05)")
    gate.add_argument(
        "--gates",
        metavar="FILE",
        default=None,
        help="gates file (default: [tool.medhelm.gates] in ./pyproject.toml, else ./medhelm.yaml)",
    )
    gate.add_argument("--junitxml", metavar="PATH", default=None, help="write one JUnit test case per gate")
    gate.set_defaults(run=gate_command)
    schema = commands.add_parser("schema", help="print the JSON Schema of results.json")
    schema.set_defaults(run=schema_command)


def schema_command(args: argparse.Namespace) -> int:
    from pytest_medhelm.results import ResultsFile

    print(json.dumps(ResultsFile.model_json_schema(), indent=2))
    return EXIT_OK


def _read(path: str, what: str):  # noqa: ANN202  (ResultsFile, imported lazily)
    from pydantic import ValidationError

    from pytest_medhelm.results import ResultsFile

    try:
        return ResultsFile.read(Path(path))
    except FileNotFoundError:
        raise SystemExit(_usage(f"{what} {path}: no such file")) from None
    except (OSError, ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SystemExit(_usage(f"{what} {path}: not a results.json: {first}")) from None


def _usage(message: str) -> int:
    print(f"medhelm gate: {message}", file=sys.stderr)
    return EXIT_USAGE


def gate_command(args: argparse.Namespace) -> int:
    from pytest_medhelm.gates import Check, GateConfigError, evaluate, load_gate_config

    for name, value, low_open in (("--max-drop", args.max_drop, False), ("--alpha", args.alpha, True)):
        if value is not None and not ((0 < value < 1) if low_open else (0 <= value <= 1)):
            return _usage(f"{name} must be between 0 and 1, got {value}")
    try:
        config, source = load_gate_config(Path.cwd(), Path(args.gates) if args.gates else None)
    except GateConfigError as exc:
        return _usage(str(exc))
    results = _read(args.results, "")
    baseline = _read(args.baseline, "--baseline") if args.baseline else None
    if baseline is not None and baseline.status != "complete":
        return _usage(f"--baseline {args.baseline}: that run is {baseline.status}; a baseline must be a complete run")
    verdicts = evaluate(results, config, baseline=baseline, max_drop=args.max_drop, alpha=args.alpha)
    if results.status != "complete":
        for verdict in verdicts:
            verdict.checks = [
                Check("run", False, f"not judged: {args.results} is {results.status} ({results.status_reason})")
            ]
    if args.junitxml:
        write_junit(Path(args.junitxml), verdicts)
    if not verdicts:
        print(
            f"medhelm gate: no gate to judge: no gates configured ({source or 'no gates file'}) and no --baseline"
            if baseline is None and source is None
            else "medhelm gate: no gate applies to this run's benchmarks",
            file=sys.stderr,
        )
        return EXIT_NOTHING
    for verdict in verdicts:
        print(verdict.message())
    failed = [v for v in verdicts if not v.passed]
    print(f"gates: {len(verdicts) - len(failed)} passed, {len(failed)} failed")
    return EXIT_GATE_FAILED if failed or results.status != "complete" else EXIT_OK


def write_junit(path: Path, verdicts: list) -> None:  # list[GateVerdict]
    """One test case per gate (class ``medhelm.gate``), failures for failed gates only."""
    from junitparser import Failure, JUnitXml, Properties, Property, TestCase, TestSuite

    suite = TestSuite("medhelm gates")
    for verdict in verdicts:
        case = TestCase(verdict.name, classname="medhelm.gate")
        if not verdict.passed:
            failure = Failure(next(c.text for c in verdict.checks if not c.passed))
            failure.text = verdict.message()
            case.result = [failure]
        properties = Properties()
        properties.add_property(Property("medhelm.gate.model", verdict.model))
        for check in verdict.checks:
            for key, value in check.numbers.items():
                if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                    properties.add_property(Property(f"medhelm.gate.{check.kind}.{key}", str(value)))
        case.append(properties)
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path))
