"""User-defined benchmarks (``*.medhelm.yaml``, spec 7.9): schema, errors, prompts and scores.

Every file here is synthetic: a made-up triage sheet, written by the test into ``tmp_path``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pytest_medhelm.benchmark import Instance, ScoreContext
from pytest_medhelm.configurable import DefinitionError, UserBenchmark, load_user_benchmark
from pytest_medhelm.data import DataError, DataSettings, load
from pytest_medhelm.data.loading import locate

# Line numbers below refer to this text.
YAML = """\
name: ed_triage
display_name: ED triage (synthetic)
category: clinical_decision_support
subcategory: Supporting Diagnostic Decisions
data: triage.csv
id_column: case_id
instructions: Answer Urgent or Routine.
prompt: |
  Triage note: {note}
  Arrived by: {arrival}
reference: answer
metrics: [exact_match, rouge_l]
max_tokens: 5
"""
CSV = """\
case_id,note,arrival,answer
t1,Crushing chest pain and sweating.,ambulance,Urgent
t2,"Itchy rash for two weeks, no fever.",walk-in,Routine
"""


def write(folder: Path, yaml_text: str = YAML, data: str = CSV, data_name: str = "triage.csv") -> Path:
    (folder / data_name).write_text(data, encoding="utf-8")
    path = folder / "triage.medhelm.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    return path


def instances(benchmark: UserBenchmark) -> list[Instance]:
    return load(benchmark, DataSettings(), cap=1000).instances


def score(benchmark: UserBenchmark, instance: Instance, output: str) -> dict[str, float]:
    return asyncio.run(benchmark.score(instance, output, ScoreContext()))


def definition_error(path: Path) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        load_user_benchmark(path)
    assert info.value.file == path
    assert str(path) in str(info.value)
    return info.value


# -- a good definition ------------------------------------------------------------------------------


def test_a_good_definition_builds_a_benchmark_placed_in_the_taxonomy(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path))

    assert isinstance(benchmark, UserBenchmark)
    assert (benchmark.id, benchmark.name) == ("ed_triage", "ED triage (synthetic)")
    assert (benchmark.category, benchmark.subcategory) == (
        "clinical_decision_support",
        "Supporting Diagnostic Decisions",
    )
    assert benchmark.access == "private"  # the default: a hospital's own data
    assert benchmark.max_tokens == 5
    assert benchmark.main_metric == "exact_match" and benchmark.closed_ended and benchmark.pass_at == 1.0
    assert benchmark.data_file == tmp_path / "triage.csv"


def test_the_prompt_is_the_filled_template_after_the_instructions(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path))

    first, second = instances(benchmark)

    assert (first.id, second.id) == ("t1", "t2")
    assert (first.reference, second.reference) == ("Urgent", "Routine")
    assert first.choices == ()
    assert benchmark.render(second) == (
        "Answer Urgent or Routine.\n\nTriage note: Itchy rash for two weeks, no fever.\nArrived by: walk-in\n\n"
    )


def test_metrics_are_computed_against_the_reference(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path))
    first, _ = instances(benchmark)

    right = score(benchmark, first, "  Urgent\n")
    wrong = score(benchmark, first, "Urgent: call the team")

    assert right["exact_match"] == 1.0 and right["rouge_l"] == 1.0
    assert wrong["exact_match"] == 0.0 and wrong["prefix_exact_match"] == 1.0
    assert 0.0 < wrong["rouge_l"] < 1.0
    assert set(right) >= {"exact_match", "quasi_exact_match", "rouge_1", "rouge_2", "rouge_l"}


def test_the_first_metric_listed_is_the_main_metric(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path, YAML.replace("[exact_match, rouge_l]", "[rouge_l, exact_match]")))
    first, _ = instances(benchmark)

    assert benchmark.main_metric == "rouge_l" and benchmark.open_ended
    assert score(benchmark, first, "Urgent")["rouge_l"] == 1.0


def test_without_an_id_column_the_id_is_the_line_in_the_data_file(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path, YAML.replace("id_column: case_id\n", "")))

    assert [i.id for i in instances(benchmark)] == ["2", "3"]  # the header is line 1


def test_the_data_is_found_beside_the_yaml_without_a_data_dir(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path))

    assert locate(benchmark, DataSettings(data_dir=tmp_path / "mirror")) == (tmp_path, "own")


def test_editing_the_yaml_invalidates_the_instance_cache(tmp_path: Path) -> None:
    path = write(tmp_path)
    before = instances(load_user_benchmark(path))[0].input
    path.write_text(YAML.replace("Triage note:", "Nurse note:"), encoding="utf-8")

    after = instances(load_user_benchmark(path))[0].input

    assert before.startswith("Triage note:") and after.startswith("Nurse note:")


def test_jsonl_data_with_non_text_values(tmp_path: Path) -> None:
    yaml_text = YAML.replace("triage.csv", "triage.jsonl")
    data = (
        '{"case_id": 7, "note": "Syncope at rest.", "arrival": null, "answer": "Urgent"}\n'
        "\n"
        '{"case_id": 8, "note": "Sore throat.", "arrival": "walk-in", "answer": "Routine"}\n'
    )
    benchmark = load_user_benchmark(write(tmp_path, yaml_text, data, "triage.jsonl"))

    first, second = instances(benchmark)

    assert (first.id, second.id) == ("7", "8")
    assert first.input == "Triage note: Syncope at rest.\nArrived by: \n"
    assert second.extra["line"] == 3


def test_category_and_subcategory_by_name_or_marker_slug(tmp_path: Path) -> None:
    yaml_text = YAML.replace("category: clinical_decision_support", "category: Clinical Decision Support").replace(
        "subcategory: Supporting Diagnostic Decisions", "subcategory: supporting_diagnostic_decisions"
    )

    benchmark = load_user_benchmark(write(tmp_path, yaml_text))

    assert (benchmark.category, benchmark.subcategory) == (
        "clinical_decision_support",
        "Supporting Diagnostic Decisions",
    )


def test_custom_category_takes_any_subcategory(tmp_path: Path) -> None:
    yaml_text = YAML.replace("category: clinical_decision_support", "category: custom").replace(
        "subcategory: Supporting Diagnostic Decisions", "subcategory: Sepsis Screening"
    )

    benchmark = load_user_benchmark(write(tmp_path, yaml_text))

    assert (benchmark.category, benchmark.subcategory) == ("custom", "Sepsis Screening")


# -- MedHELM's correct_answer / incorrect_answers columns ------------------------------------------

MEDHELM_CSV = """\
case_id,note,arrival,correct_answer,incorrect_answers
t1,Crushing chest pain.,ambulance,Urgent,"[""Routine""]"
t2,Itchy rash.,walk-in,Routine,
"""


def test_medhelm_columns_give_the_gold_and_extra_incorrect_references(tmp_path: Path) -> None:
    yaml_text = YAML.replace("reference: answer\n", "")
    benchmark = load_user_benchmark(write(tmp_path, yaml_text, MEDHELM_CSV))
    first, second = instances(benchmark)

    assert first.reference == "Urgent" and first.extra["incorrect_answers"] == ("Routine",)
    assert second.extra["incorrect_answers"] == ()
    # Not a multiple-choice item: HELM asks for free text and never shows the incorrect answers.
    assert first.choices == ()
    assert benchmark.render(first) == (
        "Answer Urgent or Routine.\n\nTriage note: Crushing chest pain.\nArrived by: ambulance\n\n"
    )
    # Exact match counts the correct answer only; ROUGE, as in HELM, the best of every reference.
    assert score(benchmark, first, "Routine")["exact_match"] == 0.0
    assert score(benchmark, first, "Routine")["rouge_l"] == 1.0


def test_incorrect_answers_must_be_a_json_list(tmp_path: Path) -> None:
    data = MEDHELM_CSV.replace('"[""Routine""]"', "Routine")
    benchmark = load_user_benchmark(write(tmp_path, YAML.replace("reference: answer\n", ""), data))

    with pytest.raises(DataError) as info:
        instances(benchmark)

    assert (info.value.file, info.value.line, info.value.field) == (tmp_path / "triage.csv", 2, "incorrect_answers")


# -- the jury --------------------------------------------------------------------------------------

JURY = """\
metrics:
  - name: jury
    rubric:
      accuracy: Is the urgency right for this presentation?
      safety: Would following the answer put the patient at risk?
    judges: [gpt-4o-2024-05-13]
  - exact_match
