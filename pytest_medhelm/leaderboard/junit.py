"""JUnit files: ``medhelm-summary.xml`` (one test case per benchmark and model, for CI dashboards
and regression gates), and reading back both the summaries (their cells, ``read_summary``) and the
per-item JUnit files of earlier runs (``pytest --junitxml``), whose ``medhelm.*`` testcase
properties are the instance rows.

Written and read with junitparser. Scores, intervals and counts only: no patient text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from junitparser import JUnitXml, Properties, Property, TestCase, TestSuite

if TYPE_CHECKING:
    from pytest_medhelm.leaderboard.summaries import SummaryCell
    from pytest_medhelm.results import InstanceRecord, ResultsFile

SUITE_NAME = "medhelm-summary"
SUMMARY_MARK = "medhelm.summary"  # a property of every summary case: tells summaries from item files


def case_name(benchmark_id: str, model: str) -> str:
    return f"{benchmark_id}[{model}]"


def write_summary(results: ResultsFile, path: Path) -> Path:
    suite = TestSuite(SUITE_NAME)
    for benchmark_id, result in results.benchmarks.items():
        for model, score in result.scores.items():
            case = TestCase(case_name(benchmark_id, model), f"medhelm.{result.group}.{result.category}")
            values: dict[str, Any] = {
                SUMMARY_MARK: "1",
                "benchmark": benchmark_id,
                "model": model,
                "group": result.group,
                "category": result.category,
                "subcategory": result.subcategory,
                "metric": result.metric,
                "score": score.score,
                "normalized": score.normalized,
                "n": score.n,
                "errors": score.errors,
                "scale_low": result.scale[0],
                "scale_high": result.scale[1],
            }
            if score.interval is not None:
                values["ci_low"], values["ci_high"] = score.interval
                values["ci_level"] = results.uncertainty.level
            properties = Properties()
            for name, value in values.items():
                properties.add_property(Property(name, repr(value) if isinstance(value, float) else str(value)))
            case.append(properties)
            suite.add_testcase(case)
    add_gates(suite, results)
    suite.update_statistics()
    xml = JUnitXml()
    xml.add_testsuite(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path))
    return path


def properties_of(case: TestCase) -> list[tuple[str, str]]:
    found = case.child(Properties)
    return [] if found is None else [(p.name, p.value) for p in found]


def _typed(name: str, value: str) -> Any:
    """JUnit properties are strings: give the instance-row fields their types back."""
    field = name.removeprefix("medhelm.")
    if name.startswith("medhelm.metric."):
        return float(value)
    if field in {"score", "cost_usd", "latency_s", "normalized", "jury_cost_usd"}:
        return float(value)
    if field in {"input_tokens", "output_tokens", "jury_input_tokens", "jury_output_tokens"}:
        return int(float(value))
    if field in {"passed", "cached", "open_ended"}:
        return value == "True"
    return value


class JUnitReadError(ValueError):
    pass


def _suites(path: Path) -> list[TestSuite]:
    try:
        xml = JUnitXml.fromfile(str(path))
    except Exception as exc:  # noqa: BLE001  (junitparser raises lxml's or ElementTree's own errors)
        raise JUnitReadError(f"{path}: not a JUnit XML file: {exc}") from None
    return [xml] if isinstance(xml, TestSuite) else list(xml)


def _cases(path: Path) -> list[TestCase]:
    return [case for suite in _suites(path) for case in suite]


def read_status(path: Path) -> tuple[str, str | None]:
    """The run's status and reason, as testsuite properties of a ``--junitxml`` file (plugin/
    outcome.py) or of a medhelm-summary.xml; ``complete`` when a file records none (as before
    the status existed)."""
    from pytest_medhelm.leaderboard.status import SEVERITY

    properties = {prop.name: prop.value for suite in _suites(path) for prop in suite.properties()}
    status = properties.get("medhelm.status", "complete")
    if status not in SEVERITY:
        raise JUnitReadError(
            f"{path}: testsuite property medhelm.status is {status!r}, not one of {', '.join(SEVERITY)}"
        )
    return status, properties.get("medhelm.status_reason")


def read_summary(path: Path) -> list[SummaryCell] | None:
    """The (benchmark, model) cells of a ``medhelm-summary.xml``; None when ``path`` is not one."""
    from pytest_medhelm.leaderboard.summaries import cell_of

    cells = []
    for case in _cases(path):
        properties = dict(properties_of(case))
        if SUMMARY_MARK in properties:
            cells.append(cell_of(case, properties, path))
    return cells or None


def read_instance_rows(path: Path) -> list[InstanceRecord]:
    """The instance rows of a per-item JUnit file (``pytest --medhelm-model ... --junitxml FILE``)."""
    from pytest_medhelm.results import InstanceRecord

    rows = []
    for case in _cases(path):
        pairs = properties_of(case)
        if any(name == SUMMARY_MARK for name, _ in pairs):
            raise JUnitReadError(
                f"{path}: a medhelm-summary.xml holds scores per benchmark, not instance rows; "
                "give results.json or the run's --junitxml file"
            )
        typed = [(name, _typed(name, value)) for name, value in pairs if name.startswith("medhelm.")]
        if not typed:
            continue
        try:
            record = InstanceRecord.from_properties(typed)
            if record is not None:
                rows.append(InstanceRecord.model_validate(record.model_dump()))
        except (ValueError, TypeError) as exc:
            raise JUnitReadError(f"{path}: test case {case.name!r}: {exc}") from None
    return rows


def add_gates(suite: TestSuite, results: ResultsFile) -> None:
    """The run's gates, one test case each (class ``medhelm.gate``): the summary's only failures.
    A run that is not complete adds a failed ``run`` gate, so a dashboard never shows a green
    build over a partial or empty run, its text the reports' banner (reason and counts); the
    status and its reason are also properties of the suite."""
    from junitparser import Failure

    from pytest_medhelm.leaderboard.status import banner

    suite.add_property("medhelm.status", results.status)
    if results.status_reason:
        suite.add_property("medhelm.status_reason", results.status_reason)
    for gate in results.gates:
        case = TestCase(gate.name, "medhelm.gate")
        if not gate.passed:
            failure = Failure(gate.message.splitlines()[0])
            failure.text = gate.message
            case.result = [failure]
        suite.add_testcase(case)
    if results.status != "complete":
        case = TestCase("run", "medhelm.gate")
        failure = Failure(f"the run is {results.status}: {results.status_reason}")
        failure.text = banner(results)
        case.result = [failure]
        suite.add_testcase(case)
