"""The public benchmarks of issue "All 37" on the real samples in ../shared/data.

Every sample row must load through the real loader (``data.loading.load``) with unique ids, the
gold answers must score as MedHELM's faithful metrics say, and the offline baselines must run end
to end. MedMCQA and MedDialog have no shared sample: the CLI must list them as absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shared_samples import load_sample, score_all

from pytest_medhelm import ScoreContext, cli
from pytest_medhelm.data import LoadedBenchmark
from pytest_medhelm.engine import Engine
from pytest_medhelm.evaluate import evaluate
from pytest_medhelm.metrics.ehr_sql import execute
from pytest_medhelm.models import ModelRegistry
from pytest_medhelm.suites.clinical_decision_support import test_mtsamples_replicate
from pytest_medhelm.suites.clinical_note_generation import test_aci_bench, test_mtsamples_procedures
from pytest_medhelm.suites.medical_research import test_ehr_sql, test_medhallu, test_race_based_med
from pytest_medhelm.suites.patient_communication import test_medi_qa, test_medication_qa

pytestmark = pytest.mark.needs_shared_data

BENCHMARKS = {
    b.id: b
    for b in (
        test_mtsamples_replicate.BENCHMARK,
        test_aci_bench.BENCHMARK,
        test_mtsamples_procedures.BENCHMARK,
        test_medication_qa.BENCHMARK,
        test_medi_qa.BENCHMARK,
        test_ehr_sql.BENCHMARK,
        test_race_based_med.BENCHMARK,
        test_medhallu.BENCHMARK,
    )
}
IDS = sorted(BENCHMARKS)
OPEN_ENDED = sorted(i for i in IDS if BENCHMARKS[i].open_ended)


def loaded(shared_data: Path, benchmark_id: str) -> LoadedBenchmark:
    return load_sample(BENCHMARKS[benchmark_id], shared_data, cap=10_000)


def rows(shared_data: Path, benchmark_id: str) -> list[dict[str, Any]]:
    text = (shared_data / benchmark_id / "test.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def expected_count(benchmark_id: str, sample: list[dict[str, Any]]) -> int:
    """How many instances MedHELM's loader makes of the sample's rows."""
    if benchmark_id == "medhallu":
        return 2 * len(sample)  # ground truth and hallucinated answer
    if benchmark_id == "race_based_med":
        return len({(r["Question"], r["Response"]) for r in sample})  # keyed by prompt
    if benchmark_id == "medication_qa":
        return sum(r["Answer"] not in test_medication_qa.PANDAS_NA_VALUES for r in sample)  # one answer is "n/a"
    return len(sample)  # the MTSamples samples hold qualifying files only


@pytest.mark.parametrize("benchmark_id", IDS)
def test_every_sample_row_loads(shared_data: Path, benchmark_id: str) -> None:
    data = loaded(shared_data, benchmark_id)
    sample = rows(shared_data, benchmark_id)
    assert len(data.instances) == data.total == expected_count(benchmark_id, sample)
    assert len({i.id for i in data.instances}) == len(data.instances)
    assert not any("~" in i.id for i in data.instances), "ids come from the data, not from numbering"
    for instance in data.instances:
        assert instance.input.strip() and instance.split == "test", instance.id
        if BENCHMARKS[benchmark_id].open_ended:
            assert instance.reference.strip() and not instance.choices, instance.id


def test_medication_qa_drops_the_answer_pandas_reads_as_missing(shared_data: Path) -> None:
    dropped = [r for r in rows(shared_data, "medication_qa") if r["Answer"] in test_medication_qa.PANDAS_NA_VALUES]
    assert [r["Answer"] for r in dropped] == ["n/a"]
    inputs = {i.input for i in loaded(shared_data, "medication_qa").instances}
    assert dropped[0]["Question"] not in inputs


def test_race_based_med_duplicate_prompt_keeps_its_last_label(shared_data: Path) -> None:
    sample = rows(shared_data, "race_based_med")
    seen: dict[tuple[str, str], str] = {}
    for record in sample:
        seen[(record["Question"], record["Response"])] = record["True/False"]  # HELM's dict: last wins
    golds = [i.gold for i in loaded(shared_data, "race_based_med").instances]
    assert golds == ["yes" if label == "True" else "no" for label in seen.values()]
    assert set(golds) == {"yes", "no"}


def test_closed_ended_gold_answers_score_as_medhelm_scores_them(shared_data: Path) -> None:
    race = loaded(shared_data, "race_based_med")
    letters = [i.letters[i.correct or 0] for i in race.instances]
    scores = score_all(BENCHMARKS["race_based_med"], list(zip(race.instances, letters)), race.data_dir)
    assert {s["exact_match"] for s in scores} == {1.0}

    hallu = loaded(shared_data, "medhallu")
    scores = score_all(BENCHMARKS["medhallu"], [(i, i.reference) for i in hallu.instances], hallu.data_dir)
    assert {s["exact_match"] for s in scores} == {1.0}
    flipped = [(i, "1" if i.reference == "0" else "0") for i in hallu.instances]
    assert {s["exact_match"] for s in score_all(BENCHMARKS["medhallu"], flipped, hallu.data_dir)} == {0.0}


def test_ehr_sql_gold_query_scores_1_only_where_the_toy_database_has_rows(shared_data: Path) -> None:
    data = loaded(shared_data, "ehr_sql")
    db = shared_data / "ehr_sql" / "eicu.sqlite"
    assert "CREATE TABLE vitalperiodic" in data.instances[0].input and "DROP TABLE" not in data.instances[0].input
    scores = score_all(BENCHMARKS["ehr_sql"], [(i, i.reference) for i in data.instances], data.data_dir)
    with_rows = 0
    for instance, result in zip(data.instances, scores):
        has_rows = not instance.extra["is_impossible"] and bool(execute(db, instance.reference)[0])
        with_rows += has_rows
        # Unanswerable items have the gold text "null", which is output, so they score 0 too.
        assert result["ehr_sql_execution_accuracy"] == float(has_rows), instance.id
    assert with_rows >= 1


@pytest.mark.parametrize("benchmark_id", OPEN_ENDED)
def test_open_ended_reference_scores_full_rouge_against_itself(shared_data: Path, benchmark_id: str) -> None:
    data = loaded(shared_data, benchmark_id)
    instances = sorted(data.instances, key=lambda i: len(i.reference))[:3]  # ROUGE on long notes is slow
    scores = score_all(BENCHMARKS[benchmark_id], [(i, i.reference) for i in instances], data.data_dir)
    assert [s["rouge_l"] for s in scores] == pytest.approx([1.0] * len(instances))
    assert BENCHMARKS[benchmark_id].jury_metric == f"{benchmark_id}_accuracy"


@pytest.mark.parametrize("model_name", ["baseline-random", "baseline-extractive"])
@pytest.mark.parametrize("benchmark_id", IDS)
def test_baselines_run_end_to_end(shared_data: Path, engine: Engine, benchmark_id: str, model_name: str) -> None:
    benchmark = BENCHMARKS[benchmark_id]
    model = ModelRegistry.load().resolve(model_name)
    data = loaded(shared_data, benchmark_id)
    ctx = ScoreContext(data_dir=data.data_dir)
    outcomes = [
        engine.submit(evaluate(benchmark, i, model, engine, ctx)).result(timeout=60) for i in data.instances[:4]
    ]
    for outcome in outcomes:
        assert outcome.completion.model == model_name and not outcome.completion.cached
        assert benchmark.main_metric in outcome.metrics and 0.0 <= outcome.score <= 1.0
        assert outcome.passed == (outcome.score >= benchmark.pass_at)
        if outcome.instance.choices:
            assert outcome.completion.text in outcome.instance.letters
        elif benchmark.open_ended:
            assert outcome.completion.text.strip() and {"rouge_1", "rouge_2"} <= set(outcome.metrics)


def test_cli_lists_the_public_benchmarks_and_where_their_data_is(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["benchmarks", "--data-dir", str(shared_data)]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    for benchmark_id in IDS:
        assert str(shared_data / benchmark_id) in lines[benchmark_id], lines[benchmark_id]
        assert {"public", BENCHMARKS[benchmark_id].main_metric} <= set(lines[benchmark_id])
    for benchmark_id in ("med_mcqa", "med_dialog"):  # public, but no shared sample
        assert "absent" in lines[benchmark_id]
    assert "Messaging" in lines["med_dialog"] and "open" in lines["med_dialog"]