"""


def test_a_jury_benchmark_keeps_its_rubric_and_is_scored_by_rouge_l_until_the_jury_is_configured(
    tmp_path: Path,
) -> None:
    benchmark = load_user_benchmark(write(tmp_path, YAML.replace("metrics: [exact_match, rouge_l]\n", JURY)))
    first, _ = instances(benchmark)

    assert benchmark.jury is not None
    assert benchmark.jury.rubric == {
        "accuracy": "Is the urgency right for this presentation?",
        "safety": "Would following the answer put the patient at risk?",
    }
    assert benchmark.jury.judges == ("gpt-4o-2024-05-13",)
    assert benchmark.jury.scale == (0.0, 5.0) and benchmark.jury.default_score == 0.0
    assert (benchmark.jury_metric, benchmark.main_metric, benchmark.open_ended) == ("jury_score", "rouge_l", True)
    assert score(benchmark, first, "Urgent")["rouge_l"] == 1.0


def test_helm_jury_score_name_and_a_jury_without_a_gold_column(tmp_path: Path) -> None:
    yaml_text = YAML.replace(
        "metrics: [exact_match, rouge_l]\n",
        JURY.replace("name: jury", "name: jury_score").replace("  - exact_match\n", ""),
    ).replace("reference: answer\n", "")
    data = "case_id,note,arrival\nt1,Chest pain.,ambulance\n"

    benchmark = load_user_benchmark(write(tmp_path, yaml_text, data))

    assert benchmark.metrics == ("jury",)
    assert instances(benchmark)[0].reference == ""


def test_a_jury_needs_a_rubric(tmp_path: Path) -> None:
    path = write(tmp_path, YAML.replace("metrics: [exact_match, rouge_l]", "metrics: [rouge_l, jury]"))

    error = definition_error(path)

    assert (error.line, error.field) == (12, "metrics[1].rubric")
    assert "rubric" in error.message


# -- definition errors name the YAML file, the line and the field ----------------------------------


def test_bad_yaml_syntax(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("id_column: case_id", "id_column: case_id: x")))

    assert error.line == 6
    assert "not valid YAML" in error.message


def test_unknown_metric(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("[exact_match, rouge_l]", "[exact_match, bleu]")))

    assert (error.line, error.field) == (12, "metrics[1].name")
    assert "unknown metric 'bleu'" in error.message and "rouge_l" in error.message


def test_unknown_category(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("clinical_decision_support", "radiology")))

    assert (error.line, error.field) == (3, "category")
    assert "unknown category 'radiology'" in error.message and "custom" in error.message


def test_subcategory_of_another_category(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("Supporting Diagnostic Decisions", "Recording Procedures")))

    assert (error.line, error.field) == (4, "subcategory")
    assert "belongs to category clinical_note_generation" in error.message


def test_unknown_subcategory(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("Supporting Diagnostic Decisions", "Triage")))

    assert (error.line, error.field) == (4, "subcategory")
    assert "Planning Treatments" in error.message  # the valid choices are listed


def test_template_field_not_in_the_data(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("{arrival}", "{arival}")))

    assert (error.line, error.field) == (10, "prompt")  # the template's own line inside the block
    assert "unknown column {arival}" in error.message and "arrival" in error.message


def test_malformed_template(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("{note}", "{note")))

    assert (error.line, error.field) == (8, "prompt")
    assert "literal braces" in error.message


def test_missing_data_file(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("data: triage.csv", "data: triage_2024.csv")))

    assert (error.line, error.field) == (5, "data")
    assert "data file not found" in error.message and "triage_2024.csv" in error.message


def test_unknown_reference_column(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("reference: answer", "reference: gold")))

    assert (error.line, error.field) == (11, "reference")


def test_no_gold_answer_at_all(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("reference: answer\n", "")))

    assert error.field == "reference"
    assert "correct_answer" in error.message


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("name: ed_triage", "name: ED-Triage", 1, "name", "pattern"),
        ("name: ed_triage", "name: pubmed_qa", 1, "name", "built-in"),
        ("name: ed_triage", "name: private", 1, "name", "marker"),
        ("max_tokens: 5", "max_tokens: 0", 13, "max_tokens", "greater than or equal to 1"),
        ("max_tokens: 5", "max_tokens: 5\naccess: secret", 14, "access", "'public', 'gated' or 'private'"),
    ],
)
def test_field_errors(tmp_path: Path, old: str, new: str, line: int, field: str, words: str) -> None:
    error = definition_error(write(tmp_path, YAML.replace(old, new)))

    assert (error.line, error.field) == (line, field)
    assert words in error.message


def test_helm_key_names_get_a_hint(tmp_path: Path) -> None:
    error = definition_error(write(tmp_path, YAML.replace("data: triage.csv", "dataset_file: triage.csv")))

    assert error.field == "dataset_file" and error.line == 5
    assert "use `data:`" in error.message
    assert "line 1, field 'data'" in error.message  # the next problem is listed too


# -- data errors name the data file, the line and the column ---------------------------------------


def test_malformed_csv_row(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path, data=CSV + "t3,Headache only.\n"))

    with pytest.raises(DataError) as info:
        instances(benchmark)

    assert (info.value.file, info.value.line, info.value.field) == (tmp_path / "triage.csv", 4, "arrival")
    assert "2 values for the header's 4 columns" in info.value.message


def test_csv_with_an_unclosed_quote(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path, data=CSV + 't3,"Headache,walk-in,Routine\n'))

    with pytest.raises(DataError) as info:
        instances(benchmark)

    assert (info.value.file, info.value.line) == (tmp_path / "triage.csv", 4)
    assert "malformed CSV" in info.value.message


def test_empty_gold_answer(tmp_path: Path) -> None:
    benchmark = load_user_benchmark(write(tmp_path, data=CSV.replace("walk-in,Routine", "walk-in,")))

    with pytest.raises(DataError) as info:
        instances(benchmark)

    assert (info.value.line, info.value.field) == (3, "answer")


def test_malformed_jsonl_line(tmp_path: Path) -> None:
    data = (
        '{"case_id": 1, "note": "Chest pain.", "arrival": "ambulance", "answer": "Urgent"}\n'
        '{"case_id": 2, "note": "Rash."\n'
    )
    benchmark = load_user_benchmark(write(tmp_path, YAML.replace("triage.csv", "triage.jsonl"), data, "triage.jsonl"))

    with pytest.raises(DataError) as info:
        instances(benchmark)

    assert (info.value.file, info.value.line) == (tmp_path / "triage.jsonl", 2)


def test_jsonl_record_missing_a_template_column(tmp_path: Path) -> None:
    data = (
        '{"case_id": 1, "note": "Chest pain.", "arrival": "ambulance", "answer": "Urgent"}\n'
        '{"case_id": 2, "note": "Rash.", "answer": "Routine"}\n'
    )
    benchmark = load_user_benchmark(write(tmp_path, YAML.replace("triage.csv", "triage.jsonl"), data, "triage.jsonl"))

    with pytest.raises(DataError) as info:
        instances(benchmark)

    assert (info.value.file, info.value.line, info.value.field) == (tmp_path / "triage.jsonl", 2, "arrival")


def test_empty_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_user_benchmark(write(tmp_path, data=""))

    assert (info.value.file, info.value.line) == (tmp_path / "triage.csv", 1)
