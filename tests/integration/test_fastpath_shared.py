"""On the real samples: the fast path (``medhelm_fastpath``) and pytest's plain path give the same
results.json, in one process and under ``-n 2``.

The model is the project's test server, so that every part of the fast path takes part: the
engine process serving the workers, the controller's plan, the round-robin schedule, the lean
protocol, the GC freeze and report pruning."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_medhelm.results import ResultsFile
from pytest_medhelm.testserver import TestServer

pytestmark = pytest.mark.needs_shared_data


def aggregates(results: ResultsFile) -> tuple[object, ...]:
    """Everything but timing and cache hits (the mirror repeats a few prompts: under xdist, which of
    two equal calls answers from the cache is a race, on either path)."""
    rows = sorted(
        (row.model_dump(exclude={"latency_s", "cached"}) for row in results.instances),
        key=lambda row: (row["benchmark"], row["model"], row["instance_id"]),
    )
    totals = {model: total.model_dump(exclude={"cached"}) for model, total in results.totals.items()}
    return results.models, results.benchmarks, results.subcategories, results.categories, totals, rows


def test_plain_pytest_and_the_fast_path_give_the_same_results_on_the_mirror(
    pytester: pytest.Pytester, shared_data: Path
) -> None:
    runs: dict[str, tuple[ResultsFile, dict[str, int], int]] = {}
    with TestServer(latency=0.0, slots=64) as server:
        model = f"local@{server.url}"
        for name, extra in {
            "fast": (),
            "plain": ("-p", "no:medhelm_fastpath"),
            "fast-n2": ("-n", "2"),
            "plain-n2": ("-n", "2", "-p", "no:medhelm_fastpath"),
        }.items():
            server.reset_stats()
            result = pytester.runpytest_subprocess(
                f"--medhelm-model={model}",
                f"--medhelm-data-dir={shared_data}",
                f"--medhelm-output={name}",
                f"--medhelm-cache={name}.sqlite",
                "--medhelm-max-instances=40",
                "--medhelm-jury=none",
                "-p",
                "no:cacheprovider",
                "-q",
                "--tb=no",
                "-rN",
                *extra,
                timeout=600,
            )
            assert result.ret == 0, result.stdout.str()[-3000:]
            runs[name] = (
                ResultsFile.read(pytester.path / name / "results.json"),
                result.parseoutcomes(),
                server.stats.duplicates,
            )

    fast, outcomes, _ = runs["fast"]
    assert len(fast.instances) > 400 and len(fast.benchmarks) >= 10  # the mirror's benchmarks ran
    for name, (results, counted, duplicates) in runs.items():
        assert aggregates(results) == aggregates(fast), name
        assert counted == outcomes, name
        assert duplicates == 0, name
