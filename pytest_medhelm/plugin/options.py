"""Command-line options and ini keys, read once into a frozen :class:`Settings`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_medhelm.plugin.jury import parse_jury_option

DEFAULT_MAX_INSTANCES = 1000  # MedHELM's leaderboard cap (--max-eval-instances 1000)
DEFAULT_CONCURRENCY = 16
DEFAULT_MAX_DROP = 0.02  # a baseline gate allows this much drop (0-1 scale) before it may fail
DEFAULT_ALPHA = 0.05  # ... and fails only when the drop is significant at this level

# (option, ini key, type, default, help); every option has an ini twin.
_OPTIONS: list[tuple[str, str, str, Any, str]] = [
    (
        "--medhelm-model",
        "medhelm_model",
        "args",
        [],
        "model to evaluate (registry name, alias, or NAME@http://host:port/v1); repeat to compare models",
    ),
    (
        "--medhelm-models-file",
        "medhelm_models_file",
        "string",
        None,
        "YAML model registry merged over the built-in one",
    ),
    (
        "--medhelm-max-instances",
        "medhelm_max_instances",
        "int",
        DEFAULT_MAX_INSTANCES,
        "instances per benchmark (run), sampled as MedHELM does (default 1000)",
    ),
    (
        "--medhelm-data-dir",
        "medhelm_data_dir",
        "string",
        None,
        "local data mirror: DIR/<benchmark_id>/test.jsonl (+ side files), or owners' files in DIR/<id>/",
    ),
    (
        "--medhelm-output",
        "medhelm_output",
        "string",
        "medhelm-results",
        "directory for results.json (default medhelm-results/)",
    ),
    (
        "--medhelm-cache",
        "medhelm_cache",
        "string",
        None,
        "response cache SQLite file (default .medhelm-cache/responses.sqlite under the rootdir)",
    ),
    ("--medhelm-no-cache", "medhelm_no_cache", "bool", False, "do not read or write the response cache"),
    (
        "--medhelm-concurrency",
        "medhelm_concurrency",
        "int",
        DEFAULT_CONCURRENCY,
        "model requests in flight per model (shared across xdist workers)",
    ),
    (
        "--medhelm-baseline",
        "medhelm_baseline",
        "string",
        None,
        "a previous run's results.json: each benchmark (and configured category/overall) gets a gate "
        "that fails on a significant drop larger than --medhelm-max-drop",
    ),
    (
        "--medhelm-max-drop",
        "medhelm_max_drop",
        "float",
        DEFAULT_MAX_DROP,
        "drop of a 0-1 score from the baseline that a gate allows (default 0.02)",
    ),
    (
        "--medhelm-alpha",
        "medhelm_alpha",
        "float",
        DEFAULT_ALPHA,
        "significance level of the baseline gates' paired test (default 0.05)",
    ),
    (
        "--medhelm-gates",
        "medhelm_gates",
        "string",
        None,
        "gate thresholds file (default: [tool.medhelm.gates] in pyproject.toml, else medhelm.yaml, in the rootdir)",
    ),
    (
        "--medhelm-download",
        "medhelm_download",
        "bool",
        False,
        "download public benchmark data that is not found locally",
    ),
    (
        "--medhelm-jury",
        "medhelm_jury",
        "args",
        [],
        "LLM jury judges (registry names, aliases or NAME@http://host:port/v1, comma separated); "
        "default MedHELM's three; 'none' scores open-ended benchmarks by ROUGE",
    ),
    (
        "--medhelm-include-text",
        "medhelm_include_text",
        "bool",
        False,
        "show patient text (prompts, model outputs, providers' error messages, judges' explanations) in the terminal and JUnit, and outputs and references in report.html",
    ),
    (
        "--medhelm-shard",
        "medhelm_shard",
        "string",
        None,
        "I/N: run only the I-th of N deterministic slices of every benchmark's instances "
        "(merge the shards' results with `medhelm leaderboard`)",
    ),
    (
        "--medhelm-budget",
        "medhelm_budget",
        "string",
        None,
        "USD: stop issuing new model requests once the session's spend passes this",
    ),
    (
        "--medhelm-estimate",
        "medhelm_estimate",
        "bool",
        False,
        "print the expected cost of the selected items (prompt lengths, max tokens, registry prices) and send nothing",
    ),
]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("medhelm", "MedHELM evaluation")
    for flag, ini, kind, default, help_text in _OPTIONS:
        if kind == "args":
            group.addoption(flag, action="append", dest=ini, default=None, metavar="NAME", help=help_text)
            parser.addini(ini, help_text, type="args", default=[])
        elif kind == "bool":
            group.addoption(flag, action="store_true", dest=ini, default=None, help=help_text)
            parser.addini(ini, help_text, type="bool", default=default)
        else:
            group.addoption(
                flag,
                dest=ini,
                default=None,
                type={"int": int, "float": float}.get(kind, str),
                metavar=flag.rsplit("-", 1)[-1].upper(),
                help=help_text,
            )
            parser.addini(ini, help_text, type="string", default=None if default is None else str(default))
    # Replaced by gates in 0.2: kept only to say so (a low score never fails a run by itself).
    group.addoption(
        "--medhelm-strict", action="store_true", dest="medhelm_strict", default=None, help=argparse.SUPPRESS
    )
    parser.addini("medhelm_strict", "removed: use gates", type="string", default=None)
    parser.addini(
        "medhelm_data_paths",
        "per-benchmark data folders, one 'benchmark_id = path' a line",
        type="linelist",
        default=[],
    )
    parser.addini(
        "medhelm_paths",
        "extra paths collected with the built-in suites when a model is given",
        type="paths",
        default=[],
    )


def _value(config: pytest.Config, ini: str, kind: str) -> Any:
    given = config.getoption(ini)
    if given is not None:
        return given
    value = config.getini(ini)
    if kind in ("int", "float"):
        if value in (None, ""):
            return None
        try:
            return int(value) if kind == "int" else float(value)
        except ValueError:
            what = "a whole number" if kind == "int" else "a number"
            raise pytest.UsageError(f"ini key {ini}: expected {what}, got {value!r}") from None
    return value


@dataclass(frozen=True)
class Settings:
    models: tuple[str, ...]
    models_file: Path | None
    max_instances: int
    data_dir: Path | None
    output: Path
    cache: Path | None
    concurrency: int
    download: bool
    include_text: bool
    data_paths: dict[str, Path]
    baseline: Path | None = None
    max_drop: float | None = None  # None: the gates file's default, else DEFAULT_MAX_DROP
    alpha: float | None = None  # None: the gates file's default, else DEFAULT_ALPHA
    gates_file: Path | None = None
    # None: MedHELM's default judges; (): no jury (--medhelm-jury none).
    jury: tuple[str, ...] | None = None
    shard: tuple[int, int] | None = None
    budget_usd: float | None = None
    estimate: bool = False

    @property
    def active(self) -> bool:
        return bool(self.models)


def read_settings(config: pytest.Config) -> Settings:
    rootdir = Path(config.rootpath)

    def path(value: str | None) -> Path | None:
        return (
            None
            if not value
            else (
                rootdir / Path(value).expanduser()
                if not Path(value).expanduser().is_absolute()
                else Path(value).expanduser()
            )
        )

    def cli_path(value: str | None) -> Path | None:
        # Paths given on the command line are relative to the invocation directory, like pytest's own.
        return None if not value else Path(value).expanduser().resolve()

    models = tuple(dict.fromkeys(m for spec in _value(config, "medhelm_model", "args") for m in spec.split(",") if m))
    max_instances = _value(config, "medhelm_max_instances", "int")
    concurrency = _value(config, "medhelm_concurrency", "int")
    if max_instances is not None and max_instances < 1:
        raise pytest.UsageError("--medhelm-max-instances must be at least 1")
    if concurrency is not None and concurrency < 1:
        raise pytest.UsageError("--medhelm-concurrency must be at least 1")
    if config.getoption("medhelm_strict") or config.getini("medhelm_strict"):
        raise pytest.UsageError(
            "--medhelm-strict (ini medhelm_strict) was removed: a low score is a finding, not a failed run. "
            "Fail a run on scores with gates: min_score floors in [tool.medhelm.gates] (pyproject.toml) or "
            "medhelm.yaml, and --medhelm-baseline PREVIOUS/results.json (see the README, 'Gates in CI')"
        )
    max_drop = _value(config, "medhelm_max_drop", "float")
    alpha = _value(config, "medhelm_alpha", "float")
    if max_drop is not None and not 0 <= max_drop <= 1:
        raise pytest.UsageError(f"--medhelm-max-drop must be between 0 and 1 (a drop of a 0-1 score), got {max_drop}")
    if alpha is not None and not 0 < alpha < 1:
        raise pytest.UsageError(f"--medhelm-alpha must be between 0 and 1, got {alpha}")

    def either(ini: str) -> Path | None:
        given = config.getoption(ini)
        return cli_path(given) if given is not None else path(config.getini(ini))

    data_paths: dict[str, Path] = {}
    for line in config.getini("medhelm_data_paths"):
        benchmark_id, sep, folder = line.partition("=")
        if not sep or not benchmark_id.strip() or not folder.strip():
            raise pytest.UsageError(f"ini key medhelm_data_paths: expected 'benchmark_id = path', got {line!r}")
        data_paths[benchmark_id.strip()] = path(folder.strip())  # type: ignore[assignment]
    shard = parse_shard(_value(config, "medhelm_shard", "string"))
    budget = _value(config, "medhelm_budget", "string")
    try:
        budget_usd = None if budget in (None, "") else float(budget)
    except ValueError:
        raise pytest.UsageError(f"--medhelm-budget: expected an amount in USD, got {budget!r}") from None
    if budget_usd is not None and not budget_usd >= 0:
        raise pytest.UsageError(f"--medhelm-budget: expected an amount of 0 or more USD, got {budget!r}")
    no_cache = bool(_value(config, "medhelm_no_cache", "bool"))
    cache = either("medhelm_cache") or rootdir / ".medhelm-cache" / "responses.sqlite"
    return Settings(
        models=models,
        models_file=either("medhelm_models_file"),
        max_instances=max_instances or DEFAULT_MAX_INSTANCES,
        data_dir=either("medhelm_data_dir"),
        output=either("medhelm_output") or rootdir / "medhelm-results",
        cache=None if no_cache else cache,
        concurrency=concurrency or DEFAULT_CONCURRENCY,
        download=bool(_value(config, "medhelm_download", "bool")),
        include_text=bool(_value(config, "medhelm_include_text", "bool")),
        data_paths=data_paths,
        baseline=either("medhelm_baseline"),
        max_drop=max_drop,
        alpha=alpha,
        gates_file=either("medhelm_gates"),
        jury=parse_jury_option(_value(config, "medhelm_jury", "args")),
        shard=shard,
        budget_usd=budget_usd,
        estimate=bool(_value(config, "medhelm_estimate", "bool")),
    )


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"2/4"`` -> (2, 4); the index counts from 1."""
    if value in (None, ""):
        return None
    index, sep, count = str(value).partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = None
    if not sep or shard is None or not 1 <= shard[0] <= shard[1]:
        raise pytest.UsageError(f"--medhelm-shard: expected I/N with 1 <= I <= N (e.g. 2/4), got {value!r}")
    return shard
