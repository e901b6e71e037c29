"""The session's one :class:`~pytest_medhelm.engine.Engine`: where its model calls run, created
when first needed, closed when the session ends.

Where the calls run (``placement``): in a child process of this one (``child``: a single process,
whose pytest thread then does not share a GIL with the HTTP client), through another process's
engine process (``shared``: an xdist worker told so by the fast path), or in this process
(``here``: baseline models only, no Unix sockets, or an xdist worker or controller on the plain
path; a controller runs no items, so it never creates one).

``--medhelm-budget`` is held where the requests are sent: by the engine process (the whole
session's, shared by every worker it serves) or by this process's engine (a worker's that runs
``here`` holds an equal share: see :mod:`pytest_medhelm.engine.budget`).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import pytest

from pytest_medhelm.plugin.options import Settings
from pytest_medhelm.plugin.roles import is_xdist_controller, worker_share

if TYPE_CHECKING:
    from pytest_medhelm.engine import Engine, ResponseCache
    from pytest_medhelm.engine.budget import Budget
    from pytest_medhelm.engine.process import EngineConnection
    from pytest_medhelm.models import ModelConfig


class EngineHolder:
    def __init__(self, config: pytest.Config, settings: Settings, models: list[ModelConfig]) -> None:
        self.config = config
        self.settings = settings
        self.models = models
        # The LLM jury's judges (set when the jury is built, during collection): they call out too.
        self.jury_models: list[ModelConfig] = []
        self._engine: Engine | None = None
        self._connection: EngineConnection | None = None
        self._shared_address: str | None = None
        self._serves_workers = False

    @property
    def concurrency(self) -> int:
        """Requests in flight per model that this process asks for: the session's budget, split
        across workers (an engine process that serves them all holds the whole budget itself)."""
        share = worker_share(self.config)
        workers = share[1] if share else 1
        return max(1, math.ceil(self.settings.concurrency / workers))

    @property
    def calls_network_models(self) -> bool:
        """Does a model or a judge known now call out? (Judges named with --medhelm-jury are known
        at configure time; MedHELM's default judges only once a benchmark needs them.)"""
        return os.name == "posix" and any(m.provider != "baseline" for m in [*self.models, *self.jury_models])

    @property
    def placement(self) -> str:
        if not self.calls_network_models:
            return "here"
        if worker_share(self.config) is not None:
            return "shared" if self._shared_address else "here"
        if is_xdist_controller(self.config):
            return "child" if self._serves_workers else "here"
        return "child"

    def use_shared_process(self, address: str) -> None:
        """An xdist worker: send the model calls to the engine process listening at ``address``."""
        if self._engine is not None:
            raise RuntimeError("medhelm: the engine is already running in this process")
        self._shared_address = address

    def serve_workers(self) -> None:
        """An xdist controller: start an engine process now that this machine's workers can call
        through (a no-op when no model needs the network)."""
        if self.calls_network_models and self._engine is None:
            self._serves_workers = True
            self.engine  # noqa: B018

    @property
    def budget_split(self) -> bool:
        """Does each xdist worker hold a share of the budget (its own engine), not the session one?"""
        if self.settings.budget_usd is None:
            return False
        if worker_share(self.config) is not None:
            return self.placement == "here"
        return is_xdist_controller(self.config) and not self._serves_workers

    def _budget(self) -> Budget | None:
        """The budget of an engine running here: the session's, or a worker's share of it."""
        if self.settings.budget_usd is None:
            return None
        from pytest_medhelm.engine.budget import Budget

        share = worker_share(self.config)
        return Budget(self.settings.budget_usd, workers=share[1] if share else 1)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from pytest_medhelm.engine import Engine

            placement = self.placement
            # Opened here even when a child will use it: a bad file is named before anything is paid for.
            cache = self._open_cache() if placement != "shared" else None
            if placement == "here":
                self._engine = Engine(
                    concurrency=self.concurrency,
                    cache=cache,
                    include_text=self.settings.include_text,
                    budget=self._budget(),
                )
            else:
                from pytest_medhelm.engine.process import EngineConnection, EngineProcess

                if placement == "shared":
                    assert self._shared_address is not None
                    self._connection = EngineConnection(self._shared_address)
                else:
                    if cache is not None:
                        cache.close()
                    self._connection = EngineProcess(
                        concurrency=self.concurrency,
                        cache=self.settings.cache,
                        listen=self._serves_workers,
                        include_text=self.settings.include_text,
                        budget_usd=self.settings.budget_usd,
                    )
                self._engine = Engine(concurrency=self.concurrency, process=self._connection)
        return self._engine

    def _open_cache(self) -> ResponseCache | None:
        from pytest_medhelm.engine import CacheError, ResponseCache

        if self.settings.cache is None or all(m.provider == "baseline" for m in [*self.models, *self.jury_models]):
            return None
        try:
            cache = ResponseCache(self.settings.cache)
        except CacheError as exc:
            raise pytest.UsageError(f"medhelm: response cache {exc}") from None
        for warning in cache.warnings:
            self.config.issue_config_time_warning(pytest.PytestWarning(f"medhelm: {warning}"), stacklevel=2)
        return cache

    @property
    def connection(self) -> EngineConnection | None:
        """This session's link to an engine process, once the engine runs in one."""
        return self._connection

    @property
    def address(self) -> str | None:
        """The Unix socket of the engine process this session started for its workers."""
        return self._connection.address if self._connection is not None and self._serves_workers else None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
