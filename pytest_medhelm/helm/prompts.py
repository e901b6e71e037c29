"""Which words a benchmark sends: HELM's, read from its package, or our own fallback.

The package is chosen once per process (:func:`use`, called by the plugin and the ``medhelm``
command with the data mirror; without a call, only the download cache is searched). A benchmark
that names its HELM run spec (``helm_prompt``) then gets HELM's instructions, nouns, max tokens,
temperature and stop sequences; without the package it keeps its own declarations and every
output says ``own``. Suite modules read scenario-level strings (a preamble, an instance template)
through :func:`scenario_value`, which returns None without the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_medhelm.helm.runspecs import adapter_strings
from pytest_medhelm.helm.wheel import HelmPackage, locate_wheel

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark, RequestPlan

OWN = "own"
USER = "user"

_active: list[HelmPackage | None] = []  # empty until chosen: then one entry, the package or None
_plans: dict[tuple[int, str], RequestPlan] = {}


def use(data_dir: Path | str | None) -> HelmPackage | None:
    """Choose the package for this process: ``data_dir/helm/`` or the download cache.

    A wheel with the wrong hash raises :class:`~pytest_medhelm.helm.HelmPackageError`.
    """
    package = locate_wheel(data_dir)
    _active[:] = [package]
    _plans.clear()
    return package


def forget() -> None:
    """Undo :func:`use`: the next caller searches again."""
    _active.clear()
    _plans.clear()


def active() -> HelmPackage | None:
    """The chosen package (searched in the download cache alone if nothing chose one)."""
    if not _active:
        use(None)
    return _active[0]


def source() -> str:
    """``helm-0.5.16`` when HELM's package is in use, else ``own``."""
    package = active()
    return package.source_name if package is not None else OWN


def cache_key() -> str:
    """What instance caches depend on: the wheel's hash, or ``own``."""
    package = active()
    return package.sha256 if package is not None else OWN


def scenario_value(module: str, qualname: str | None, name: str) -> Any:
    """A string of a HELM scenario file, or None without HELM's package.

    ``scenario_value("race_based_med_scenario", "RaceBasedMedScenario.create_benchmark", "prompt")``
    is the local ``prompt`` of that method; ``qualname=None`` reads a module- or class-level
    assignment (``"Class.NAME"``).
    """
    package = active()
    if package is None:
        return None
    strings = package.module(f"helm/benchmark/scenarios/{module}.py")
    return strings.assignment(name) if qualname is None else strings.function(qualname)[name]


def request_plan(benchmark: Benchmark) -> RequestPlan:
    from pytest_medhelm.benchmark import Prompt, RequestPlan

    package = active()
    key = (id(benchmark), package.sha256 if package is not None else OWN)
    plan = _plans.get(key)
    if plan is None:
        if benchmark.helm_prompt is None:
            plan = RequestPlan(benchmark.prompt, benchmark.max_tokens, source=USER)
        elif package is None:
            plan = RequestPlan(benchmark.prompt, benchmark.max_tokens, source=OWN)
        else:
            adapter = adapter_strings(package, benchmark.helm_prompt)
            plan = RequestPlan(
                Prompt.from_helm(adapter),
                adapter.max_tokens,
                adapter.temperature,
                # HELM's multiple-choice adapter sends no stop sequences whatever its spec says.
                () if adapter.multiple_choice else adapter.stop_sequences,
                package.source_name,
            )
        _plans[key] = plan
    return plan
