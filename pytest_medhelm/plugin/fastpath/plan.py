"""The head start: model calls planned before the items exist.

Under ``-n N`` the controller is ready within half a second, while each worker takes about a second
more to start, collect and receive its items: time a model server would spend idle. So the
controller works out the requests of the items the workers are about to collect and hands them
to the session's engine process (see ``engine.process``), which starts them at once and keeps each
answer for the item that asks for it. The workers still collect, schedule and run every item as
pytest and xdist always do; they simply find their answers under way or waiting. A single
process does the same before it collects (collecting the built-in suites takes a while too).

A plan must never cost a user calls they did not ask for, so it is made only where it can tell
exactly what will be collected, or a part of it:

- files named on the command line (a suite module or a ``*.medhelm.yaml``) and the built-in
  suites (``pytest --medhelm-model=...`` with no paths); not other directories, not node ids;
- ``-k`` and ``-m`` evaluated as pytest evaluates them (``selection``), an item planned only when
  it is selected whatever the names of the folders above it;
- no other selection: no ``--deselect``, ``--lf``, ``--sw``, ``--ignore``, no early stop (``-x``,
  ``--maxfail``), and no plugin or conftest of unknown kind reordering or deselecting items;
- benchmarks whose data is already on disk (a plan never downloads).

When the collection is known (the first worker's, or the single process's own), planned calls of
items not collected are dropped (those not yet sent are cancelled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Coroutine, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_medhelm.plugin.fastpath.selection import Selection, Unforeseeable
from pytest_medhelm.suites import SUITES_DIR, is_suite_module, is_user_benchmark, suite_files

if TYPE_CHECKING:
    from pytest_medhelm.models import ModelConfig, ModelRequest
    from pytest_medhelm.plugin.session import MedhelmPlugin

# pytest options that select items, or stop a run early (-x, --maxfail): with any of them set,
# what will be run is not known up front (-k and -m are evaluated: see fastpath.selection).
_SELECTING_OPTIONS = ("deselect", "lf", "stepwise", "ignore", "ignore_glob", "maxfail", "medhelm_maxfail")
# Plugins whose collection hooks select nothing beyond those options (pytest's own, xdist, ours).
_KNOWN_COLLECTION_HOOKS = ("_pytest.", "xdist.", "pytest_medhelm.")
# Planned calls sent to the engine process at once: the first leave while the rest are worked out.
CHUNK = 128


@dataclasses.dataclass
class Plan:
    """Planned calls by item name (the last part of the node id), per model."""

    calls: dict[str, tuple[ModelConfig, ModelRequest]]

    def by_model(self) -> dict[str, tuple[ModelConfig, list[ModelRequest]]]:
        return _grouped(self.calls.values())

    def unneeded(self, collected_ids: Iterable[str]) -> dict[str, tuple[ModelConfig, list[ModelRequest]]]:
        """The planned calls of items not in a worker's collection, grouped by model name."""
        # Split at the first "::": a model URL in the item name may hold one ([::1]).
        names = {node_id.split("::", 1)[-1] for node_id in collected_ids}
        return _grouped(call for name, call in self.calls.items() if name not in names)


def _grouped(calls: Iterable[tuple[ModelConfig, ModelRequest]]) -> dict[str, tuple[ModelConfig, list[ModelRequest]]]:
    grouped: dict[str, tuple[ModelConfig, list[ModelRequest]]] = {}
    for model, request in calls:
        grouped.setdefault(model.name, (model, []))[1].append(request)
    return grouped


def selection_elsewhere(config: pytest.Config) -> bool:
    """Could anything but the plugin's own settings narrow or change what workers collect?"""
    if any(config.getoption(name, None) for name in _SELECTING_OPTIONS):
        return True
    hooks = (
        "pytest_collection_modifyitems",
        "pytest_ignore_collect",
        "pytest_collect_file",
        "pytest_pycollect_makemodule",
        "pytest_collection",
    )
    for name in hooks:
        # The plugin manager's own callers: before pytest 9.1, config.hook wraps the path hooks
        # in plain functions, without get_hookimpls.
        for impl in getattr(config.pluginmanager.hook, name).get_hookimpls():
            if not str(getattr(impl.function, "__module__", "")).startswith(_KNOWN_COLLECTION_HOOKS):
                return True
    return False


def planned_files(config: pytest.Config) -> list[Path]:
    """Benchmark files certain to be collected: named ones and the built-in suites' own."""
    files: list[Path] = []
    for arg in config.args:
        if "::" in arg:
            continue  # a node id selects within its file
        path = (config.invocation_params.dir / arg).resolve()
        if path == SUITES_DIR:
            files += suite_files()
        elif path.parent == SUITES_DIR and path.is_dir():
            files += sorted(path.glob("test_*.py"))
        elif path.is_file() and (is_suite_module(path) or is_user_benchmark(path)):
            files.append(path)
    return list(dict.fromkeys(files))


