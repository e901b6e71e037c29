"""pytest-xdist glue: a static round-robin schedule, so each worker knows its share up front, and
the workers' way to the controller's engine process.

xdist's default ``load`` schedule hands items out in growing batches, so a worker cannot know
which items to queue on its engine. With MedHELM items we instead send worker k every item i with
``i % workers == k`` at once; the worker queues exactly those (``MedhelmPlugin._my_items``), so no
request is made twice and every worker keeps its share of the concurrency busy. Registered only
when xdist is installed, since these hooks do not exist without it.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScheduling

from pytest_medhelm.plugin.session import ENGINE_ADDRESS_KEY, PARTITION_KEY, plugin_key, worker_index

# os.nice increment of workers served by the engine process (see pytest_xdist_setupnodes).
WORKER_NICENESS = "5"


class MedhelmScheduling(LoadScheduling):
    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:  # a replacement worker after a crash: default behaviour
            for node in self.nodes:
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = next(iter(self.node2collection.values()))
        nodes = sorted(self.nodes, key=lambda node: worker_index(str(node.gateway.id)))
        for index, node in enumerate(nodes):
            share = list(range(index, len(self.collection), len(nodes)))
            if share:
                self.node2pending[node].extend(share)
                node.send_runtest_some(share)
        self.pending[:] = []
        for node in nodes:
            node.shutdown()


class XdistGlue:
    def __init__(self, active: bool) -> None:
        self.active = active

    def _ours(self, config: pytest.Config) -> bool:
        return self.active and config.getoption("dist", "no") == "load"

    @pytest.hookimpl(trylast=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> LoadScheduling | None:
        return MedhelmScheduling(config, log) if self._ours(config) else None

    def pytest_xdist_setupnodes(self, config: pytest.Config, specs: list[Any]) -> None:
        # Workers that call through the controller's engine process only wait on its answers, so
        # their start-up (a second of CPU each) must not take a core the engine process needs to
        # keep the model server busy: they run at a lower priority. A spec that names its own
        # (``--tx 4*popen//nice=0``) keeps it.
        if config.stash[plugin_key].engine_address is not None:
            for spec in specs:
                if spec.popen and spec.nice is None:
                    spec.nice = WORKER_NICENESS

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[PARTITION_KEY] = self._ours(node.config)
        address = node.config.stash[plugin_key].engine_address
        if address is not None:
            node.workerinput[ENGINE_ADDRESS_KEY] = address

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        node.config.stash[plugin_key].confirm_plan(ids)
