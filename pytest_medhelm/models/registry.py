"""The model registry: which models exist, how to reach them, what they cost.

Validated with pydantic at the boundary. The built-in registry (``builtin.yaml``) holds the paper's
nine models, the three jury models and the offline baselines; a user file given with
``--medhelm-models-file`` is merged over it by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BUILTIN = Path(__file__).with_name("builtin.yaml")

# libyaml's loader where it is built in: both files are read at every pytest start-up.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: Seconds a reasoning model may think before its answer's first byte (o3-mini and DeepSeek-R1
#: at 4,000 output tokens take minutes on a busy day).
REASONING_TIMEOUT_S = 600.0


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, with the scheme's default port made explicit."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class RegistryError(Exception):
    """A models file that cannot be used; names the file, line and field."""


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    as_of: str = Field(description="date the prices were read, YYYY-MM-DD")
    source: str = ""

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_concurrency: int | None = Field(default=None, ge=1)
    requests_per_minute: int | None = Field(default=None, ge=1)


class Retry(BaseModel):
    """How hard to retry 429, 5xx, timeouts and dropped connections for this model."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_attempts: int = Field(default=6, ge=1)
    base_delay_s: float = Field(default=1.0, ge=0)
    max_delay_s: float = Field(default=60.0, ge=0)


class Reasoning(BaseModel):
    """Reasoning-model handling (spec 2, 7.5): one output budget everywhere, o-series parameters,
    DeepSeek-R1 ``<think>`` stripping."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_tokens: int = Field(default=4000, ge=1)
    openai_o_params: bool = False
    strip_think: bool = False


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    provider: Literal["openai", "anthropic", "baseline"]
    model: str = Field(min_length=1, description="the provider's model id")
    base_url: str | None = None
    api_key_env: str | None = None
    aliases: tuple[str, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict, description="generation defaults sent with every request")
    reasoning: Reasoning | None = None
    price: Price | None = None
    rate_limit: RateLimit = RateLimit()
    retry: Retry | None = None
    roles: tuple[str, ...] = ()
    # Seconds to wait for a byte of the answer (read), per attempt; connecting gets at most 30.
    # Non-streamed answers arrive whole, so this bounds the whole generation: 90 s covers 4,000
    # output tokens at 50 tokens a second. A reasoning model (``reasoning`` set) gets
    # REASONING_TIMEOUT_S unless its entry gives its own.
    timeout_s: float = Field(default=90.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected http://host[:port]/path or https://..., got {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _reasoning_budget(self) -> ModelConfig:
        if self.reasoning is not None and "timeout_s" not in self.model_fields_set:
            object.__setattr__(self, "timeout_s", REASONING_TIMEOUT_S)
        return self

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return self.price.cost(input_tokens, output_tokens) if self.price else 0.0

    def output_budget(self, max_tokens: int) -> int:
        return self.reasoning.max_tokens if self.reasoning else max_tokens


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[ModelConfig]


def _line_of(root: yaml.Node | None, loc: list[Any]) -> int | None:
    """1-based line of the deepest YAML node on the path ``loc`` (a pydantic error location): the
    offending key itself when it is present, else the entry that misses it."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def read_registry_file(path: Path) -> list[ModelConfig]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise RegistryError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        return RegistryFile.model_validate(data).models
    except ValidationError as exc:
        root = yaml.compose(text)  # parsed fine above
        problems = []
        for error in exc.errors():
            loc = list(error["loc"])
            line = _line_of(root, loc)
            where = f"{path}" + (f", line {line}" if line else "")
            if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
                where += f", models[{loc[1]}]"
                loc = loc[2:]
            field = ".".join(str(part) for part in loc) or "(entry)"
            problems.append(f"{where}, field {field!r}: {error['msg']}")
        raise RegistryError("\n".join(problems)) from None


class ModelRegistry:
    def __init__(self, models: Iterable[ModelConfig]) -> None:
        self._by_name: dict[str, ModelConfig] = {}
        for model in models:
            self._by_name[model.name] = model

    @classmethod
    def load(cls, user_file: Path | None = None) -> ModelRegistry:
        models = read_registry_file(BUILTIN)
        if user_file is not None:
            models += read_registry_file(user_file)
        return cls(models)

    def __iter__(self):
        return iter(self._by_name.values())

    def names(self) -> list[str]:
        return list(self._by_name)

    def judges(self) -> list[ModelConfig]:
        return [m for m in self if "judge" in m.roles]

    def resolve(self, spec: str) -> ModelConfig:
        """A registry name or alias, or ``name@http://host:port/v1`` for any OpenAI-compatible server.

        A ``NAME@URL`` model is called ``NAME`` wherever a person reads it (tables, results keys,
        JUnit, the report); its endpoint stays in ``base_url``."""
        if "@" in spec:
            name, _, url = spec.partition("@")
            if not url.startswith(("http://", "https://")):
                raise RegistryError(f"--medhelm-model {spec!r}: expected NAME@http(s)://host[:port]/path")
            known = self._lookup(name)
            if known is not None:
                update: dict[str, Any] = {"base_url": url.rstrip("/"), "name": name}
                if known.api_key_env and (known.base_url is None or origin(url) != origin(known.base_url)):
                    # A registry model's key goes only to its own endpoint: to send it elsewhere,
                    # the user writes a models-file entry with that base_url and api_key_env.
                    update["api_key_env"] = None
                return known.model_copy(update=update)
            return ModelConfig(name=name, provider="openai", model=name, base_url=url)
        found = self._lookup(spec)
        if found is None:
            raise RegistryError(
                f"unknown model {spec!r}: not in the registry (known: {', '.join(sorted(self._by_name))}); "
                "add it with --medhelm-models-file or use NAME@http://host:port/v1"
            )
        if found.base_url is None and found.provider != "baseline":
            raise RegistryError(
                f"model {spec!r} (provider {found.provider}) has no base_url: set one in its models-file entry "
                f"or use {spec}@http://host:port/v1"
            )
        return found

    def _lookup(self, name: str) -> ModelConfig | None:
        if name in self._by_name:
            return self._by_name[name]
        for model in self._by_name.values():
            if name in model.aliases:
                return model
        return None
