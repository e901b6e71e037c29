"""The gated benchmarks' loaders, reading small SYNTHETIC files in each owner's format.

Every patient, note and code here is invented ("SYNTHETIC NOTE 1"); nothing is copied from the real
datasets. Files are found through ``--medhelm-data-dir DIR/<id>/`` or the ini key
``medhelm_data_paths`` (``DataSettings.paths``), as a credentialed user would lay them out.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather
import pyarrow.parquet
import pytest

from pytest_medhelm import Benchmark, DataError, ScoreContext
from pytest_medhelm.data import DataSettings, DataUnavailable, DataWarning, load
from pytest_medhelm.data import tokens
from pytest_medhelm.suites.administration_and_workflow import test_mimiciv_billing_code as billing
from pytest_medhelm.suites.clinical_decision_support import test_ehrshot as ehrshot
from pytest_medhelm.suites.clinical_decision_support import test_medalign as medalign
from pytest_medhelm.suites.clinical_note_generation import test_dischargeme as dischargeme
from pytest_medhelm.suites.clinical_note_generation import test_mimic_bhc as mimic_bhc
from pytest_medhelm.suites.clinical_note_generation import test_mimic_rrs as mimic_rrs
from pytest_medhelm.suites.medical_research import test_n2c2_ct_matching as n2c2

T0 = datetime(2020, 1, 1)


def load_from(benchmark: Benchmark, data_dir: Path, cap: int = 1000):  # type: ignore[no-untyped-def]
    return load(benchmark, DataSettings(data_dir=data_dir), cap=cap)


def write_csv_gz(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))


# ------------------------------------------------------------------ EHRSHOT
def ehrshot_export(
    root: Path, *, events: list[tuple[int, datetime | None, str]], labels: dict[str, list[tuple[int, datetime, bool]]]
) -> Path:
    folder = root / "ehrshot"
    (folder / "data").mkdir(parents=True)
    ids, times, codes = zip(*events)
    pa.parquet.write_table(
        pa.table(
            {
                "subject_id": pa.array(ids, pa.int64()),
                "time": pa.array(times, pa.timestamp("us")),
                "code": pa.array(codes, pa.string()),
            }
        ),
        folder / "data" / "data.parquet",
    )
    for task in ehrshot.TASKS:
        rows = labels.get(task, [(1, T0 + timedelta(days=9), False)])
        (folder / "labels" / task).mkdir(parents=True)
        subject, when, value = zip(*rows)
        pa.parquet.write_table(
            pa.table(
                {
                    "subject_id": pa.array(subject, pa.int64()),
                    "prediction_time": pa.array(when, pa.timestamp("us")),
                    "boolean_value": pa.array(value, pa.bool_()),
                }
            ),
            folder / "labels" / task / "labels.parquet",
        )
    return folder


def test_ehrshot_lists_codes_up_to_the_prediction_time_one_run_per_task(tmp_path: Path) -> None:
    events = [
        (2, T0 + timedelta(days=1), "SYNTH/B1"),
        (1, T0 + timedelta(days=2), "SYNTH/A2"),
        (1, T0 + timedelta(days=1), "SYNTH/A1"),
        (1, None, "SYNTH/STATIC"),
        (1, T0 + timedelta(days=5), "SYNTH/A5"),
    ]
    ehrshot_export(
        tmp_path,
        events=events,
        labels={
            "guo_readmission": [(1, T0 + timedelta(days=3), True), (2, T0 + timedelta(days=3), False)],
            "lab_anemia": [(1, T0 + timedelta(days=5), False)],
        },
    )
    loaded = load_from(ehrshot.BENCHMARK, tmp_path)
    by_id = {i.id: i for i in loaded.instances}
    readmit = by_id["guo_readmission-1-2020-01-04T00:00:00"]
    assert readmit.run == "guo_readmission" and readmit.gold == "yes" and readmit.choices == ("yes", "no")
    # Time-ordered codes at or before the prediction time; a timeless (static) event is never listed.
    assert readmit.input.endswith("Patient EHR:\n- SYNTH/A1\n- SYNTH/A2\n\n")
    assert "SYNTH/A5" not in readmit.input and "STATIC" not in readmit.input
    assert by_id["guo_readmission-2-2020-01-04T00:00:00"].gold == "no"
    assert by_id["lab_anemia-1-2020-01-06T00:00:00"].input.endswith("- SYNTH/A1\n- SYNTH/A2\n- SYNTH/A5\n\n")
    assert sorted({i.run for i in loaded.instances}) == sorted(ehrshot.TASKS)
    # new_* tasks carry a clinical definition and the phenotype's code list (HELM's "new" config).
    hypertension = next(i for i in loaded.instances if i.run == "new_hypertension")
    assert "Medical Code Definition" in hypertension.input and "ICD10CM/I10, ICD9CM/401," in hypertension.input
    assert "Medical Code Definition" not in readmit.input
    prompt = ehrshot.BENCHMARK.render(readmit)
    # Without HELM's package: our own words, in HELM's layout (an empty input noun gives ": ").
    assert prompt.startswith(ehrshot.BENCHMARK.prompt.instructions + "\n\n: \n")
    assert prompt.endswith("- SYNTH/A2\n\n\nA. yes\nB. no\n" + ehrshot.BENCHMARK.prompt.output_noun + ":")


def test_ehrshot_drops_prompts_over_100k_tokens(tmp_path: Path) -> None:
    many = [(1, T0 + timedelta(minutes=i), f"SYNTH/{1000000 + i}") for i in range(14_000)]
    ehrshot_export(
        tmp_path,
        events=[*many, (2, T0, "SYNTH/B1")],
        labels={
            "guo_readmission": [
                (1, T0 + timedelta(days=30), True),
                (1, T0 + timedelta(minutes=10), True),
                (2, T0 + timedelta(days=30), False),
            ]
        },
    )
    ids = [i.id for i in load_from(ehrshot.BENCHMARK, tmp_path).instances if i.run == "guo_readmission"]
    assert tokens.count("\n".join(f"- {code}" for _, _, code in many)) > 100_000
    assert ids == ["guo_readmission-1-2020-01-01T00:10:00", "guo_readmission-2-2020-01-31T00:00:00"]


def test_ehrshot_lab_task_keeps_pandas_sample_of_10000_labels_in_helms_order_and_pairing(tmp_path: Path) -> None:
    n = 10_003
    labels = [(1, T0 + timedelta(minutes=i), i % 2 == 0) for i in range(n)]
    ehrshot_export(tmp_path, events=[(1, T0, "SYNTH/A0")], labels={"lab_anemia": labels})
    with pytest.warns(DataWarning, match=r"lab_anemia.labels\.parquet: the labels are not sorted"):
        loaded = load_from(ehrshot.BENCHMARK, tmp_path, cap=20_000)
    lab = [i for i in loaded.instances if i.run == "lab_anemia"]
    # pandas' DataFrame.sample(n=10000, random_state=1) is RandomState(1).choice(n, 10000, replace=False).
    expected = np.random.RandomState(1).choice(n, 10_000, replace=False)
    # HELM's instances follow the labels sorted by (subject, time) ...
    assert [i.id for i in lab] == [
        f"lab_anemia-1-{(T0 + timedelta(minutes=int(k))).isoformat()}" for k in sorted(expected)
    ]
    # ... and take their labels from the sampled file order: the k-th prompt gets the k-th sampled label.
    assert [i.gold for i in lab[:50]] == ["yes" if k % 2 == 0 else "no" for k in expected[:50]]
    # The correct pairing is kept beside it and scored as exact_match_pairing_corrected.
    assert [i.extra["corrected"] for i in lab[:50]] == [0 if k % 2 == 0 else 1 for k in sorted(expected)[:50]]
    first = lab[0]
    own = "A" if first.extra["corrected"] == 0 else "B"
    scores = asyncio.run(ehrshot.BENCHMARK.score(first, own, ScoreContext()))
    assert scores["exact_match_pairing_corrected"] == 1.0
    assert scores["exact_match"] == float(first.correct == first.extra["corrected"])


def test_ehrshot_sorted_label_file_pairs_each_prompt_with_its_own_label_without_warning(tmp_path: Path) -> None:
    labels = [(1, T0 + timedelta(days=1), True), (1, T0 + timedelta(days=2), False), (2, T0, True)]
    ehrshot_export(tmp_path, events=[(1, T0, "SYNTH/A0")], labels={"guo_readmission": labels})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        loaded = load_from(ehrshot.BENCHMARK, tmp_path)
    readmit = [i for i in loaded.instances if i.run == "guo_readmission"]
    assert [i.gold for i in readmit] == ["yes", "no", "yes"]
    assert all("corrected" not in i.extra for i in readmit)
    assert "exact_match_pairing_corrected" not in asyncio.run(ehrshot.BENCHMARK.score(readmit[0], "A", ScoreContext()))


def test_ehrshot_missing_label_column_names_file_and_field(tmp_path: Path) -> None:
    folder = ehrshot_export(tmp_path, events=[(1, T0, "SYNTH/A0")], labels={})
    path = folder / "labels" / "lab_anemia" / "labels.parquet"
    pa.parquet.write_table(pa.table({"subject_id": [1], "prediction_time": [T0]}), path)
    with pytest.raises(DataError) as error:
        load_from(ehrshot.BENCHMARK, tmp_path)
    assert error.value.field == "boolean_value" and error.value.file == path


# ------------------------------------------------------------------ MedAlign
def medalign_files(folder: Path, *, ehr: str = "<eventstream>SYNTHETIC EHR 10</eventstream>") -> None:
    (folder / "medalign_ehr_xml").mkdir(parents=True)
    (folder / "medalign_ehr_xml" / "10.xml").write_text(ehr)
    (folder / "medalign_ehr_xml" / "20.xml").write_text("<eventstream>SYNTHETIC EHR 20</eventstream>")
    (folder / "clinician-reviewed-model-responses.tsv").write_text(
        "instruction_id\tquestion\tperson_id\tmodel_response\n"
        "1\tSynthetic question one?\t10\tr1\n1\tSynthetic question one?\t10\tr2\n"
        "2\tSynthetic question two?\t20\tr3\n"
    )
    (folder / "clinician-instruction-responses.tsv").write_text(
        "instruction_id\tannotator_num\tclinician_response\n"
        "2\tAnnotator_1\tSynthetic answer two\n1\tAnnotator_2\tnot used\n1\tAnnotator_1\tSynthetic answer one\n"
        "3\tAnnotator_1\tno such instruction\n"
    )


def test_medalign_joins_annotator_1_answers_with_instructions_and_ehr(tmp_path: Path) -> None:
    folder = tmp_path / "held-elsewhere"
    medalign_files(folder)
    loaded = load(medalign.BENCHMARK, DataSettings(paths={"medalign": folder}), cap=1000)
    assert [(i.id, i.reference) for i in loaded.instances] == [
        ("2", "Synthetic answer two"),
        ("1", "Synthetic answer one"),
    ]
    one = loaded.instances[1]
    assert one.input.startswith("\nQuestion: Instruction: ")
    assert (
        "EHR: <eventstream>SYNTHETIC EHR 10</eventstream>\n\nQuestion: Synthetic question one?\n\nAnswer:" in one.input
    )
    assert medalign.BENCHMARK.render(one) == one.input + "\n"  # no instructions, no output cue


def test_medalign_keeps_the_most_recent_part_of_a_long_ehr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(medalign, "CONTEXT", medalign.ANSWER + 60)
    record = {
        "instruction_id": "1",
        "question": "Synthetic question?",
        "clinician_response": "x",
        "ehr": " ".join(f"oldevent{i}" for i in range(200)) + " NEWEST",
    }
    text = medalign.to_instance(record).input
    assert "NEWEST" in text and "oldevent0 " not in text and "oldevent199" in text


def test_medalign_missing_ehr_file_names_the_instruction_row(tmp_path: Path) -> None:
    medalign_files(tmp_path / "medalign")
    (tmp_path / "medalign" / "medalign_ehr_xml" / "20.xml").unlink()
    with pytest.raises(DataError) as error:
        load_from(medalign.BENCHMARK, tmp_path)
    assert error.value.line == 4 and error.value.field == "person_id"
    assert error.value.file == tmp_path / "medalign" / "clinician-reviewed-model-responses.tsv"


# ------------------------------------------------------------------ DischargeMe
def dischargeme_files(base: Path) -> None:
    write_csv_gz(
        base / "diagnosis.csv.gz",
        [
            {"subject_id": "200", "stay_id": "1", "icd_title": "synthetic"},
            {"subject_id": "100", "stay_id": "2", "icd_title": "s"},
            {"subject_id": "200", "stay_id": "3", "icd_title": "s"},
            {"subject_id": "300", "stay_id": "4", "icd_title": "s"},
        ],
    )
    write_csv_gz(
        base / "triage.csv.gz",
        [
            {"subject_id": "100", "stay_id": "2"},
            {"subject_id": "200", "stay_id": "1"},
            {"subject_id": "300", "stay_id": "4"},
        ],
    )
    write_csv_gz(
        base / "discharge.csv.gz",
        [
            {
                "note_id": "n1",
                "subject_id": "100",
                "hadm_id": "11",
                "text": "SYNTHETIC NOTE 1\nCOURSE ONE\nINSTRUCT ONE",
            },
            {
                "note_id": "n2",
                "subject_id": "200",
                "hadm_id": "21",
                "text": "SYNTHETIC NOTE 2\nCOURSE TWO\nINSTRUCT TWO",
            },
            {"note_id": "n3", "subject_id": "300", "hadm_id": "31", "text": "SYNTHETIC NOTE 3, no radiology"},
        ],
    )
    write_csv_gz(
        base / "radiology.csv.gz",
        [
            {"note_id": "r1", "subject_id": "100", "hadm_id": "11", "text": "SYNTHETIC XRAY 1"},
            {"note_id": "r2", "subject_id": "100", "hadm_id": "11", "text": "SYNTHETIC XRAY 1 (second)"},
            {"note_id": "r3", "subject_id": "200", "hadm_id": "21", "text": "SYNTHETIC XRAY 2"},
        ],
    )
    write_csv_gz(
        base / "edstays.csv.gz",
        [{"subject_id": s, "hadm_id": h, "stay_id": "9"} for s, h in (("100", "11"), ("200", "21"), ("300", "31"))],
    )
    write_csv_gz(
        base / "discharge_target.csv.gz",
        [
            {
                "note_id": n,
                "hadm_id": h,
                "discharge_instructions": f"INSTRUCT {w}",
                "brief_hospital_course": f"COURSE {w}",
            }
            for n, h, w in (("n1", "11", "ONE"), ("n2", "21", "TWO"), ("n3", "31", "THREE"))
        ],
    )


def test_dischargeme_two_instances_per_admission_with_the_target_section_removed(tmp_path: Path) -> None:
    dischargeme_files(tmp_path / "dischargeme")
    loaded = load_from(dischargeme.BENCHMARK, tmp_path)
    # Subjects in diagnosis order (200 before 100); admission 31 has no radiology report.
    assert [i.id for i in loaded.instances] == [
        "21-brief_hospital_course",
        "21-discharge_instructions",
        "11-brief_hospital_course",
        "11-discharge_instructions",
    ]
    course, instructions = loaded.instances[2], loaded.instances[3]
    assert course.reference == "COURSE ONE" and instructions.reference == "INSTRUCT ONE"
    assert "COURSE ONE" not in course.input and "INSTRUCT ONE" in course.input
    assert "INSTRUCT ONE" not in instructions.input and "COURSE ONE" in instructions.input
    assert "Radiology Report:\nSYNTHETIC XRAY 1\n\n" in course.input  # the admission's first report
    assert course.input.endswith("\n\nBrief Hospital Course:\n")
    assert dischargeme.BENCHMARK.render(course).endswith("Brief Hospital Course:\n\nAnswer:")


def test_dischargeme_reads_physionets_own_folder_tree(tmp_path: Path) -> None:
    dischargeme_files(tmp_path / "dischargeme" / "files" / "discharge-me" / "1.3" / "test_phase_1")
    assert len(load_from(dischargeme.BENCHMARK, tmp_path).instances) == 4


# ------------------------------------------------------------------ MIMIC-IV-BHC and MIMIC-RRS
def test_mimic_bhc_reads_json_lines_and_skips_empty_pairs(tmp_path: Path) -> None:
    folder = tmp_path / "mimic_bhc"
    folder.mkdir()
    lines = [
        {"input": "SYNTHETIC NOTE 1", "target": "SYNTHETIC COURSE 1"},
        {"input": "", "target": "x"},
        {"input": "SYNTHETIC NOTE 3", "target": "SYNTHETIC COURSE 3"},
    ]
    (folder / "mimic_iv_bhc.json").write_text("\n".join(json.dumps(line) for line in lines))
    loaded = load_from(mimic_bhc.BENCHMARK, tmp_path)
    assert [(i.id, i.reference) for i in loaded.instances] == [
        ("line1", "SYNTHETIC COURSE 1"),
        ("line3", "SYNTHETIC COURSE 3"),
    ]
    assert mimic_bhc.BENCHMARK.render(loaded.instances[0]).endswith(
        "\n\nClinical Note:\nSYNTHETIC NOTE 1\nBrief Hospital Course:"
    )


def test_mimic_bhc_line_without_target_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "mimic_bhc").mkdir()
    (tmp_path / "mimic_bhc" / "mimic_iv_bhc.json").write_text('{"input": "a", "target": "b"}\n{"input": "c"}\n')
    with pytest.raises(DataError) as error:
        load_from(mimic_bhc.BENCHMARK, tmp_path)
    assert (error.value.line, error.value.field) == (2, "target")


def test_mimic_rrs_pairs_lines_and_rejects_misaligned_files(tmp_path: Path) -> None:
    folder = tmp_path / "mimic_rrs"
    folder.mkdir()
    (folder / "test.findings.tok").write_text("synthetic lungs clear .\n\nsynthetic small effusion .\n")
    (folder / "test.impression.tok").write_text("no acute process .\nunused .\nsmall effusion .\n")
    loaded = load(mimic_rrs.BENCHMARK, DataSettings(paths={"mimic_rrs": folder}), cap=1000)
    assert [(i.id, i.input, i.reference) for i in loaded.instances] == [
        ("line1", "synthetic lungs clear .", "no acute process ."),
        ("line3", "synthetic small effusion .", "small effusion ."),
    ]
    assert mimic_rrs.BENCHMARK.render(loaded.instances[0]).endswith("Findings:\nsynthetic lungs clear .\nImpression:")
    (folder / "test.impression.tok").write_text("only one .\n")
    with pytest.raises(DataError, match="line-aligned"):
        load(mimic_rrs.BENCHMARK, DataSettings(paths={"mimic_rrs": folder}), cap=1000)


# ------------------------------------------------------------------ N2C2-CT
def n2c2_xml(text: str, **met: str) -> str:
    tags = "".join(f'<{name} met="{value}" />' for name, value in met.items())
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<PatientMatching><TEXT><![CDATA[{text}]]></TEXT><TAGS>{tags}</TAGS></PatientMatching>"


def test_n2c2_splits_notes_and_makes_one_run_per_criterion(tmp_path: Path) -> None:
    test_dir = tmp_path / "n2c2_ct_matching" / "test"
    test_dir.mkdir(parents=True)
    stars = "*" * 100
    text = (
        f"\n\nRecord date: 2090-01-02\nSYNTHETIC NOTE 1\n\n\nline after triple newline\n{stars}\n\n"
        f"Record date: 2091-03-04\nSYNTHETIC NOTE 2\n{stars}\n\n"
    )
    met = {"ABDOMINAL": "met", "ADVANCED-CAD": "not met", "CREATININE": "met", "ENGLISH": "met"}
    (test_dir / "b_patient.xml").write_text(n2c2_xml(text, **met))
    (test_dir / "a_patient.xml").write_text(
        n2c2_xml("SYNTHETIC NOTE, undated", ABDOMINAL="not met", **{"ADVANCED-CAD": "met"}, CREATININE="not met")
    )
    loaded = load_from(n2c2.BENCHMARK, tmp_path)
    assert [i.id for i in loaded.instances] == [f"{c}-{p}" for c in n2c2.CRITERIA for p in ("a_patient", "b_patient")]
    by_id = {i.id: i for i in loaded.instances}
    assert [by_id[f"{c}-b_patient"].gold for c in n2c2.CRITERIA] == ["yes", "no", "yes"]
    b = by_id["ABDOMINAL-b_patient"]
    assert b.run == "ABDOMINAL"
    note_1 = "## Note #1\nDate: 2090-01-02\nRecord date: 2090-01-02\nSYNTHETIC NOTE 1\nline after triple newline"
    assert note_1 + "\n" + "*" * 50 + "\n\n## Note #2\nDate: 2091-03-04\n" in b.input
    assert "2 notes" in b.input and "today's date (2091-03-04)" in b.input
    assert "Date: \nSYNTHETIC NOTE, undated" in by_id["ABDOMINAL-a_patient"].input
    prompt = n2c2.BENCHMARK.render(b)
    assert prompt.startswith(n2c2.BENCHMARK.prompt.instructions + "\n\n: ")
    assert prompt.endswith("ABDOMINAL met?\nA. yes\nB. no\n" + n2c2.BENCHMARK.prompt.output_noun + ":")


def test_n2c2_file_without_a_criterion_tag_is_an_error(tmp_path: Path) -> None:
    test_dir = tmp_path / "n2c2_ct_matching" / "test"
    test_dir.mkdir(parents=True)
    (test_dir / "p.xml").write_text(n2c2_xml("SYNTHETIC NOTE", ABDOMINAL="met", CREATININE="met"))
    with pytest.raises(DataError) as error:
        load_from(n2c2.BENCHMARK, tmp_path)
    assert error.value.file == test_dir / "p.xml" and error.value.field == "ADVANCED-CAD"


# ------------------------------------------------------------------ MIMIC-IV billing codes
def test_billing_reads_the_feather_file_joins_codes_and_scores_f1(tmp_path: Path) -> None:
    folder = tmp_path / "mimiciv_billing_code"
    folder.mkdir()
    pa.feather.write_feather(
        pa.table(
            {
                "text": ["SYNTHETIC DISCHARGE NOTE 1", None, "SYNTHETIC NOTE 3"],
                "target": [["E78.5", "I10"], ["Z00.0"], ["N18.3"]],
            }
        ),
        folder / "mimiciv_icd10.feather",
    )
    loaded = load_from(billing.BENCHMARK, tmp_path)
    assert [(i.id, i.reference) for i in loaded.instances] == [("row1", "E78.5,I10"), ("row3", "N18.3")]
    assert billing.BENCHMARK.render(loaded.instances[0]).endswith(
        "Note:\nSYNTHETIC DISCHARGE NOTE 1\n" + billing.BENCHMARK.prompt.output_noun + ":"
    )
    metrics = asyncio.run(billing.BENCHMARK.score(loaded.instances[0], "E78.5 and J45", ScoreContext()))
    assert metrics["mimiciv_billing_code_f1"] == pytest.approx(0.5)
    assert "mimiciv_billing_code_f1_corrected" in metrics


def test_billing_file_without_target_column_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "mimiciv_billing_code").mkdir()
    path = tmp_path / "mimiciv_billing_code" / "mimiciv_icd10.feather"
    pa.feather.write_feather(pa.table({"text": ["SYNTHETIC NOTE"], "codes": [["I10"]]}), path)
    with pytest.raises(DataError) as error:
        load_from(billing.BENCHMARK, tmp_path)
    assert error.value.file == path and error.value.field == "target"


# ------------------------------------------------------------------ absent data
@pytest.mark.parametrize(
    ("benchmark", "needs"),
    [
        (ehrshot.BENCHMARK, ["Redivis", "data/data.parquet", "labels/<task>/labels.parquet"]),
        (medalign.BENCHMARK, ["data-use agreement", "clinician-instruction-responses.tsv", "medalign_ehr_xml"]),
        (dischargeme.BENCHMARK, ["PhysioNet credentialed", "discharge_target", "radiology"]),
        (mimic_bhc.BENCHMARK, ["PhysioNet credentialed", "mimic_iv_bhc.json"]),
        (mimic_rrs.BENCHMARK, ["PhysioNet credentialed", "test.findings.tok", "test.impression.tok"]),
        (n2c2.BENCHMARK, ["DBMI", "data-use agreement", "test/"]),
        (billing.BENCHMARK, ["PhysioNet credentialed", "mimiciv_icd10.feather"]),
    ],
    ids=lambda value: getattr(value, "id", ""),
)
def test_absent_data_is_unavailable_naming_the_credential_and_files(
    tmp_path: Path, benchmark: Benchmark, needs: list[str]
) -> None:
    assert benchmark.access == "gated" and benchmark.source.fetch is None
    with pytest.raises(DataUnavailable) as error:
        load_from(benchmark, tmp_path)
    for text in needs:
        assert text in str(error.value)


def test_a_folder_without_the_needed_files_is_unavailable_too(tmp_path: Path) -> None:
    (tmp_path / "dischargeme").mkdir()
    (tmp_path / "dischargeme" / "README.txt").write_text("synthetic placeholder")
    with pytest.raises(DataUnavailable, match=r"lacks diagnosis\.csv\.gz.*PhysioNet credentialed"):
        load_from(dischargeme.BENCHMARK, tmp_path)
