"""Scoring of the public benchmarks that need more than a metric function.

EHRSQL goes through its benchmark's scorer on a tiny synthetic SQLite database (the scorer finds
``eicu.sqlite`` in the data folder); MedDialog's two subsets are runs, so its score is the mean of
the two run means, as in MedHELM.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from pytest_medhelm import Instance, ScoreContext
from pytest_medhelm.data.loading import sample, to_instances
from pytest_medhelm.results import InstanceRecord, aggregate
from pytest_medhelm.suites.medical_research import test_ehr_sql
from pytest_medhelm.suites.patient_communication import test_med_dialog

EHR_SQL = test_ehr_sql.BENCHMARK
AGE_QUERY = "select patient.age from patient where patient.uniquepid = 'SYN-001'"


@pytest.fixture
def eicu_dir(tmp_path: Path) -> Path:
    """A data folder holding a synthetic ``eicu.sqlite``: two invented patients, no labs."""
    with sqlite3.connect(tmp_path / "eicu.sqlite") as conn:
        conn.execute("CREATE TABLE patient (uniquepid TEXT, age TEXT)")
        conn.executemany("INSERT INTO patient VALUES (?, ?)", [("SYN-001", "42"), ("SYN-002", "67")])
        conn.execute("CREATE TABLE lab (labid INT, uniquepid TEXT, labname TEXT)")
    return tmp_path


def question(query: str, *, value: dict[str, str] | None = None, impossible: bool = False) -> Instance:
    record = {
        "id": "syn",
        "question": "synthetic question",
        "query": query,
        "is_impossible": impossible,
        "_schema": "CREATE TABLE patient (...) ;",
    }
    if value is not None:
        record["value"] = value
    instance = EHR_SQL.to_instance(record)
    assert isinstance(instance, Instance)
    return instance


def score(instance: Instance, output: str, data_dir: Path | None) -> dict[str, float]:
    return asyncio.run(EHR_SQL.score(instance, output, ScoreContext(data_dir=data_dir)))


def test_ehr_sql_compares_result_sets_not_query_text(eicu_dir: Path) -> None:
    instance = question(AGE_QUERY, value={"patient_id": "SYN-001"})
    rewritten = "<sql>\nSELECT age FROM patient WHERE uniquepid = 'SYN-001';\n</sql>"
    assert score(instance, rewritten, eicu_dir)["ehr_sql_execution_accuracy"] == 1.0
    wrong = score(instance, "select age from patient", eicu_dir)
    assert wrong["ehr_sql_execution_accuracy"] == 0.0 and wrong["ehr_sql_query_validity"] == 1.0
    broken = score(instance, "select nothing from nowhere", eicu_dir)
    assert broken["ehr_sql_execution_accuracy"] == 0.0 and broken["ehr_sql_query_validity"] == 0.0


def test_ehr_sql_unanswerable_question_scores_only_an_empty_answer(eicu_dir: Path) -> None:
    instance = question("null", impossible=True)
    assert score(instance, "   ", eicu_dir)["ehr_sql_execution_accuracy"] == 1.0
    assert score(instance, "```", eicu_dir)["ehr_sql_execution_accuracy"] == 0.0  # any output counts


def test_ehr_sql_empty_gold_with_slot_values_never_scores_faithfully(eicu_dir: Path) -> None:
    query = "select lab.labname from lab where lab.uniquepid = 'SYN-001'"
    scores = score(question(query, value={"patient_id": "SYN-001"}), query, eicu_dir)
    # HELM compares the rows with the slot values when the gold result is empty: never equal.
    assert scores["ehr_sql_execution_accuracy"] == 0.0
    assert scores["ehr_sql_execution_accuracy_corrected"] == 1.0


def test_ehr_sql_without_its_database_is_an_error_not_a_zero(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="eicu.sqlite"):
        score(question(AGE_QUERY), AGE_QUERY, tmp_path)
    with pytest.raises(FileNotFoundError):
        score(question(AGE_QUERY), AGE_QUERY, None)


def test_med_dialog_score_is_the_mean_of_its_two_run_means() -> None:
    records = [
        {"subset": "healthcaremagic", "src": f"Patient: synthetic case {k}.", "tgt": "Synthetic."} for k in range(4)
    ]
    records.append({"subset": "icliniq", "src": "Patient: synthetic case 9.", "tgt": "Synthetic."})
    instances = to_instances(test_med_dialog.BENCHMARK, enumerate(records, start=1), "synthetic")
    scores = {"healthcaremagic": [1.0, 1.0, 1.0, 0.0], "icliniq": [0.0]}
    rows = []
    for instance in instances:
        value = scores[instance.run].pop(0)
        rows.append(
            InstanceRecord(
                benchmark="med_dialog",
                instance_id=instance.id,
                model="synthetic-model",
                score=value,
                metrics={"rouge_l": value},
                passed=value >= 0.2,
                run=instance.run,
                category="patient_communication",
                subcategory="Patient-Provider Messaging",
                metric="rouge_l",
                normalized=value,
                open_ended=True,
            )
        )

    result = aggregate(rows).benchmarks["med_dialog"].scores["synthetic-model"]
    assert result.runs == {"healthcaremagic": 0.75, "icliniq": 0.0}
    assert result.score == pytest.approx(0.375)  # the pooled mean would be 0.6
    assert result.n == 5

    # MedHELM samples each subset on its own: a cap of 2 takes 2 + 1 instances.
    chosen = sample(instances, 2)
    assert sorted(i.run for i in chosen) == ["healthcaremagic", "healthcaremagic", "icliniq"]
