"""The fast path imports what the session's end needs while the items run, in the process that
writes the results only."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_medhelm.plugin.fastpath.warmup import END_OF_SESSION_MODULES, JURY_MODULES, EndOfSessionWarmup

RECORD_IMPORTING_THREAD = """
import threading
IMPORTED_BY = threading.current_thread().name
"""


def fake_session(collectonly: bool = False, jury_metric: str | None = None) -> Any:
    item = SimpleNamespace(benchmark=SimpleNamespace(jury_metric=jury_metric))
    return SimpleNamespace(config=SimpleNamespace(option=SimpleNamespace(collectonly=collectonly)), items=[item])


@pytest.fixture
def made_up_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names = ["medhelm_warmup_first", "medhelm_warmup_broken", "medhelm_warmup_after"]
    (tmp_path / "medhelm_warmup_first.py").write_text(RECORD_IMPORTING_THREAD, encoding="utf-8")
    (tmp_path / "medhelm_warmup_broken.py").write_text("raise RuntimeError('broken on import')\n", encoding="utf-8")
    (tmp_path / "medhelm_warmup_after.py").write_text(RECORD_IMPORTING_THREAD, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield names
    for name in names:
        sys.modules.pop(name, None)


def test_the_modules_are_imported_by_a_background_thread_before_the_session_ends(made_up_modules: list[str]) -> None:
    warmup = EndOfSessionWarmup(made_up_modules)
    warmup.pytest_runtestloop(fake_session())
    warmup.pytest_sessionfinish(fake_session())

    first = sys.modules["medhelm_warmup_first"]
    assert first.IMPORTED_BY == "medhelm-end-of-session-imports" != threading.current_thread().name
    # A module that fails to import stops the warm-up quietly: the session's end reports it.
    assert "medhelm_warmup_broken" not in sys.modules and "medhelm_warmup_after" not in sys.modules


def test_nothing_is_imported_when_only_collecting(made_up_modules: list[str]) -> None:
    warmup = EndOfSessionWarmup(made_up_modules)
    warmup.pytest_runtestloop(fake_session(collectonly=True))
    warmup.pytest_sessionfinish(fake_session(collectonly=True))
    assert warmup.thread is None and "medhelm_warmup_first" not in sys.modules


@pytest.mark.parametrize(
    ("jury_on", "jury_metric", "imported"),
    [(True, "notes_accuracy", True), (True, None, False), (False, "notes_accuracy", False)],
    ids=["judged-items", "no-judged-item", "jury-none"],
)
def test_the_jury_statistics_are_imported_only_when_an_item_is_judged(
    made_up_modules: list[str], jury_on: bool, jury_metric: str | None, imported: bool
) -> None:
    warmup = EndOfSessionWarmup((), made_up_modules[:1], jury_on=jury_on)
    warmup.pytest_runtestloop(fake_session(jury_metric=jury_metric))
    warmup.pytest_sessionfinish(fake_session())
    assert ("medhelm_warmup_first" in sys.modules) is imported


def test_the_default_modules_are_the_ones_the_end_of_the_session_imports() -> None:
    for name in (*END_OF_SESSION_MODULES, *JURY_MODULES):
        assert __import__(name)


MODEL = "--medhelm-model=baseline-extractive"
RECORD_REGISTRATION = """
import os

def pytest_sessionstart(session):
    config = session.config
    who = config.workerinput["workerid"] if hasattr(config, "workerinput") else "main"
    with open(os.path.join(str(config.rootpath), "warmup-" + who), "w") as out:
        out.write(str(config.pluginmanager.has_plugin("medhelm-fastpath-warmup")))
"""


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((MODEL,), {"warmup-main": "True"}),
        ((MODEL, "-n", "2"), {"warmup-main": "True", "warmup-gw0": "False", "warmup-gw1": "False"}),
        ((MODEL, "-p", "no:medhelm_fastpath"), {"warmup-main": "False"}),
        ((), {"warmup-main": "False"}),  # a plain test run: no results to write
    ],
    ids=["one-process", "xdist", "fast-path-off", "no-model"],
)
def test_only_the_process_that_writes_the_results_warms_up(
    pytester: pytest.Pytester, options: tuple[str, ...], expected: dict[str, str]
) -> None:
    pytester.makeconftest(RECORD_REGISTRATION)
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("test_plain.py", *options)
    result.assert_outcomes(passed=1)
    assert {path.name: path.read_text() for path in pytester.path.glob("warmup-*")} == expected
