"""How a MedHELM run ended, said the same way in the exit status, the terminal and results.json.

No false greens: every run that starts (a model given, not ``--collect-only``) writes
``results.json`` with a ``status`` (``complete``, ``interrupted``, ``failed`` with the reason, or
``nothing_run``) and its counts; a run that is not complete keeps the previous complete result
beside it (``results.last-complete.json``); a run in which no selected benchmark had data exits
non-zero with one message naming the data directory and what it lacked.

pytest habits for scores: a wrong answer (an item below its benchmark's pass rule) is a failed
item for ``--lf`` and JUnit, but prints at most its one ``FAILED`` summary line (errors keep their
full report), does not count towards ``-x`` / ``--maxfail``, and the score table ends the output.
Controller side only (a worker's reports are replayed here by xdist).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_medhelm.plugin.nodeids import GATE_PREFIX
from pytest_medhelm.plugin.options import Settings

if TYPE_CHECKING:
    from pytest_medhelm.plugin.report import ResultsReporter
    from pytest_medhelm.results import ResultsFile

RESULTS_NAME = "results.json"
LAST_COMPLETE_NAME = "results.last-complete.json"
# Set on a notice item (a benchmark that cannot run) so the controller knows why it was skipped.
NOTICE_KIND = "medhelm.notice"
NOTICE_BENCHMARK = "medhelm.notice_benchmark"
NOTICE_REASON = "medhelm.notice_reason"
# config.option attribute holding -x / --maxfail once the plugin has taken them over.
MAXFAIL_OPTION = "medhelm_maxfail"


def is_wrong_answer(report: pytest.TestReport) -> bool:
    """A call that scored below its pass rule: a finding about the model, not a broken run."""
    return report.when == "call" and report.failed and ("medhelm.passed", False) in report.user_properties


@dataclass
class _Unavailable:
    benchmark: str
    kind: str
    reason: str


@dataclass
class ItemTally:
    """Each item counted once, by the worst thing that happened to it."""

    outcome: dict[str, str] = field(default_factory=dict)  # nodeid -> passed/wrong/failed/error/skipped
    unavailable: dict[str, _Unavailable] = field(default_factory=dict)

    _RANK = {"passed": 0, "skipped": 1, "wrong": 2, "failed": 3, "error": 4}

    def add(self, report: pytest.TestReport) -> None:
        if report.nodeid.startswith(GATE_PREFIX):
            return  # gates are counted apart
        if report.when == "call":
            kind = (
                "passed"
                if report.passed
                else "skipped"
                if report.skipped
                else ("wrong" if is_wrong_answer(report) else "failed")
            )
        elif report.failed:
            kind = "error"
        elif report.skipped:
            kind = "skipped"
            props = dict(report.user_properties)
            if NOTICE_KIND in props:
                self.unavailable[report.nodeid] = _Unavailable(
                    str(props.get(NOTICE_BENCHMARK, "")), str(props[NOTICE_KIND]), str(props.get(NOTICE_REASON, ""))
                )
        else:
            return
        known = self.outcome.get(report.nodeid)
        if known is None or self._RANK[kind] > self._RANK[known]:
            self.outcome[report.nodeid] = kind

    def count(self, kind: str) -> int:
        return sum(1 for value in self.outcome.values() if value == kind)


class RunOutcome:
    """Registered on the controller (or the single process) of a session with a model."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.tally = ItemTally()
        self.interrupted: str | None = None
        self.collection_errors = 0
        self.no_data_message: str | None = None
        # Where results.json went: elsewhere, with the reason, when the output folder failed at the end.
        self.written: Path | None = None
        self.write_problem: str | None = None
        self._hidden: list[pytest.TestReport] = []
        self._concluded: ResultsFile | None = None
        from pytest_medhelm.plugin.gates import GateRunner

        self.gates = GateRunner(config, settings)

    @property
    def reporter(self) -> ResultsReporter:
        return self.config.pluginmanager.get_plugin("medhelm-report")  # type: ignore[return-value]

    # -- what happened ------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tally.add(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors += 1

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Ctrl-C, or pytest's Interrupted (collection errors, xdist's stop of its workers).
        self.interrupted = str(excinfo.value) or "interrupted (Ctrl-C)"
        if isinstance(excinfo.value, KeyboardInterrupt) and type(excinfo.value) is KeyboardInterrupt:
            self.interrupted = "interrupted (Ctrl-C)"

    # -- the end ------------------------------------------------------------------------------

    def status(self, session: pytest.Session, results: ResultsFile) -> tuple[str, str | None]:
        shouldstop = session.shouldstop or session.shouldfail
        scored = len(results.instances)
        if self.collection_errors:
            return "failed", f"{self.collection_errors} error(s) during collection"
        if isinstance(shouldstop, str) and shouldstop.startswith("medhelm:"):
            return "failed", shouldstop
        if self.interrupted and self.interrupted.startswith("medhelm:"):
            return "failed", self.interrupted
        if self.interrupted is not None or shouldstop:
            reason = self.interrupted or str(shouldstop)
            return "interrupted", reason if reason != "True" else "stopped early"
        if not self.tally.outcome:
            return "nothing_run", self.no_data_message or "no item was selected"
        if scored == 0 and self.tally.count("error"):
            return "failed", f"no item was scored: {self.tally.count('error')} error(s)"
        if scored == 0 and not self.tally.count("passed") and not self.tally.count("failed"):
            return "nothing_run", self.no_data_message or "every selected item was skipped"
        return "complete", None

    def counts(self, session: pytest.Session) -> dict[str, int]:
        tally = self.tally
        selected = max(int(session.testscollected or 0), len(tally.outcome))  # gates are not collected
        return {
            "selected": selected,
            "passed": tally.count("passed"),
            "wrong": tally.count("wrong"),
            "failed": tally.count("failed"),
            "errors": tally.count("error"),
            "skipped": tally.count("skipped"),
            "not_run": selected - len(tally.outcome),
        }

    def _no_data(self) -> str | None:
        """One message when no selected benchmark could run, naming where data was looked for."""
        if not self.tally.unavailable or any(kind != "skipped" for kind in self.tally.outcome.values()):
            return None
        missing = sorted({u.benchmark for u in self.tally.unavailable.values() if u.kind == "data"})
        other = sorted({f"{u.benchmark} ({u.reason})" for u in self.tally.unavailable.values() if u.kind != "data"})
        data_dir = self.settings.data_dir
        if data_dir is None:
            from pytest_medhelm.data.sources import home_dir

            where = f"no --medhelm-data-dir was given, and the download cache {home_dir() / 'data'}"
        elif not data_dir.is_dir():
            where = f"the data directory {data_dir} does not exist, and so"
        else:
            where = f"the data directory {data_dir}"
        parts = []
        if missing:
            lacked = ", ".join(f"{b}/" for b in missing)
            parts.append(f"{where} lacks {lacked} (a benchmark's folder holds its test.jsonl or its owner's files)")
        if other:
            parts.append("cannot run: " + "; ".join(other))
        return (
            "no selected benchmark had data, nothing was scored: "
            + "; ".join(parts)
            + ". `medhelm benchmarks --data-dir DIR` lists what a folder holds; `medhelm download` fetches it."
        )

    @pytest.hookimpl(wrapper=True, trylast=True)  # inside the terminal's: before its final progress
    def pytest_runtestloop(self, session: pytest.Session) -> Iterator[object]:
        result = yield
        # The loop ran to its end: the gates are its last items, counted in the progress like any
        # other, so pytest writes its [100%] once, after them. A loop that raised (Ctrl-C, -x) is
        # concluded at the session's finish.
        if not self.config.option.collectonly:
            self._conclude(session)
        return result

    def _conclude(self, session: pytest.Session) -> ResultsFile:
        """The run's results with their status and counts, and its gates judged and reported (once)."""
        if self._concluded is not None:
            return self._concluded
        self.no_data_message = self._no_data()
        results = self.reporter.build_results()
        state, reason = self.status(session, results)
        results.status = state  # type: ignore[assignment]
        results.status_reason = reason
        from pytest_medhelm.plugin.gates import publish_all
        from pytest_medhelm.results import GateResultRecord, RunCounts

        verdicts = self.gates.judge(results, self._selected(results), self._unscored(), state == "complete", reason)
        results.gates = [GateResultRecord(**verdict.as_record()) for verdict in verdicts]
        failed_gates = sum(not verdict.passed for verdict in verdicts)
        results.counts = RunCounts(
            **self.counts(session), gates_passed=len(verdicts) - failed_gates, gates_failed=failed_gates
        )
        self._concluded = results
        publish_all(session, verdicts)
        return results

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.config.option.collectonly:
            return
        results = self._conclude(session)
        state, failed_gates = results.status, results.counts.gates_failed
        try:
            self.config.hook.pytest_medhelm_results(
                results=results, path=self.settings.output / RESULTS_NAME, config=self.config
            )
        finally:
            self._write(results)  # even when a hook fails: nothing computed is lost
            self._mark_junit(results)
        if state == "nothing_run" and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        elif failed_gates and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif (
            session.exitstatus == pytest.ExitCode.TESTS_FAILED
            and state == "complete"
            and not (results.counts.failed or results.counts.errors)
        ):
            # Wrong answers are findings, not a broken run: the exit status is the gates'.
            session.exitstatus = pytest.ExitCode.OK

    def _write(self, results: ResultsFile) -> None:
        try:
            self.written = write_results(self.settings.output, results)
        except OSError as exc:
            from pytest_medhelm.plugin.report import write_elsewhere

            self.written, self.write_problem = write_elsewhere(results, self.settings.output / RESULTS_NAME, exc)

    def _mark_junit(self, results: ResultsFile) -> None:
        """The run's status as testsuite properties of ``--junitxml`` (written after this hook), so
        a dashboard reading it can tell a partial run from a complete one."""
        for plugin in self.config.pluginmanager.get_plugins():
            # pytest's LogXML, found by its public method (the one record_testsuite_property uses).
            if callable(getattr(plugin, "add_global_property", None)) and hasattr(plugin, "node_reporters"):
                plugin.add_global_property("medhelm.status", results.status)
                if results.status_reason:
                    plugin.add_global_property("medhelm.status_reason", results.status_reason)

    def _selected(self, results: ResultsFile) -> dict[str, str]:
        """Every benchmark the run selected (scored, errored or unavailable) -> its category."""
        from pytest_medhelm.taxonomy import load_taxonomy

        selected = {record.benchmark: record.category for record in results.instances}
        others = {b for b, _ in self.reporter.errors} | {u.benchmark for u in self.tally.unavailable.values()}
        taxonomy = load_taxonomy()
        for benchmark in sorted(others - set(selected)):
            place = taxonomy.place(benchmark)
            selected[benchmark] = place[0].id if place else "custom"
        return selected

    def _unscored(self) -> dict[str, str]:
        reasons = {u.benchmark: u.reason for u in self.tally.unavailable.values()}
        for (benchmark, _), count in self.reporter.errors.items():
            reasons.setdefault(benchmark, f"{count} item(s) errored")
        return reasons

    # -- terminal -------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
        # pytest's own summary prints each failure's section before the plugins' summaries and its
        # short "FAILED id - message" lines after them. A wrong answer keeps the short line only:
        # hidden from the failure sections here, back in the statistics when the plugins run.
        stats = terminalreporter.stats
        failed = stats.get("failed", [])
        self._hidden = [
            report for report in failed if isinstance(report, pytest.TestReport) and is_wrong_answer(report)
        ]
        if self._hidden:
            hidden = set(map(id, self._hidden))
            stats["failed"] = [report for report in failed if id(report) not in hidden]
        try:
            return (yield)
        finally:
            self._restore(terminalreporter)
            self.write_table(terminalreporter)

    def _restore(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self._hidden:
            terminalreporter.stats.setdefault("failed", []).extend(self._hidden)
            self._hidden = []

    def write_table(self, terminalreporter: pytest.TerminalReporter) -> None:
        """The score table and the run's status: the last thing the run prints (before pytest's
        one-line count)."""
        results = self.reporter.results
        if results is None:
            return
        from pytest_medhelm.plugin.report import summary_lines

        if results.instances:
            for line in summary_lines(results):
                terminalreporter.write_line(line)
        if results.gates:
            failed = [gate for gate in results.gates if not gate.passed]
            terminalreporter.write_line("")
            terminalreporter.write_line(
                f"gates: {len(results.gates) - len(failed)} passed, {len(failed)} failed"
                + (": " + ", ".join(f"{GATE_PREFIX}{g.name}" for g in failed) if failed else ""),
                red=bool(failed),
                green=not failed,
            )
        if results.status != "complete":
            terminalreporter.write_line("")
            terminalreporter.write_line(
                f"medhelm: run {results.status.upper().replace('_', ' ')}: {results.status_reason}", red=True, bold=True
            )
            previous = self.settings.output / LAST_COMPLETE_NAME
            if previous.exists():
                terminalreporter.write_line(f"previous complete results kept: {previous}")
        if self.write_problem is not None:
            terminalreporter.write_line(f"medhelm: {self.write_problem}", red=True, bold=True)
        if self.written is not None:
            terminalreporter.write_line(f"results: {self.written} (status: {results.status})")
        for name, path in self.reporter.written.items():  # the leaderboard's reports (plugin/report.py)
            terminalreporter.write_line(f"{name}: {path}")


class RestoreWrongAnswers:
    """A plain ``pytest_terminal_summary`` impl: runs after pytest's failure sections (in its
    wrapper's first half) and before its short summary (the second half), so the wrong answers
    hidden from the former are back for the latter."""

    def __init__(self, outcome: RunOutcome) -> None:
        self.outcome = outcome

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        self.outcome._restore(terminalreporter)


class ErrorsStopTheRun:
    """``-x`` and ``--maxfail`` stop on errors, never on wrong answers.

    pytest (and xdist's controller) would count every failed report, so the plugin takes the
    option over in ``pytest_configure``: pytest's own ``maxfail`` becomes 0 and the value moves to
    ``medhelm_maxfail`` (xdist copies the options to its workers, which count their own share).
    Errors and failed plain tests count; wrong answers do not.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        if not hasattr(config.option, MAXFAIL_OPTION):
            setattr(config.option, MAXFAIL_OPTION, int(config.option.maxfail or 0))
            config.option.maxfail = 0
        self.maxfail = int(getattr(config.option, MAXFAIL_OPTION) or 0)
        self.failures = 0
        self.session: pytest.Session | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if (
            not report.failed
            or hasattr(report, "wasxfail")
            or is_wrong_answer(report)
            or not self.maxfail
            or report.nodeid.startswith(GATE_PREFIX)
        ):
            return
        self.failures += 1
        if self.failures >= self.maxfail and self.session is not None:
            message = f"stopping after {self.failures} error{'s' if self.failures > 1 else ''}"
            self.session.shouldfail = self.session.shouldfail or message
            dsession = self.config.pluginmanager.get_plugin("dsession")
            if dsession is not None and not getattr(dsession, "shouldstop", True):
                dsession.shouldstop = message  # xdist's controller: stop every worker


def write_results(output: Path, results: ResultsFile) -> Path:
    """Write ``output/results.json``; when this run is not complete and the file there is a
    complete result, that one is kept beside it as ``results.last-complete.json`` first."""
    path = output / RESULTS_NAME
    previous = output / LAST_COMPLETE_NAME
    if results.status != "complete" and _is_complete(path):
        output.mkdir(parents=True, exist_ok=True)
        path.replace(previous)
    results.write(path)
    if results.status == "complete":
        previous.unlink(missing_ok=True)  # results.json is now the latest complete result
    return path


def _is_complete(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("status", "complete") == "complete" and "instances" in data


def unavailable_properties(kind: str, benchmark: str, reason: str) -> Sequence[tuple[str, str]]:
    return [(NOTICE_KIND, kind), (NOTICE_BENCHMARK, benchmark), (NOTICE_REASON, reason)]
