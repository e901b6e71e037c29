"""The end of the session, imported while the items run.

Writing the results (``results.json``, the leaderboard's Markdown, HTML and JUnit files) imports
about a second of modules (numpy, pydantic's models, the leaderboard), in the process that writes
them: the single process, or the xdist controller. During the run that process mostly waits on the
model server or on its workers, so a background thread imports them then, and the session's end
only has to write.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence

import pytest

END_OF_SESSION_MODULES = (
    "numpy",
    "pytest_medhelm.results",
    "pytest_medhelm.leaderboard.build",
    "pytest_medhelm.leaderboard.outputs",
    "pytest_medhelm.leaderboard.markdown",
    "pytest_medhelm.leaderboard.html",
    "pytest_medhelm.leaderboard.junit",
)
# The jury's agreement statistics (ICC on scipy.special), when an item is judged.
JURY_MODULES = ("scipy.special", "pytest_medhelm.jury.stats")


def import_quietly(modules: Sequence[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the session's end imports it again and reports what is wrong
            return


class EndOfSessionWarmup:
    """Starts the imports when the run loop starts; the session's end waits for them to finish."""

    def __init__(
        self,
        modules: Sequence[str] = END_OF_SESSION_MODULES,
        jury_modules: Sequence[str] = JURY_MODULES,
        *,
        jury_on: bool = True,
    ) -> None:
        self.modules = tuple(modules)
        self.jury_modules = tuple(jury_modules) if jury_on else ()
        self.thread: threading.Thread | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if session.config.option.collectonly or self.thread is not None:
            return
        from pytest_medhelm.plugin.jury import needs_jury

        judged = self.jury_modules and any(
            needs_jury(benchmark) for item in session.items if (benchmark := getattr(item, "benchmark", None))
        )
        modules = self.modules + (self.jury_modules if judged else ())
        self.thread = threading.Thread(
            target=import_quietly, args=(modules,), name="medhelm-end-of-session-imports", daemon=True
        )
        self.thread.start()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # The import lock would make the writer wait for a half-done import anyway; waiting here
        # keeps the order plain (and a pytester session's module cleanup after it).
        if self.thread is not None:
            self.thread.join()


__all__ = ["END_OF_SESSION_MODULES", "JURY_MODULES", "EndOfSessionWarmup", "import_quietly"]