class _JudgedWithoutKeys(Exception):
    """A selected item needs the jury, whose keys are missing: the session will stop at start."""


def plan_chunks(plugin: MedhelmPlugin) -> Iterator[dict[str, tuple[ModelConfig, ModelRequest]]] | None:
    """The session's planned calls in collection order, a few at a time, so that the first are
    sent while the rest are worked out; None when they cannot be known."""
    models = [model for model in plugin.models if model.provider != "baseline"]
    if not models or selection_elsewhere(plugin.config):
        return None
    settings = plugin.settings
    if settings.shard is not None or settings.budget_usd is not None or settings.estimate:
        return None  # a shard's slice, a spending limit, an estimate: calls the plan must not send
    try:
        selection = Selection.from_config(plugin.config)
    except Unforeseeable:
        return None
    jury = plugin.jury
    keys_missing = jury is not None and jury.missing_key_message() is not None
    chunks = _chunks(plugin, models, selection, keys_missing=keys_missing)
    if not keys_missing:
        return chunks
    try:  # the keys are missing: nothing may be sent before it is known that nothing is judged
        return iter(list(chunks))
    except _JudgedWithoutKeys:
        return None


def _chunks(
    plugin: MedhelmPlugin, models: list[ModelConfig], selection: Selection | None, *, keys_missing: bool
) -> Iterator[dict[str, tuple[ModelConfig, ModelRequest]]]:
    from pytest_medhelm.configurable import load_user_benchmark
    from pytest_medhelm.data import load
    from pytest_medhelm.evaluate import request_for
    from pytest_medhelm.plugin.items import benchmark_markers, item_name
    from pytest_medhelm.plugin.jury import needs_jury
    from pytest_medhelm.suites import load_benchmark

    data = dataclasses.replace(plugin.data, download=False)
    jury_off = plugin.jury is None
    chunk: dict[str, tuple[ModelConfig, ModelRequest]] = {}
    for path in planned_files(plugin.config):
        try:
            benchmark = load_user_benchmark(path) if is_user_benchmark(path) else load_benchmark(path)
            judged = needs_jury(benchmark)
            if judged and jury_off and benchmark.requires_jury:
                continue
            loaded = load(benchmark, data, cap=plugin.settings.max_instances)
        except Exception:  # noqa: BLE001 - the items' collection reports what is wrong
            continue
        markers = frozenset(marker.name for marker in benchmark_markers(benchmark))
        for instance in loaded.instances:
            request = request_for(benchmark, instance)
            for model in models:
                name = item_name(benchmark, instance, model)
                if selection is None or selection.selects(name, path, markers):
                    if judged and keys_missing:
                        raise _JudgedWithoutKeys(name)
                    chunk[name] = (model, request)
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = {}
    if chunk:
        yield chunk


class Planner:
    """Sends a plan to the session's engine process, and drops what the collection did not need."""

    def __init__(self, plugin: MedhelmPlugin) -> None:
        self.plugin = plugin
        self._plan: Plan | None = None

    def start_plan(self, plan: Plan | None = None) -> None:
        """Send the planned calls (by default, the session's :func:`plan_chunks`); each chunk
        starts as soon as it is worked out."""
        chunks = plan_chunks(self.plugin) if plan is None else [plan.calls]
        calls: dict[str, tuple[ModelConfig, ModelRequest]] = {}
        for chunk in chunks or ():
            calls.update(chunk)
            for model, requests in _grouped(chunk.values()).values():
                self._on_engine(self._connection.plan(model, requests))
        self._plan = Plan(calls) if calls else None

    def confirm_plan(self, collected_ids: Iterable[str]) -> None:
        """The collection: drop the planned calls of items not in it (the first one settles it)."""
        plan, self._plan = self._plan, None
        if plan is not None:
            for model, requests in plan.unneeded(collected_ids).values():
                self._on_engine(self._connection.drop(model, requests))

    @property
    def _connection(self) -> Any:
        return self.plugin.holder.connection

    def _on_engine(self, coro: Coroutine[Any, Any, None]) -> None:
        # Not waited for: a child that is gone fails the items themselves, with a clear message.
        self.plugin.engine.submit(coro).add_done_callback(lambda done: done.cancelled() or done.exception())


class SingleProcessPlan(Planner):
    """One process: the calls start before collection, the collection settles them."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.start_plan()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.confirm_plan(item.nodeid for item in session.items)


__all__ = ["Plan", "Planner", "SingleProcessPlan", "plan_chunks", "planned_files", "selection_elsewhere"]
