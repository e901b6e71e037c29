"""What a run leaves behind: results.json, the score table, and JUnit testcase properties."""

from __future__ import annotations

import json
from statistics import fmean

import pytest
from junitparser import JUnitXml, Properties

from medhelm_sessions import Medhelm
from pytest_medhelm.results import ResultsFile

MODELS = ("baseline-extractive", "baseline-random")
INSTANCE_FIELDS = {
    "benchmark",
    "instance_id",
    "model",
    "score",
    "metrics",
    "passed",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cached",
}


@pytest.fixture
def run(medhelm: Medhelm) -> pytest.RunResult:
    return medhelm.run(
        *(f"--medhelm-model={m}" for m in MODELS),
        *medhelm.ONLY_PUBMED,
        "--medhelm-output=reports",
        "--junitxml=junit.xml",
    )


def test_results_json_validates_and_aggregates_the_instances(medhelm: Medhelm, run: pytest.RunResult) -> None:
    raw = json.loads((medhelm.path / "reports" / "results.json").read_text())
    results = ResultsFile.model_validate(raw)

    assert results.schema_version == 2
    assert results.models == list(MODELS)
    assert len(raw["instances"]) == 2 * len(medhelm.IDS)
    assert all(INSTANCE_FIELDS <= set(row) for row in raw["instances"])
    pubmed = results.benchmarks["pubmed_qa"]
    assert (pubmed.category, pubmed.subcategory, pubmed.metric) == (
        "medical_research",
        "Conducting Literature Research",
        "exact_match",
    )
    for model in MODELS:
        rows = [row for row in results.instances if row.model == model]
        assert {row.instance_id for row in rows} == set(medhelm.IDS)
        assert pubmed.scores[model].n == len(medhelm.IDS)
        assert pubmed.scores[model].score == pytest.approx(fmean(row.score for row in rows))
        assert results.totals[model].instances == len(medhelm.IDS)
    extractive = {row.instance_id: row for row in results.instances if row.model == "baseline-extractive"}
    assert {i for i, row in extractive.items() if not row.passed} == medhelm.EXTRACTIVE_WRONG
    assert pubmed.scores["baseline-extractive"].score == pytest.approx(4 / 6)
    assert results.subcategories["Conducting Literature Research"]["baseline-extractive"] == pytest.approx(4 / 6)
    assert results.categories["medical_research"]["baseline-extractive"] == pytest.approx(4 / 6)


IV = r"\d\.\d\d, \d\.\d\d"  # a bootstrap interval as printed


def test_terminal_shows_benchmark_subcategory_and_category_rows(medhelm: Medhelm, run: pytest.RunResult) -> None:
    results = medhelm.results(medhelm.path / "reports")
    random_score = results.benchmarks["pubmed_qa"].scores["baseline-random"].score

    run.stdout.re_match_lines(
        [
            r"=+ MedHELM results =+",
            r"benchmark\s+metric\s+baseline-extractive\s+baseline-random",
            rf"pubmed_qa\s+exact_match\s+0\.667 \(n=6\) \[{IV}\]\s+{random_score:.3f} (≈ )?\(n=6\) \[{IV}\]",
            rf"mean win rate\s+\d\.\d{{3}} \[{IV}\]\s+\d\.\d{{3}} \[{IV}\]",
            rf"Medical Research Assistance\s+0\.667 \[{IV}\]\s+\d\.\d{{3}}",
            r"  Conducting Literature Research\s+0\.667\s+\d\.\d{3}",
            rf"macro average\s+0\.667 \[{IV}\]\s+\d\.\d{{3}}",
            r"results: .*reports/results\.json",
            r"leaderboard\.md: .*reports/leaderboard\.md",
            r"report\.html: .*reports/report\.html",
            r"medhelm-summary\.xml: .*reports/medhelm-summary\.xml",
        ]
    )


def test_junit_has_the_scores_as_testcase_properties_without_warnings(medhelm: Medhelm) -> None:
    # A subprocess, as a user runs it: an in-process nested session re-imports the installed
    # plugin and warns that it cannot rewrite its asserts, which no real run does.
    run = medhelm.run_subprocess(
        *(f"--medhelm-model={m}" for m in MODELS),
        *medhelm.ONLY_PUBMED,
        "--medhelm-output=reports",
        "--junitxml=junit.xml",
    )
    results = medhelm.results(medhelm.path / "reports")
    scores = {(row.instance_id, row.model): row.score for row in results.instances}

    cases = [case for suite in JUnitXml.fromfile(str(medhelm.path / "junit.xml")) for case in suite]

    assert len(cases) == 2 * len(medhelm.IDS)
    for case in cases:
        props = {prop.name: prop.value for prop in case.child(Properties)}
        key = (props["medhelm.instance_id"], props["medhelm.model"])
        assert props["medhelm.benchmark"] == "pubmed_qa"
        assert float(props["medhelm.score"]) == scores[key]
        assert float(props["medhelm.metric.exact_match"]) == scores[key]
        assert "medhelm.metric.quasi_exact_match" in props
        assert int(props["medhelm.input_tokens"]) > 0 and int(props["medhelm.output_tokens"]) > 0
        assert float(props["medhelm.cost_usd"]) == 0.0  # the baselines are free
        assert props["medhelm.cached"] == "False"
        assert case.is_passed == (scores[key] == 1.0)
    output = run.stdout.str()
    assert "warnings summary" not in output
    assert "record_property" not in output and "xunit2" not in output
