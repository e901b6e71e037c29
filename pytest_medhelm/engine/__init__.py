"""The model engine: async, cached, retrying; and the pipeline that keeps it busy."""

from pytest_medhelm.engine.cache import CacheError, ResponseCache
from pytest_medhelm.engine.core import (
    Completion,
    Engine,
    FatalModelError,
    ModelError,
    RetryPolicy,
)

__all__ = ["CacheError", "Completion", "Engine", "FatalModelError", "ModelError", "ResponseCache", "RetryPolicy"]
