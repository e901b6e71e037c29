"""A hospital's own benchmarks (``*.medhelm.yaml`` + CSV) collected, scored and reported by pytest.

The triage sheet is synthetic. ``baseline-extractive`` answers a generation prompt with its leading
sentence, so with ``max_tokens: 1`` it answers each note's first word: ``t1`` is right, ``t2`` wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# pytester drops the modules a session imported when it ends: load ROUGE (and nltk) once, here.
import rouge_score.rouge_scorer  # noqa: F401

EXTRACTIVE = "baseline-extractive"
TRIAGE_YAML = """\
name: ed_triage
display_name: ED triage (synthetic)
description: Is an emergency-department presentation urgent?
category: clinical_decision_support
subcategory: Supporting Diagnostic Decisions
data: triage.csv
id_column: case_id
prompt: "{note}"
reference: answer
metrics: [exact_match, rouge_l]
max_tokens: 1
"""
TRIAGE_CSV = """\
case_id,note,answer
t1,Urgent. Crushing chest pain and sweating.,Urgent.
t2,Routine. Itchy rash for two weeks.,Urgent.
"""
# A second benchmark outside MedHELM's taxonomy, with MedHELM's own gold-answer column.
DISCHARGE_YAML = """\
name: discharge_check
category: custom
subcategory: Discharge Safety
data: discharge.jsonl
prompt: "{summary}"
metrics: [rouge_l]
max_tokens: 1
"""
DISCHARGE_JSONL = '{"summary": "Stable. Home with follow-up.", "correct_answer": "Stable."}\n'
BROKEN_YAML = TRIAGE_YAML.replace("name: ed_triage", "name: broken_triage").replace(
    "[exact_match, rouge_l]", "[exact_match, bleu]"
)


def write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


TRIAGE = {"triage.medhelm.yaml": TRIAGE_YAML, "triage.csv": TRIAGE_CSV}
DISCHARGE = {"discharge.medhelm.yaml": DISCHARGE_YAML, "discharge.jsonl": DISCHARGE_JSONL}


def test_a_user_benchmark_is_collected_scored_and_reported_with_its_taxonomy_place(medhelm) -> None:
    write(medhelm.path, TRIAGE)

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "triage.medhelm.yaml", "--strict-markers", "-rA")

    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.OK  # a low score is a finding, not a broken run
    # The wrong answer is its one FAILED line; the score table ends the output.
    result.stdout.fnmatch_lines(
        [
            f"PASSED triage.medhelm.yaml::ed_triage[[]t1-{EXTRACTIVE}[]]",
            f"FAILED triage.medhelm.yaml::ed_triage[[]t2-{EXTRACTIVE}[]]*",
            "ed_triage (custom)*exact_match*0.500 (n=2)*",
            "custom (not in MedHELM's means)*0.500",
        ]
    )
    results = medhelm.results()
    triage = results.benchmarks["ed_triage"]
    assert (triage.category, triage.subcategory, triage.metric) == (
        "clinical_decision_support",
        "Supporting Diagnostic Decisions",
        "exact_match",
    )
    assert (triage.scores[EXTRACTIVE].score, triage.scores[EXTRACTIVE].n) == (0.5, 2)
    # A hospital's own benchmark keeps its declared place but stays out of MedHELM's aggregates.
    assert triage.group == "custom" and results.custom == {EXTRACTIVE: 0.5}
    assert results.categories == {} and results.totals[EXTRACTIVE].macro_average is None
    by_id = {r.instance_id: r for r in results.instances}
    assert by_id["t1"].metrics["exact_match"] == 1.0 and by_id["t1"].passed
    assert by_id["t2"].metrics["rouge_l"] == 0.0 and not by_id["t2"].passed
    assert results.subcategories == {}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("ed_triage", {"ed_triage"}),
        ("discharge_check", {"discharge_check"}),
        ("custom", {"discharge_check"}),  # a custom category is a marker too
        ("discharge_safety", {"discharge_check"}),
        ("private and closed_ended", {"ed_triage"}),
    ],
)
def test_markers_select_user_benchmarks(medhelm, selection: str, expected: set[str]) -> None:
    write(medhelm.path, {**TRIAGE, **DISCHARGE})

    result = medhelm.run(
        f"--medhelm-model={EXTRACTIVE}",
        "triage.medhelm.yaml",
        "discharge.medhelm.yaml",
        "--strict-markers",
        "--collect-only",
        "-q",
        "-m",
        selection,
    )

    assert result.ret == pytest.ExitCode.OK
    collected = {line.split("::", 1)[1].split("[", 1)[0] for line in result.outlines if ".medhelm.yaml::" in line}
    assert collected == expected
    assert "deselected" in result.stdout.str()


def test_a_broken_definition_is_one_error_and_the_other_benchmarks_still_run(medhelm) -> None:
    write(medhelm.path, {**TRIAGE, **DISCHARGE, "broken.medhelm.yaml": BROKEN_YAML})

    result = medhelm.run(
        f"--medhelm-model={EXTRACTIVE}", "broken.medhelm.yaml", "triage.medhelm.yaml", "discharge.medhelm.yaml", "-rA"
    )

    result.assert_outcomes(passed=2, failed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # non-zero because of the error alone
    broken = medhelm.path / "broken.medhelm.yaml"
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of broken[[]definition[]]*",
            f"file {broken}, line 10, field 'metrics[[]1[]].name': unknown metric 'bleu'; input should be *",
            "ERROR broken.medhelm.yaml::broken[[]definition[]]*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    results = medhelm.results()
    assert set(results.benchmarks) == {"ed_triage", "discharge_check"}
    discharge = results.benchmarks["discharge_check"]
    assert (discharge.category, discharge.subcategory, discharge.metric) == ("custom", "Discharge Safety", "rouge_l")
    assert discharge.scores[EXTRACTIVE].score == 1.0  # "Stable." against the correct_answer "Stable."


def test_bad_data_in_one_user_benchmark_is_one_error_naming_the_row(medhelm) -> None:
    write(medhelm.path, {**TRIAGE, **DISCHARGE, "triage.csv": TRIAGE_CSV + "t3,Headache only.\n"})

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "triage.medhelm.yaml", "discharge.medhelm.yaml", "-rA")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of ed_triage[[]data[]]*",
            f"ed_triage: bad data: file {medhelm.path / 'triage.csv'}, line 4, field 'answer': 2 values for *",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert set(medhelm.results().benchmarks) == {"discharge_check"}


def test_user_benchmarks_under_medhelm_paths_run_with_the_suites(medhelm) -> None:
    write(medhelm.path / "hospital", TRIAGE)
    medhelm.pytester.makeini("[pytest]\nmedhelm_paths = hospital\n")

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "-m", "ed_triage or pubmed_qa", "-rA")

    result.assert_outcomes(passed=5, failed=3)  # PubMedQA's six synthetic items, and the two here
    assert "hospital/triage.medhelm.yaml::ed_triage[t1-baseline-extractive]" in result.stdout.str()
    assert set(medhelm.results().benchmarks) == {"ed_triage", "pubmed_qa"}
