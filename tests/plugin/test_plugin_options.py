"""Every option from the command line and as an ini key, and clear usage errors for bad values."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from medhelm_sessions import Medhelm
from pytest_medhelm.testserver import TestServer

# MedHELM's subset of 3 out of the 6 synthetic records: RandomState(0).permutation(6)[:3].
SUBSET = {Medhelm.IDS[i] for i in np.random.RandomState(0).permutation(len(Medhelm.IDS))[:3]}


def cached_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_every_option_from_the_command_line(medhelm: Medhelm, server: TestServer) -> None:
    model = f"local@{server.url}"
    args = [
        f"--medhelm-model={model}",
        "--medhelm-max-instances",
        "3",
        "--medhelm-data-dir",
        "data",
        "--medhelm-output",
        "out-cli",
        "--medhelm-cache",
        "cli-cache/responses.sqlite",
        "--medhelm-concurrency",
        "1",
        "--medhelm-max-drop",
        "0.1",
        "--medhelm-alpha",
        "0.01",
        *medhelm.ONLY_PUBMED,
    ]

    result = medhelm.run(*args)

    # The server answers "yes" (A): of the subset only 900006 is right; low scores are findings.
    result.assert_outcomes(passed=1, failed=2)
    assert result.ret == pytest.ExitCode.OK
    results = medhelm.results(medhelm.path / "out-cli")
    assert results.models == ["local"]  # NAME@URL is NAME; the endpoint is kept once, in model_info
    assert results.model_info["local"].base_url == server.url.rstrip("/")
    assert {row.instance_id for row in results.instances} == SUBSET
    assert server.stats.requests == 3
    assert server.stats.peak_in_flight == 1
    assert cached_rows(medhelm.path / "cli-cache" / "responses.sqlite") == 3

    medhelm.run(*args, "--medhelm-no-cache").assert_outcomes(passed=1, failed=2)
    assert server.stats.requests == 6  # no cache: every item asked again
    assert not any(row.cached for row in medhelm.results(medhelm.path / "out-cli").instances)

    medhelm.run(*args).assert_outcomes(passed=1, failed=2)
    assert server.stats.requests == 6  # cache on again: every answer from the file
    assert all(row.cached for row in medhelm.results(medhelm.path / "out-cli").instances)


INI = """
medhelm_model = {model} baseline-extractive
medhelm_max_instances = 3
medhelm_data_dir = data
medhelm_output = out-ini
medhelm_cache = ini-cache/responses.sqlite
medhelm_concurrency = 2
medhelm_max_drop = 0.1
medhelm_alpha = 0.01
"""


def write_config(medhelm: Medhelm, kind: str, lines: str) -> None:
    if kind == "pytest.ini":
        medhelm.pytester.makeini("[pytest]\n" + lines)
    else:
        # pyproject.toml: the same keys, as TOML strings.
        body = "\n".join(
            f'{key.strip()} = "{value.strip()}"'
            for key, _, value in (line.partition("=") for line in lines.strip().splitlines())
        )
        medhelm.pytester.makepyprojecttoml("[tool.pytest.ini_options]\n" + body + "\n")


@pytest.mark.parametrize("kind", ["pytest.ini", "pyproject.toml"])
def test_every_option_as_an_ini_key(medhelm: Medhelm, server: TestServer, kind: str) -> None:
    model = f"local@{server.url}"
    write_config(medhelm, kind, INI.format(model=model))

    result = medhelm.pytester.runpytest(*medhelm.ONLY_PUBMED)

    # Two models x the 3-record subset; baseline-extractive gets 900002 wrong, the server 900002
    # and 900003: findings, not a failed run.
    result.assert_outcomes(passed=3, failed=3)
    assert result.ret == pytest.ExitCode.OK
    results = medhelm.results(medhelm.path / "out-ini")
    assert results.models == ["local", "baseline-extractive"]
    assert {row.instance_id for row in results.instances} == SUBSET
    assert server.stats.requests == 3
    assert server.stats.peak_in_flight <= 2  # all 3 would overlap without the limit
    assert cached_rows(medhelm.path / "ini-cache" / "responses.sqlite") == 3

    write_config(medhelm, kind, INI.format(model=model) + "medhelm_no_cache = true\n")
    medhelm.pytester.runpytest(*medhelm.ONLY_PUBMED).assert_outcomes(passed=3, failed=3)
    assert server.stats.requests == 6
    assert not any(row.cached for row in medhelm.results(medhelm.path / "out-ini").instances)


def test_the_command_line_overrides_the_ini_file(medhelm: Medhelm) -> None:
    medhelm.pytester.makeini(
        "[pytest]\nmedhelm_model = baseline-random\nmedhelm_max_instances = 2\nmedhelm_output = out-ini\n"
    )

    result = medhelm.run(
        "--medhelm-model=baseline-extractive", "--medhelm-max-instances=4", "-rA", *medhelm.ONLY_PUBMED
    )

    names = medhelm.names(result)
    assert len(names) == 4
    assert all(name.endswith("-baseline-extractive]") for name in names)
    assert result.ret == pytest.ExitCode.OK
    assert medhelm.results(medhelm.path / "out-ini").models == ["baseline-extractive"]  # the ini's output kept


def _bad_models_file(medhelm: Medhelm) -> list[str]:
    # The bad field is the first key of the second entry (line 5).
    path = medhelm.models_file(
        "models:\n  - name: fine\n    provider: openai\n    model: m\n"
        "  - provider: openia\n    name: typo\n    model: m\n"
    )
    return ["--medhelm-models-file", str(path), "--medhelm-model=typo"]


def _broken_yaml(medhelm: Medhelm) -> list[str]:
    # A tab where YAML expects indentation, on line 3.
    path = medhelm.models_file("models:\n  - name: a\n\tprovider: openai\n", name="broken.yaml")
    return ["--medhelm-models-file", str(path), "--medhelm-model=a"]


ArgsFor = Callable[[Medhelm], list[str]]


def _plain(*args: str) -> ArgsFor:
    return lambda medhelm: list(args)


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        (
            _plain("--medhelm-model=baseline-random", "--medhelm-max-instances", "0"),
            "*--medhelm-max-instances must be at least 1*",
        ),
        (
            _plain("--medhelm-model=baseline-random", "--medhelm-max-instances", "many"),
            "*--medhelm-max-instances: invalid int value: 'many'*",
        ),
        (
            _plain("--medhelm-model=baseline-random", "--medhelm-concurrency", "0"),
            "*--medhelm-concurrency must be at least 1*",
        ),
        (
            _plain("--medhelm-model=gpt-imaginary"),
            "*unknown model 'gpt-imaginary'*known: baseline-extractive, baseline-random,*",
        ),
        (_plain("--medhelm-model=llama@notaurl"), "*'llama@notaurl': expected NAME@http(s)://host*"),
        (_bad_models_file, "*models.yaml, line 5, models[[]1[]], field 'provider': Input should be*"),
        (_broken_yaml, "*broken.yaml, line 3: not valid YAML*"),
    ],
    ids=[
        "max-instances-0",
        "max-instances-not-a-number",
        "concurrency-0",
        "unknown-model",
        "not-a-url",
        "models-file-bad-field",
        "models-file-bad-yaml",
    ],
)
def test_bad_values_are_usage_errors(medhelm: Medhelm, make_args: ArgsFor, expected: str) -> None:
    result = medhelm.run(*make_args(medhelm))

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


@pytest.mark.parametrize(
    ("ini", "expected"),
    [
        ("medhelm_max_instances = many", "*ini key medhelm_max_instances: expected a whole number, got 'many'*"),
        ("medhelm_concurrency = 0", "*--medhelm-concurrency must be at least 1*"),
        ("medhelm_data_paths = pubmed_qa", "*medhelm_data_paths: expected 'benchmark_id = path', got 'pubmed_qa'*"),
    ],
)
def test_bad_ini_values_are_usage_errors(medhelm: Medhelm, ini: str, expected: str) -> None:
    medhelm.pytester.makeini(f"[pytest]\nmedhelm_model = baseline-random\n{ini}\n")

    result = medhelm.run()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
