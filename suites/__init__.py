"""The built-in MedHELM benchmarks: one module per benchmark, ``<category>/test_<id>.py``.

Each module declares ``BENCHMARK`` and nothing else; the plugin turns its instances into items.
The plugin asks this module, at every file pytest considers, whether it is a benchmark: a
built-in suite module, or a hospital's own ``*.medhelm.yaml`` (see ``configurable``).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark

SUITES_DIR = Path(__file__).resolve().parent
USER_BENCHMARK_SUFFIX = ".medhelm.yaml"


def is_user_benchmark(path: Path) -> bool:
    return Path(path).name.endswith(USER_BENCHMARK_SUFFIX)


def is_suite_module(path: Path) -> bool:
    path = Path(path).resolve()
    return path.name.startswith("test_") and path.suffix == ".py" and path.parent.parent == SUITES_DIR


def module_name(path: Path) -> str:
    relative = Path(path).resolve().relative_to(SUITES_DIR).with_suffix("")
    return ".".join((__name__, *relative.parts))


def load_benchmark(path: Path) -> Benchmark:
    from pytest_medhelm.benchmark import Benchmark

    module = importlib.import_module(module_name(path))
    benchmark = getattr(module, "BENCHMARK", None)
    if not isinstance(benchmark, Benchmark):
        raise TypeError(f"{path}: a suite module must define BENCHMARK = Benchmark(...)")
    return benchmark


def declaring_module(benchmark: Benchmark) -> ModuleType | None:
    """The imported suite module whose ``BENCHMARK`` is ``benchmark`` (its source keys instance caches)."""
    for name, module in list(sys.modules.items()):
        if name.startswith(__name__ + ".") and getattr(module, "BENCHMARK", None) is benchmark:
            return module
    return None


def suite_files() -> list[Path]:
    return sorted(SUITES_DIR.glob("*/test_*.py"))


def all_benchmarks() -> list[Benchmark]:
    return [load_benchmark(path) for path in suite_files()]
