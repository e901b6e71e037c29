"""Gates as test items: each verdict of :mod:`pytest_medhelm.gates` is reported like an item.

A gate needs every score of the run, which under xdist only the controller has once every worker
is done: so gates are judged on the controller when the run loop ends (at the session's finish
when the loop was cut short), and each verdict is published, as the run's last items, through
pytest's own report hooks (``pytest_runtest_logstart``/``logreport``/``logfinish``) as the item
``medhelm::gate::<target>``. The terminal, ``--junitxml``, ``--lf`` and
the exit status then see it as they see any test; ``medhelm-summary.xml`` lists them too.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_medhelm.plugin.nodeids import GATE_PREFIX, selected_gates_key
from pytest_medhelm.plugin.options import Settings

if TYPE_CHECKING:
    from pytest_medhelm.gates import GateConfig, GateVerdict
    from pytest_medhelm.results import ResultsFile


def is_gate(nodeid: str) -> bool:
    return nodeid.startswith(GATE_PREFIX)


class GateRunner:
    """Reads the gates file and the baseline at configure time (a bad one is a usage error
    before anything is paid for) and judges the gates at the end."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        from pytest_medhelm.gates import GateConfigError, load_gate_config

        self.config = config
        self.settings = settings
        try:
            self.gate_config, self.source = load_gate_config(config.rootpath, settings.gates_file)
        except GateConfigError as exc:
            raise pytest.UsageError(f"medhelm gates: {exc}") from None
        self.baseline = _read_baseline(settings) if settings.baseline is not None else None

    @property
    def configured(self) -> bool:
        g: GateConfig = self.gate_config
        return self.baseline is not None or bool(g.benchmarks or g.categories or g.overall)

    def judge(
        self,
        results: ResultsFile,
        selected: dict[str, str],
        unscored: dict[str, str],
        complete: bool,
        reason: str | None,
    ) -> list[GateVerdict]:
        from pytest_medhelm.gates import Check, GateVerdict, evaluate

        verdicts = evaluate(
            results,
            self.gate_config,
            baseline=self.baseline,
            selected=selected,
            max_drop=self.settings.max_drop,
            alpha=self.settings.alpha,
            unscored=unscored,
        )
        if not complete:
            # Never a green gate over a partial run: every verdict fails, saying why.
            for verdict in verdicts:
                verdict.checks = [Check("run", False, f"not judged: the run is not complete ({reason})")]
        wanted = self.config.stash.get(selected_gates_key, set())
        if wanted:
            found = {v.name for v in verdicts}
            verdicts = [v for v in verdicts if v.name in wanted]
            for name in sorted(wanted - found):
                known = ", ".join(sorted(found)) or "none"
                verdicts.append(
                    GateVerdict(
                        name,
                        name,
                        "unknown",
                        "-",
                        [Check("gate", False, f"no gate {name} in this run (its gates: {known})")],
                    )
                )
        return verdicts


def _read_baseline(settings: Settings) -> ResultsFile:
    from pydantic import ValidationError

    from pytest_medhelm.results import ResultsFile

    path = settings.baseline
    assert path is not None
    try:
        baseline = ResultsFile.read(path)
    except FileNotFoundError:
        raise pytest.UsageError(f"--medhelm-baseline {path}: no such file") from None
    except (OSError, ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise pytest.UsageError(f"--medhelm-baseline {path}: not a results.json: {first}") from None
    if baseline.status != "complete":
        raise pytest.UsageError(
            f"--medhelm-baseline {path}: that run is {baseline.status} "
            f"({baseline.status_reason}); a baseline must be a complete run"
        )
    if not baseline.instances:
        raise pytest.UsageError(f"--medhelm-baseline {path}: it holds no scored instance")
    return baseline


def _properties(verdict: GateVerdict) -> list[tuple[str, Any]]:
    props: list[tuple[str, Any]] = [
        ("medhelm.gate", verdict.name),
        ("medhelm.gate.target", verdict.target),
        ("medhelm.gate.model", verdict.model),
        ("medhelm.gate.passed", verdict.passed),
    ]
    for check in verdict.checks:
        for key, value in check.numbers.items():
            if isinstance(value, (str, int, float, bool)):
                props.append((f"medhelm.gate.{check.kind}.{key}", value))
    return props


def publish_all(session: pytest.Session, verdicts: list[GateVerdict]) -> None:
    """Report the verdicts as the session's last items: counted among its collected items, so
    pytest's progress ends at [100%] once, after them (not at 100% before them and past it after).
    A failed gate does not count as a failed test for pytest's exit status: the run outcome sets
    the status from the gates itself (plugin/outcome.py)."""
    session.testscollected += len(verdicts)
    failed = session.testsfailed
    for verdict in verdicts:
        publish(session.config, verdict)
    session.testsfailed = failed


def publish(config: pytest.Config, verdict: GateVerdict) -> None:
    """Report one verdict through pytest's hooks, as a test item named ``medhelm::gate::NAME``."""
    hook = config.hook
    nodeid = verdict.nodeid
    location = ("medhelm", None, f"gate {verdict.name}")
    keywords = {"medhelm": 1, "gate": 1, verdict.target: 1}
    hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
    now = time.time()
    for when in ("setup", "call", "teardown"):
        failed = when == "call" and not verdict.passed
        report = pytest.TestReport(
            nodeid,
            location,
            keywords,
            "failed" if failed else "passed",
            verdict.message() if failed else None,
            when,
            sections=[],
            duration=0.0,
            start=now,
            stop=now,
            user_properties=_properties(verdict) if when == "call" else [],
        )
        hook.pytest_runtest_logreport(report=report)
    hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)
