"""The session's MedHELM state: models, data settings, the engine and the pipeline.

Registered in ``pytest_configure`` and stored under ``plugin_key``. Before the run loop starts it
queues every item this process will run (under xdist: this worker's share) on the engine, in item
order, so the model server is kept busy while pytest walks the items one at a time.

Every pytest run with the plugin installed loads this module, MedHELM or not: the registry, the
engine, the data loaders and the items are imported when a session first needs them, so a plain
test run does not pay for them (pydantic, asyncio and the rest cost a third of a second).
"""

from __future__ import annotations

import gc
import math
import os
import sys
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_medhelm.plugin.options import Settings
from pytest_medhelm.plugin.report import prune_silent_phase_reports
from pytest_medhelm.plugin.runner import needs_full_protocol, phases_hooked_elsewhere, run_phases
from pytest_medhelm.suites import is_suite_module, is_user_benchmark

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark
    from pytest_medhelm.data import DataSettings, LoadedBenchmark
    from pytest_medhelm.engine import Engine, ResponseCache
    from pytest_medhelm.engine.pipeline import Job, Pipeline
    from pytest_medhelm.engine.process import EngineConnection
    from pytest_medhelm.evaluate import Outcome
    from pytest_medhelm.models import ModelConfig, ModelRegistry
    from pytest_medhelm.plugin.items import InstanceItem
    from pytest_medhelm.plugin.plan import Plan

plugin_key = pytest.StashKey["MedhelmPlugin"]()

# workerinput flag set by the controller when its MedhelmScheduling hands out the items.
PARTITION_KEY = "medhelm_partition"
# workerinput key: the Unix socket of the controller's engine process, which serves every worker.
ENGINE_ADDRESS_KEY = "medhelm_engine"
# Evaluations started ahead of the item pytest is on, per request slot.
WINDOW_PER_SLOT = 4


def worker_index(worker_id: str) -> int:
    """``gw3`` -> 3: the controller's scheduler and the worker agree on shares by this number."""
    return int(worker_id[2:]) if worker_id[2:].isdigit() else 0


def _is_xdist_controller(config: pytest.Config) -> bool:
    return (worker_share(config) is None and getattr(config.option, "dist", "no") != "no"
            and bool(getattr(config.option, "tx", None)))


def _serves_local_workers(config: pytest.Config) -> bool:
    """Is this an xdist controller whose workers all run on this machine (``-n N`` or ``--tx
    popen``)? Only they can reach its engine process's Unix socket; workers elsewhere (``ssh=``,
    ``socket=``) make their calls themselves."""
    if not _is_xdist_controller(config):
        return False
    specs = config.option.tx
    # A spec reads [N*]popen[//key=value...]: its gateway type is the part before the first "//".
    return all(str(spec).split("//", 1)[0].rsplit("*", 1)[-1] == "popen" for spec in specs)


def worker_share(config: pytest.Config) -> tuple[int, int] | None:
    """(index, count) of this xdist worker, or None outside xdist."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    return worker_index(str(workerinput.get("workerid", "gw0"))), int(workerinput.get("workercount", 1))


class MedhelmPlugin:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.registry: ModelRegistry | None = None
        self.models: list[ModelConfig] = []
        if settings.models or settings.models_file is not None:
            from pytest_medhelm.models import ModelRegistry, RegistryError

            try:
                self.registry = ModelRegistry.load(settings.models_file)
                self.models = [self.registry.resolve(name) for name in settings.models]
            except RegistryError as exc:
                raise pytest.UsageError(f"medhelm: {exc}") from None
        if settings.active:
            from pytest_medhelm.helm import HelmPackageError, use

            try:  # HELM's package for the prompts: the mirror's copy or the download cache's
                use(settings.data_dir)
            except HelmPackageError as exc:
                raise pytest.UsageError(f"medhelm: {exc}") from None
        self._data: DataSettings | None = None
        self._engine: Engine | None = None
        self._pipeline: Pipeline | None = None
        self._queued: set[int] = set()
        self._connection: EngineConnection | None = None
        self._plan: Plan | None = None
        release_frozen_session()
        self._phases_hooked: dict[Path, bool] = {}
        if self._calls_placement() != "here" and not config.option.collectonly:
            # Started now, the child imports its HTTP client on the other core while pytest collects.
            self.engine  # noqa: B018

    # -- data and engine --------------------------------------------------------------------------

    @property
    def data(self) -> DataSettings:
        if self._data is None:
            from pytest_medhelm.data import DataSettings

            self._data = DataSettings(data_dir=self.settings.data_dir, download=self.settings.download,
                                      paths=self.settings.data_paths)
        return self._data

    def load(self, benchmark: Benchmark) -> LoadedBenchmark:
        from pytest_medhelm.data import load

        return load(benchmark, self.data, cap=self.settings.max_instances)

    @property
    def concurrency(self) -> int:
        """Requests in flight per model that this process asks for: the session's budget, split
        across workers (an engine process that serves them all holds the whole budget itself)."""
        share = worker_share(self.config)
        workers = share[1] if share else 1
        return max(1, math.ceil(self.settings.concurrency / workers))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from pytest_medhelm.engine import Engine, ResponseCache

            placement = self._calls_placement()
            # Opened here even when a child will use it: a bad file is named before anything is paid for.
            cache = self._open_cache() if placement != "shared" else None
            if placement == "here":
                self._engine = Engine(concurrency=self.concurrency, cache=cache)
            else:
                from pytest_medhelm.engine.process import EngineConnection, EngineProcess

                if placement == "shared":
                    self._connection = EngineConnection(self.config.workerinput[ENGINE_ADDRESS_KEY])  # type: ignore[attr-defined]
                else:
                    if cache is not None:
                        cache.close()
                    self._connection = EngineProcess(concurrency=self.concurrency, cache=self.settings.cache,
                                                     listen=_serves_local_workers(self.config))
                self._engine = Engine(concurrency=self.concurrency, process=self._connection)
        return self._engine

    def _open_cache(self) -> ResponseCache | None:
        from pytest_medhelm.engine import CacheError, ResponseCache

        if self.settings.cache is None or all(model.provider == "baseline" for model in self.models):
            return None
        try:
            cache = ResponseCache(self.settings.cache)
        except CacheError as exc:
            raise pytest.UsageError(f"medhelm: response cache {exc}") from None
        for warning in cache.warnings:
            self.config.issue_config_time_warning(pytest.PytestWarning(f"medhelm: {warning}"), stacklevel=2)
        return cache

    def _calls_placement(self) -> str:
        """Where this process's network model calls run: ``child``, a child process of its own (a
        single process, or an xdist controller, whose child then serves every local worker);
        ``shared``, the controller's child (an xdist worker); or ``here``, in-process (only
        baseline models, a platform without Unix sockets, a worker whose controller started no
        child, or a controller of remote workers, which calls nothing)."""
        if os.name != "posix" or all(model.provider == "baseline" for model in self.models):
            return "here"
        if worker_share(self.config) is not None:
            return "shared" if self.config.workerinput.get(ENGINE_ADDRESS_KEY) else "here"  # type: ignore[attr-defined]
        if _is_xdist_controller(self.config) and not _serves_local_workers(self.config):
            return "here"  # its workers are elsewhere and it runs no items: nothing to call
        return "child"

    @property
    def engine_address(self) -> str | None:
        """The Unix socket of this session's engine process, for xdist workers (controller only)."""
        return self._connection.address if self._connection is not None else None

    # -- the controller's plan (plugin.plan) --------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.engine_address is None or worker_share(self.config) is not None:
            return
        from pytest_medhelm.plugin.plan import make_plan

        self._plan = make_plan(self)
        if self._plan is not None:
            for model, requests in self._plan.by_model().values():
                self._on_engine(self._connection.plan(model, requests))  # type: ignore[union-attr]

    def confirm_plan(self, collected_ids: Sequence[str]) -> None:
        """A worker's collection: drop the planned calls of items it did not collect."""
        plan, self._plan = self._plan, None
        if plan is not None:
            for model, requests in plan.unneeded(collected_ids).values():
                self._on_engine(self._connection.drop(model, requests))  # type: ignore[union-attr]

    def _on_engine(self, coro: Coroutine[Any, Any, None]) -> None:
        # Not waited for: a child that is gone fails the items themselves, with a clear message.
        self.engine.submit(coro).add_done_callback(lambda done: done.cancelled() or done.exception())

    def _job(self, item: InstanceItem) -> Any:
        from pytest_medhelm.benchmark import ScoreContext
        from pytest_medhelm.evaluate import evaluate

        ctx = ScoreContext(data_dir=item.loaded.data_dir, engine=self.engine, model=item.model)
        return evaluate(item.benchmark, item.instance, item.model, self.engine, ctx)

    def outcome_for(self, item: InstanceItem) -> Outcome:
        if self._pipeline is not None and id(item) in self._queued:
            self._queued.discard(id(item))
            return self._pipeline.result(id(item))
        return self.engine.submit(self._job(item)).result()

    # -- hooks ----------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if is_suite_module(module_path):
            from pytest_medhelm.plugin.items import BenchmarkModule
            from pytest_medhelm.plugin.nodeids import suite_nodeid

            # Named by its place in the suites folder however it was selected, so that the ids
            # printed can be pasted back from anywhere (plugin/nodeids.py).
            return BenchmarkModule.from_parent(parent, path=module_path,
                                               nodeid=suite_nodeid(module_path, self.config.rootpath))
        return None

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if is_user_benchmark(file_path):
            from pytest_medhelm.plugin.items import UserBenchmarkFile

            return UserBenchmarkFile.from_parent(parent, path=file_path)
        return None

    def _my_items(self, session: pytest.Session) -> list[InstanceItem]:
        instance_item = _instance_item_type()
        if instance_item is None:
            return []
        items = list(session.items)
        share = worker_share(self.config)
        if share is not None:
            if not self.config.workerinput.get(PARTITION_KEY):  # type: ignore[attr-defined]
                return []  # another --dist mode: items are fetched one by one as they arrive
            # Must match the controller's MedhelmScheduling: item i runs on worker i % count.
            index, count = share
            items = items[index::count]
        return [item for item in items if isinstance(item, instance_item)]

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Iterator[None]:
        items = self._my_items(session) if not session.config.option.collectonly else []
        if items:
            from pytest_medhelm.engine.pipeline import Pipeline

            def jobs() -> Iterator[Job]:
                for item in items:
                    yield id(item), lambda item=item: self._job(item)

            self._queued = {id(item) for item in items}
            self._pipeline = Pipeline(self.engine, jobs(), window=self.concurrency * WINDOW_PER_SLOT).start()
            # Everything collected lives until the end: take it out of the cyclic GC's full scans,
            # which otherwise walk every item and instance again each time reports pile up (this
            # halves the time spent in them on 2,000 items).
            freeze_session()
        try:
            return (yield)
        finally:
            if self._pipeline is not None:
                self._pipeline.cancel()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        instance_item = _instance_item_type()
        if instance_item is None or not isinstance(item, instance_item) or needs_full_protocol(item):
            return None
        hooked = self._phases_hooked.get(item.path)
        if hooked is None:  # conftests apply per directory: asked once per suite file
            hooked = self._phases_hooked[item.path] = phases_hooked_elsewhere(item.ihook)
        if hooked:
            return None
        run_phases(item, nextitem)
        return True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        prune_silent_phase_reports(session.config)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.settings.active:
            from pytest_medhelm.helm.prompts import forget

            forget()  # a later session in this process (pytester) chooses its own package
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self.models:
            # Items and reports (an xdist controller holds every worker's): pytest's last
            # collections and the interpreter's exit then skip the whole session, which costs
            # them a quarter of a second at 2,000 items.
            freeze_session()


def _instance_item_type() -> type[InstanceItem] | None:
    """InstanceItem, once a benchmark has been collected (before that, no instance item exists)."""
    items = sys.modules.get("pytest_medhelm.plugin.items")
    return None if items is None else items.InstanceItem


# A session's objects are moved to the GC's permanent generation, and stay there when the session
# ends: a pytest process exits right after, and exits faster for it. A process that starts another
# session (pytester, an IDE) gets the previous one back in the GC's care when it does.
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
