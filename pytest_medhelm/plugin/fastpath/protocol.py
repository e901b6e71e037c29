"""The run protocol of an instance item: pytest's own, minus what an instance item never needs.

pytest runs each phase of an item (setup, call, teardown) through a hook that plugins wrap:
output capture, log capture, ``PYTEST_CURRENT_TEST``, unraisable-exception checks. For a
MedHELM item those wrappers guard nothing (the item runs no user code; the model call and the
scorer run on the engine's thread) yet together cost more than the item itself, about a
millisecond an item: seconds a run, taken from the one core (one GIL) the engine also needs.

So an instance item's phases are called directly, and everything a user or plugin sees of an
item stays pytest's: ``pytest_runtest_logstart``/``logfinish``, one report per phase made by
``pytest_runtest_makereport`` and published through ``pytest_runtest_logreport`` (terminal,
JUnit, xdist, ``--lf``), ``pytest_exception_interact`` for ``--pdb``, the session's setup state,
and every wrapper of ``pytest_runtest_protocol`` itself (``--timeout``, warnings). When anything
else does hook a phase (a conftest's ``pytest_runtest_setup``, a plugin's), or the item carries a
skip/xfail marker, the item takes pytest's full protocol instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_medhelm.plugin.fastpath.internals import Internals, warn_fallback
from pytest_medhelm.plugin.pipeline import instance_item_type

PHASE_HOOKS = ("pytest_runtest_setup", "pytest_runtest_call", "pytest_runtest_teardown")
# Phase hooks whose work an instance item does not need (see the module docstring): pytest's
# own, pytest-timeout's (it times the whole protocol too) and ours.
_KNOWN_PHASE_HOOKS = ("_pytest.", "pytest_timeout", "pytest_medhelm.")
# Markers that pytest's own phase hooks act on.
_PHASE_MARKERS = frozenset({"skip", "skipif", "xfail", "usefixtures", "filterwarnings"})


def phases_hooked_elsewhere(ihook: Any) -> bool:
    """Does a plugin or conftest we do not know hook the setup, call or teardown of items here?"""
    for name in PHASE_HOOKS:
        for impl in getattr(ihook, name).get_hookimpls():
            if not str(getattr(impl.function, "__module__", "")).startswith(_KNOWN_PHASE_HOOKS):
                return True
    return False


def needs_full_protocol(item: pytest.Item) -> bool:
    config = item.config
    if config.getoption("setuponly", False) or config.getoption("setupshow", False):
        return True
    return any(mark.name in _PHASE_MARKERS for mark in item.iter_markers())


def run_phases(item: pytest.Item, nextitem: pytest.Item | None, internals: Internals) -> None:
    """pytest's ``runtestprotocol`` for an item whose phases are called directly."""
    ihook = item.ihook
    check_interactive_exception = internals.check_interactive_exception
    setup_state = item.session._setupstate
    # As pytest's call_and_report: Ctrl-C stops the run unless --pdb is to catch it.
    reraise: tuple[type[BaseException], ...] = (pytest.exit.Exception,)
    if not item.config.getoption("usepdb", False):
        reraise += (KeyboardInterrupt,)

    def phase(when: Any, func: Callable[[], None]) -> pytest.TestReport:
        call = pytest.CallInfo.from_call(func, when=when, reraise=reraise)
        report: pytest.TestReport = ihook.pytest_runtest_makereport(item=item, call=call)
        ihook.pytest_runtest_logreport(report=report)
        if check_interactive_exception(call, report):
            ihook.pytest_exception_interact(node=item, call=call, report=report)
        return report

    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    if phase("setup", lambda: setup_state.setup(item)).passed:
        phase("call", item.runtest)
    if item.session.shouldfail or item.session.shouldstop:
        nextitem = None  # as pytest does: tear everything down so teardown errors are reported
    phase("teardown", lambda: setup_state.teardown_exact(nextitem))
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)


class LeanProtocol:
    def __init__(self, internals: Internals) -> None:
        self.internals = internals
        self._phases_hooked: dict[Path, bool] = {}
        self.enabled = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not hasattr(session, "_setupstate"):  # pytest's runner sets it in its own sessionstart
            warn_fallback(session.config, ["Session._setupstate"])
            self.enabled = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        instance_item = instance_item_type()
        if (
            not self.enabled
            or instance_item is None
            or not isinstance(item, instance_item)
            or needs_full_protocol(item)
        ):
            return None
        hooked = self._phases_hooked.get(item.path)
        if hooked is None:  # conftests apply per directory: asked once per suite file
            hooked = self._phases_hooked[item.path] = phases_hooked_elsewhere(item.ihook)
        if hooked:
            return None
        run_phases(item, nextitem, self.internals)
        return True
