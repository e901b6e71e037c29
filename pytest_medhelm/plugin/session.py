"""The session's MedHELM state: settings, models and data settings, with the engine holder and the
pipeline start it owns (``engine_holder``, ``pipeline``; collection hooks are in ``collection``).

Stored under ``plugin_key`` in ``pytest_configure``. Every pytest run with the plugin installed
loads this module, MedHELM or not: the registry, the engine, the data loaders and the items are
imported when a session first needs them, so a plain test run does not pay for them (pydantic,
asyncio and the rest cost a third of a second).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from pytest_medhelm.plugin.engine_holder import EngineHolder
from pytest_medhelm.plugin.options import Settings
from pytest_medhelm.plugin.pipeline import PipelineStart

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark
    from pytest_medhelm.data import DataSettings, LoadedBenchmark
    from pytest_medhelm.engine import Engine
    from pytest_medhelm.evaluate import Outcome
    from pytest_medhelm.models import ModelConfig, ModelRegistry
    from pytest_medhelm.plugin.items import InstanceItem
    from pytest_medhelm.plugin.jury import SessionJury

plugin_key = pytest.StashKey["MedhelmPlugin"]()
# Could -k/-m select any item of this collector? Set by the fast path (it reads pytest's private
# expression parser); without it, --medhelm-download fetches every benchmark it collects.
download_selector_key = pytest.StashKey[Callable[[pytest.Collector], bool]]()


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
            names = [model.name for model in self.models]
            if len(set(names)) < len(names):
                twice = sorted({name for name in names if names.count(name) > 1})
                raise pytest.UsageError(
                    f"medhelm: two --medhelm-model entries are both called {', '.join(twice)}: "
                    "give each endpoint a NAME of its own (NAME@URL)"
                )
        if settings.active:
            from pytest_medhelm.helm import HelmPackageError, use

            try:  # HELM's package for the prompts: the mirror's copy or the download cache's
                use(settings.data_dir)
            except HelmPackageError as exc:
                raise pytest.UsageError(f"medhelm: {exc}") from None
        self._data: DataSettings | None = None
        self.holder = EngineHolder(config, settings, self.models)
        self.pipeline = PipelineStart(config, self.holder)
        self._jury: SessionJury | None | bool = False  # False: not built yet
        if settings.jury and self.registry is not None:
            self.jury  # noqa: B018 - judges named on the command line are checked now

    @property
    def data(self) -> DataSettings:
        if self._data is None:
            from pytest_medhelm.data import DataSettings

            self._data = DataSettings(
                data_dir=self.settings.data_dir, download=self.settings.download, paths=self.settings.data_paths
            )
        return self._data

    def load(self, benchmark: Benchmark, *, download: bool = True) -> LoadedBenchmark:
        from dataclasses import replace

        from pytest_medhelm.data import load

        settings = self.data if download or not self.data.download else replace(self.data, download=False)
        return load(benchmark, settings, cap=self.settings.max_instances)

    @property
    def engine(self) -> Engine:
        return self.holder.engine

    @property
    def concurrency(self) -> int:
        return self.holder.concurrency

    def outcome_for(self, item: InstanceItem) -> Outcome:
        return self.pipeline.outcome_for(item)

    @property
    def jury(self) -> SessionJury | None:
        """The session's LLM jury (built on first use), or None with ``--medhelm-jury none``."""
        if self._jury is False:
            self._jury = None
            if self.settings.jury != () and self.registry is not None:
                from pytest_medhelm.plugin.jury import SessionJury

                self._jury = SessionJury(self.registry, self.settings.jury, self.settings.data_dir)
                # The judges call out: the engine opens the response cache for them too.
                self.holder.jury_models = [judge.model for judge in self._jury.judges]
        return self._jury  # type: ignore[return-value]

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.settings.active:
            from pytest_medhelm.helm.prompts import forget

            forget()  # a later session in this process (pytester) chooses its own package

    def register(self) -> None:
        """Register the session's hook-carrying parts and start the engine process early: started
        at configure, the child imports its HTTP client on the other core while pytest collects."""
        manager = self.config.pluginmanager
        manager.register(self, "medhelm-session")
        manager.register(self.holder, "medhelm-engine")
        manager.register(self.pipeline, "medhelm-pipeline")
        from pytest_medhelm.plugin.collection import BenchmarkCollection

        manager.register(BenchmarkCollection(), "medhelm-collection")
        from pytest_medhelm.plugin.jury import JuryKeyGate

        manager.register(JuryKeyGate(self), "medhelm-jury-keys")
        if self.settings.estimate:
            from pytest_medhelm.plugin.estimate import CostEstimate

            manager.register(CostEstimate(self.config), "medhelm-estimate")
        if self.holder.placement == "child" and not self.config.option.collectonly and not self.settings.estimate:
            self.holder.engine  # noqa: B018
