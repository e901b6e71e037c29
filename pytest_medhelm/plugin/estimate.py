"""``--medhelm-estimate``: the expected cost of the selected items, printed once, and nothing sent.

Every selected item is deselected once its expected tokens are counted, so no item runs and no
request is made (the engine process is not even started). Under xdist every worker collects every
item: each counts its round-robin share of the instance items and hands its rows to the controller
(``workeroutput``), which adds them up and prints them. The rows keep token counts and prices, so
the figures are those of one process to the last digit.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pytest

from pytest_medhelm.plugin.pipeline import instance_item_type
from pytest_medhelm.plugin.roles import worker_share

if TYPE_CHECKING:
    from pytest_medhelm.leaderboard.cost import EstimateRow

# workeroutput key: a worker's estimate rows, as dicts.
ESTIMATE_KEY = "medhelm_estimate"


class CostEstimate:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: list[EstimateRow] = []

    @pytest.hookimpl(trylast=True)  # after -k, -m and every other plugin's selection
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        from pytest_medhelm.leaderboard.cost import estimate

        instance_item = instance_item_type()
        chosen: list[Any] = [item for item in items if instance_item is not None and isinstance(item, instance_item)]
        share = worker_share(config)
        if share is not None:
            index, count = share
            chosen = chosen[index::count]
        self.rows = estimate((item.benchmark, item.instance, item.model) for item in chosen)
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[ESTIMATE_KEY] = [asdict(row) for row in self.rows]
        # Nothing runs: every selected item is deselected, so no request is ever made.
        config.hook.pytest_deselected(items=list(items))
        items[:] = []

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: the controller gets a worker's rows
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        from pytest_medhelm.leaderboard.cost import EstimateRow, merge

        rows = getattr(node, "workeroutput", {}).get(ESTIMATE_KEY) or []
        self.rows = merge([*self.rows, *(EstimateRow(**row) for row in rows)])

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if worker_share(self.config) is None:
            from pytest_medhelm.leaderboard.cost import estimate_lines

            for line in estimate_lines(self.rows):
                terminalreporter.write_line(line)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Everything deselected on purpose: not a run that found nothing.
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK
