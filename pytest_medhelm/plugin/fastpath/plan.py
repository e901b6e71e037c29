"""The xdist controller's head start: model calls planned before the workers are up.

Under ``-n N`` the controller is ready within half a second, while each worker takes about a second
more to start, collect and receive its items: time a model server would spend idle. So the
controller works out the requests of the items the workers are about to collect and hands them
to the session's engine process (see ``engine.process``), which starts them at once and keeps each
answer for the item that asks for it. The workers still collect, schedule and run every item as
pytest and xdist always do; they simply find their answers under way or waiting.

A plan must never cost a user calls they did not ask for, so it is made only where the
controller can tell exactly what will be collected:

- files named on the command line (a suite module or a ``*.medhelm.yaml``) and the built-in
  suites (``pytest --medhelm-model=...`` with no paths); not other directories, not node ids;
- no selection beyond the plugin's own: no ``-k``, ``-m``, ``--deselect``, ``--lf``, ``--sw``,
  ``--ignore``, no early stop (``-x``, ``--maxfail``), and no plugin or conftest of unknown kind
  reordering or deselecting items;
- benchmarks whose data is already on disk (a plan never downloads).

When the first worker reports its collection, planned calls of items it did not collect are
dropped (those not yet sent are cancelled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_medhelm.suites import SUITES_DIR, is_suite_module, is_user_benchmark, suite_files

if TYPE_CHECKING:
    from pytest_medhelm.models import ModelConfig, ModelRequest
    from pytest_medhelm.plugin.session import MedhelmPlugin

# pytest options that select items, or stop a run early (-x, --maxfail): with any of them set,
# what will be run is not known up front.
_SELECTING_OPTIONS = ("keyword", "markexpr", "deselect", "lf", "stepwise", "ignore", "ignore_glob", "maxfail",
                      "medhelm_maxfail")
# Plugins whose collection hooks select nothing beyond those options (pytest's own, xdist, ours).
_KNOWN_COLLECTION_HOOKS = ("_pytest.", "xdist.", "pytest_medhelm.")


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
    hooks = ("pytest_collection_modifyitems", "pytest_ignore_collect", "pytest_collect_file",
             "pytest_pycollect_makemodule", "pytest_collection")
    for name in hooks:
        for impl in getattr(config.hook, name).get_hookimpls():
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


def make_plan(plugin: MedhelmPlugin) -> Plan | None:
    """The calls the workers' items will make, in collection order; None when it cannot be known."""
    from pytest_medhelm.configurable import load_user_benchmark
    from pytest_medhelm.data import load
    from pytest_medhelm.evaluate import request_for
    from pytest_medhelm.plugin.items import item_name
    from pytest_medhelm.suites import load_benchmark

    models = [model for model in plugin.models if model.provider != "baseline"]
    if not models or selection_elsewhere(plugin.config):
        return None
    data = dataclasses.replace(plugin.data, download=False)
    calls: dict[str, tuple[ModelConfig, ModelRequest]] = {}
    for path in planned_files(plugin.config):
        try:
            benchmark = load_user_benchmark(path) if is_user_benchmark(path) else load_benchmark(path)
            if benchmark.requires_jury:
                continue
            loaded = load(benchmark, data, cap=plugin.settings.max_instances)
        except Exception:  # noqa: BLE001 - the workers collect it and report what is wrong
            continue
        for instance in loaded.instances:
            request = request_for(benchmark, instance)
            for model in models:
                calls[item_name(benchmark, instance, model)] = (model, request)
    return Plan(calls) if calls else None


__all__ = ["Plan", "make_plan", "planned_files", "selection_elsewhere"]
