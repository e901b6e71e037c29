"""What a finished session costs the garbage collector and the terminal's failure scan.

GC freeze: everything collected lives until the end of the session, so it is moved to the GC's
permanent generation when the run loop starts (the cyclic GC's full scans otherwise walk every
item and instance again each time reports pile up: half the time spent in them at 2,000 items),
and the session's objects (an xdist controller holds every worker's reports) are frozen again at
the end, so pytest's last collections and the interpreter's exit skip them (a quarter of a second
at 2,000 items). A process that starts another session (pytester, an IDE) gets the previous one
back in the GC's care when it does.

Report pruning: see :func:`prune_silent_phase_reports`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pytest_medhelm.plugin.session import MedhelmPlugin

_frozen_session = False


def freeze_session() -> None:
    global _frozen_session
    gc.freeze()
    _frozen_session = True


def release_frozen_session() -> None:
    global _frozen_session
    if _frozen_session:
        gc.unfreeze()
        _frozen_session = False


def prune_silent_phase_reports(config: pytest.Config) -> None:
    """Drop passed setup/teardown reports that captured nothing from the terminal's statistics.

    pytest prints a failure's teardown output by scanning every passed setup and teardown report
    of the session, once per failure: quadratic, and minutes at MedHELM's scale (thousands of
    low-score items among tens of thousands), in the controller and in every xdist worker alike.
    Those reports are kept only for that scan, and one without captured sections prints nothing in
    it, so dropping them changes no output.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", None)
    if isinstance(stats, dict) and stats.get(""):
        stats[""] = [report for report in stats[""] if getattr(report, "sections", True)]


class SessionMemory:
    def __init__(self, session: MedhelmPlugin) -> None:
        self.session = session

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Iterator[None]:
        if self.session.pipeline.my_items(session) and not session.config.option.collectonly:
            freeze_session()
        return (yield)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        prune_silent_phase_reports(session.config)

    @pytest.hookimpl(tryfirst=True)  # before pytest's own gc.collect() (unraisableexception) walks it all
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.session.models:
            freeze_session()
