"""Models: the registry, provider wire formats and the offline baselines."""

from pytest_medhelm.models.providers import ModelRequest, Usage
from pytest_medhelm.models.registry import ModelConfig, ModelRegistry, RegistryError

__all__ = ["ModelConfig", "ModelRegistry", "ModelRequest", "RegistryError", "Usage"]
