"""The pytest and pytest-xdist internals the fast path relies on, found once at configure.

Private names change without notice between releases. Each one is looked up here; when any is
missing the fast path stays off for the session and says so in ONE warning, and the run takes
pytest's plain path, with the same results.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import pytest


class MedhelmFastpathWarning(pytest.PytestWarning):
    """The fast path is off: an internal of pytest or pytest-xdist it relies on is missing."""


@dataclasses.dataclass(frozen=True)
class Internals:
    # _pytest.runner.check_interactive_exception(call, report): does --pdb want this phase?
    check_interactive_exception: Callable[[Any, Any], bool]


def attribute(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def find_internals(config: pytest.Config, *, with_scheduler: bool) -> tuple[Internals | None, list[str]]:
    """The internals, or None and the dotted names of those that are missing."""
    missing: list[str] = []
    check = attribute("_pytest.runner", "check_interactive_exception")
    if not callable(check):
        missing.append("_pytest.runner.check_interactive_exception")
    setup_state = attribute("_pytest.runner", "SetupState")  # what session._setupstate holds
    for method in ("setup", "teardown_exact"):
        if not callable(getattr(setup_state, method, None)):
            missing.append(f"_pytest.runner.SetupState.{method}")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not isinstance(getattr(reporter, "stats", None), dict):
        missing.append("TerminalReporter.stats")
    if with_scheduler:
        missing += _missing_in_scheduler(config)
    if missing:
        return None, missing
    return Internals(check_interactive_exception=check), []


def _missing_in_scheduler(config: pytest.Config) -> list[str]:
    """What the round-robin schedule uses of xdist's LoadScheduling (a throwaway one is built)."""
    try:
        from xdist.scheduler import LoadScheduling

        probe = LoadScheduling(config)
    except Exception:  # noqa: BLE001 - any failure means the schedule cannot be built on it
        return ["xdist.scheduler.LoadScheduling"]
    names = ("_check_nodes_have_same_collection", "node2pending", "pending", "node2collection", "collection")
    return [f"xdist.scheduler.LoadScheduling.{name}" for name in names if not hasattr(probe, name)]


PLAIN_PATH = "the run takes pytest's plain path (same results, slower"
PLAIN_ROOTDIR = "an option of ours given with a space may move the rootdir, as in plain pytest (the = form does not"


def warn_fallback(config: pytest.Config, missing: list[str], *, consequence: str = PLAIN_PATH) -> None:
    if hasattr(config, "workerinput"):
        # A worker runs the controller's pytest and xdist, and the controller says it once for
        # the session: xdist would show every worker's copy of the warning too.
        return
    versions = f"pytest {pytest.__version__}"
    try:
        from importlib.metadata import version

        versions += f", pytest-xdist {version('pytest-xdist')}"
    except Exception:  # noqa: BLE001 - xdist is optional
        pass
    config.issue_config_time_warning(
        MedhelmFastpathWarning(
            f"medhelm_fastpath: not found in {versions}: {', '.join(missing)}; {consequence}; "
            "-p no:medhelm_fastpath turns the fast path off without this warning)"
        ),
        stacklevel=2,
    )
