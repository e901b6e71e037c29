"""The public fixtures: the README's own-test example, per model, aggregated with the suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from medhelm_sessions import Medhelm, readme_example
from pytest_medhelm.testserver import TestServer


@pytest.fixture
def urgent_server() -> Iterator[TestServer]:
    """A local model that calls everything urgent."""
    with TestServer(responder=lambda request: "Yes, this is urgent.") as running:
        yield running


def test_readme_example_runs_once_per_model_and_is_aggregated(medhelm: Medhelm, urgent_server: TestServer) -> None:
    medhelm.pytester.makepyfile(test_triage=readme_example())
    local = "local"  # given as NAME@URL, read as NAME everywhere

    result = medhelm.run(
        f"--medhelm-model={local}@{urgent_server.url}",
        "--medhelm-model=baseline-extractive",
        *medhelm.ONLY_PUBMED,
        "-rA",
    )

    # The extractive baseline echoes the vignette, which does not start with "yes".
    result.stdout.fnmatch_lines(
        [
            f"PASSED test_triage.py::test_chest_pain_triage[[]{local}[]]",
            "FAILED test_triage.py::test_chest_pain_triage[[]baseline-extractive[]]*",
        ]
    )
    assert result.ret == pytest.ExitCode.OK  # a low score is a finding
    # A low score is its one FAILED line: no failure section, so neither the plugin's frames nor
    # the model's output.
    assert "_ test_chest_pain_triage[baseline-extractive] _" not in result.stdout.str()
    assert "Completion(" not in result.stdout.str() and "fixtures.py" not in result.stdout.str()
    results = medhelm.results()
    triage = results.benchmarks["triage_smoke"]
    assert {model: (score.score, score.n) for model, score in triage.scores.items()} == {
        local: (1.0, 1),
        "baseline-extractive": (0.0, 1),
    }
    assert "pubmed_qa" in results.benchmarks  # aggregated together with the built-in suites
    row = next(r for r in results.instances if r.benchmark == "triage_smoke" and r.model == local)
    assert row.instance_id == f"test_chest_pain_triage[{local}]"
    assert row.input_tokens > 0 and row.output_tokens > 0
    assert urgent_server.stats.requests == 7  # 6 PubMedQA items and the triage question
    result.stdout.re_match_lines([r"triage_smoke \(custom\)\s+score\s+1\.000 (≈ )?\(n=1\).*\s0\.000 (≈ )?\(n=1\)"])
    assert triage.group == "custom"  # medhelm_record scores never enter MedHELM's means or win rates
    assert set(results.categories) <= {"medical_research"} and "custom" not in results.win_rates


def test_readme_example_is_skipped_without_a_model(medhelm: Medhelm) -> None:
    medhelm.pytester.makepyfile(test_triage=readme_example())

    result = medhelm.run("-rs")

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *test_triage.py*: no model given: pass --medhelm-model NAME"])
    assert result.ret == pytest.ExitCode.OK
