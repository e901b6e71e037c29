"""pytest-xdist, fast: a static round-robin schedule, the controller's engine process serving every
local worker, the controller's plan, and the workers' lower CPU priority.

xdist's default ``load`` schedule hands items out in growing batches, so a worker cannot know
which items to queue on its engine. With MedHELM items we instead send worker k every item i with
``i % workers == k`` at once; the worker queues exactly those (``PipelineStart.share``), so no
request is made twice and every worker keeps its share of the concurrency busy. Registered only
when xdist is installed, since these hooks do not exist without it.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScheduling

from pytest_medhelm.plugin.fastpath.plan import Planner
from pytest_medhelm.plugin.roles import is_xdist_controller, worker_index

# workerinput flag set by the controller when its MedhelmScheduling hands out the items.
PARTITION_KEY = "medhelm_partition"
# workerinput key: the Unix socket of the controller's engine process, which serves every worker.
ENGINE_ADDRESS_KEY = "medhelm_engine"
# os.nice increment of workers served by the engine process (see pytest_xdist_setupnodes).
WORKER_NICENESS = "5"


def serves_local_workers(config: pytest.Config) -> bool:
    """Is this an xdist controller whose workers all run on this machine (``-n N`` or ``--tx
    popen``)? Only they can reach its engine process's Unix socket; workers elsewhere (``ssh=``,
    ``socket=``) make their calls themselves."""
    if not is_xdist_controller(config):
        return False
    specs = config.option.tx
    # A spec reads [N*]popen[//key=value...]: its gateway type is the part before the first "//".
    return all(str(spec).split("//", 1)[0].rsplit("*", 1)[-1] == "popen" for spec in specs)


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


class XdistFastpath(Planner):
    """The controller's side (the workers' is set up by the fast path's ``pytest_configure``)."""

    _partition: bool | None = None

    def _ours(self, config: pytest.Config) -> bool:
        """Does the round-robin schedule hand out the items? Decided once: the workers are told
        at start-up (``PARTITION_KEY``) and queue their share on it, so the scheduler that is
        built later must be the one they were promised."""
        if self._partition is None:
            self._partition = (
                self.plugin.settings.active
                and config.getoption("dist", "no") == "load"
                and not self._other_schedulers(config)
            )
        return self._partition

    def _other_schedulers(self, config: pytest.Config) -> bool:
        """Does a plugin or conftest besides xdist's own session offer a scheduler? Then it is
        theirs to hand the items out, and the workers queue nothing ahead."""
        for impl in config.pluginmanager.hook.pytest_xdist_make_scheduler.get_hookimpls():
            if impl.plugin is not self and not str(getattr(impl.function, "__module__", "")).startswith("xdist."):
                return True
        return False

    # tryfirst: xdist's own session answers this hook too (trylast, a plain LoadScheduling), and
    # between two trylast answers the plugins' registration order decides, which is the order
    # their entry points are found in site-packages (or `-p xdist`), not something to rely on.
    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> LoadScheduling | None:
        return MedhelmScheduling(config, log) if self._ours(config) else None

    def pytest_xdist_setupnodes(self, config: pytest.Config, specs: list[Any]) -> None:
        # Workers that call through the controller's engine process only wait on its answers, so
        # their start-up (a second of CPU each) must not take a core the engine process needs to
        # keep the model server busy: they run at a lower priority. A spec that names its own
        # (``--tx 4*popen//nice=0``) keeps it.
        if self.plugin.holder.address is not None:
            for spec in specs:
                if spec.popen and spec.nice is None:
                    spec.nice = WORKER_NICENESS

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[PARTITION_KEY] = self._ours(node.config)
        address = self.plugin.holder.address
        if address is not None:
            node.workerinput[ENGINE_ADDRESS_KEY] = address

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.plugin.holder.address is not None:
            self.start_plan()

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.confirm_plan(ids)
