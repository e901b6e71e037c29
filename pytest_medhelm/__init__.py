"""pytest-medhelm: the MedHELM medical LLM evaluation suite as pytest test suites.

Data flows sources -> instances -> prompts -> model engine -> metrics -> aggregation -> reports;
the pytest glue lives in :mod:`pytest_medhelm.plugin`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark, Instance, Prompt, ScoreContext
    from pytest_medhelm.data.owner import PANDAS_NA_VALUES, find_file, import_pyarrow, read_csv
    from pytest_medhelm.data.sources import (
        DataError,
        DataUnavailable,
        DataWarning,
        Fetcher,
        Record,
        Source,
        read_jsonl,
        warn_row,
    )

__version__ = "0.1.0"

# Imported on first use (PEP 562): pytest imports this package at every start-up, MedHELM run or not.
# Suite modules import only these names (and the subpackages scorers, metrics and helm).
_PUBLIC = {
    "Benchmark": "benchmark",
    "Instance": "benchmark",
    "Prompt": "benchmark",
    "ScoreContext": "benchmark",
    "DataError": "data.sources",
    "DataUnavailable": "data.sources",
    "Fetcher": "data.sources",
    "DataWarning": "data.sources",
    "Record": "data.sources",
    "Source": "data.sources",
    "read_jsonl": "data.sources",
    "warn_row": "data.sources",
    "find_file": "data.owner",
    "import_pyarrow": "data.owner",
    "read_csv": "data.owner",
    "PANDAS_NA_VALUES": "data.owner",
}
# Shared mechanisms of several suite modules, as modules: ``shc.benchmark(...)``, ``tokens.count``.
_MODULES = {"shc": "data.shc", "mtsamples": "data.mtsamples", "tokens": "data.tokens"}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(f"pytest_medhelm.{_PUBLIC[name]}"), name)
    if name in _MODULES:
        import importlib

        return importlib.import_module(f"pytest_medhelm.{_MODULES[name]}")
    raise AttributeError(f"module 'pytest_medhelm' has no attribute {name!r}")


__all__ = [
    "Benchmark",
    "DataError",
    "DataUnavailable",
    "DataWarning",
    "Fetcher",
    "Instance",
    "Prompt",
    "Record",
    "PANDAS_NA_VALUES",
    "ScoreContext",
    "Source",
    "__version__",
    "find_file",
    "import_pyarrow",
    "mtsamples",
    "read_csv",
    "read_jsonl",
    "shc",
    "tokens",
    "warn_row",
]
