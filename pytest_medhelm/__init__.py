"""pytest-medhelm: the MedHELM medical LLM evaluation suite as pytest test suites.

Data flows sources -> instances -> prompts -> model engine -> metrics -> aggregation -> reports;
the pytest glue lives in :mod:`pytest_medhelm.plugin`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark, Instance, Prompt, ScoreContext
    from pytest_medhelm.data.sources import DataError, Fetcher, Source

__version__ = "0.1.0"

# Imported on first use (PEP 562): pytest imports this package at every start-up, MedHELM run or not.
_PUBLIC = {"Benchmark": "benchmark", "Instance": "benchmark", "Prompt": "benchmark", "ScoreContext": "benchmark",
           "DataError": "data.sources", "Fetcher": "data.sources", "Source": "data.sources"}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(f"pytest_medhelm.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'pytest_medhelm' has no attribute {name!r}")

__all__ = ["Benchmark", "DataError", "Fetcher", "Instance", "Prompt", "ScoreContext", "Source", "__version__"]
