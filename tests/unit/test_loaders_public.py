"""The public benchmarks' downloads, parsed from small synthetic files in each upstream format.

HTTP is served by ``httpx.MockTransport`` (the Hugging Face download by a ``huggingface_hub``
client factory over ``httpx2.MockTransport``). Every file here is made up ("SYNTHETIC NOTE 1"),
and each test pins the URLs HELM downloads and the loader quirks MedHELM's scores depend on.
"""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import docx
import httpx
import httpx2
import huggingface_hub
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from docx.shared import RGBColor
from huggingface_hub.utils import _http as hf_http
from openpyxl import Workbook

from pytest_medhelm import Benchmark, DataError, Fetcher, Instance
from pytest_medhelm.data import DataSettings, DataUnavailable, download, load
from pytest_medhelm.data.loading import to_instances
from pytest_medhelm.suites.clinical_decision_support import test_med_mcqa, test_mtsamples_replicate
from pytest_medhelm.suites.clinical_note_generation import test_aci_bench, test_mtsamples_procedures
from pytest_medhelm.suites.medical_research import test_ehr_sql, test_medhallu, test_race_based_med
from pytest_medhelm.suites.patient_communication import test_med_dialog, test_medi_qa, test_medication_qa

Body = Any  # bytes or str are served as they are, anything else as JSON


class Server:
    """Serves fixed bodies by exact URL (404 otherwise) and records every URL asked for."""

    def __init__(self, routes: Mapping[str, Body]) -> None:
        self.routes = dict(routes)
        self.requested: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requested.append(url)
        if url not in self.routes:
            return httpx.Response(404)
        body = self.routes[url]
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
        return httpx.Response(200, content=body)

    def fetcher(self, tmp_path: Path) -> Fetcher:
        return Fetcher(tmp_path / "cache", client=httpx.Client(transport=httpx.MockTransport(self.handler)))


def instances_of(benchmark: Benchmark, records: list[dict[str, Any]]) -> list[Instance]:
    return to_instances(benchmark, enumerate(records, start=1), "fetched")


# ------------------------------------------------------------------------------- MTSamples (both)
NOTES = {
    # PLAN preferred; only its first line is the reference; SUMMARY comes before PLAN.
    "Synthetic One.txt": "SYNTHETIC NOTE 1\nHISTORY: invented patient.\nSUMMARY: synthetic summary.\n"
    "PLAN: Start synthetic drug X.\nReview in two weeks.\n",
    # An empty PLAN line falls back to SUMMARY.
    "Synthetic Two.txt": "SYNTHETIC NOTE 2\nPLAN:\nSUMMARY: Only the summary counts.\n",
    # "Plan:" is found on the upper-cased text but the exact-case split fails: HELM drops the file,
    # even though a usable FINDINGS section exists.
    "Synthetic Three.txt": "SYNTHETIC NOTE 3\nPlan: mixed case marker.\nFINDINGS: normal.\n",
    "Synthetic Four.txt": "SYNTHETIC NOTE 4\nno section at all\n",
}
LISTED = [*NOTES, "Synthetic Gone.txt", "README.md"]


def mtsamples_server(listing_url: str, raw_base: str) -> Server:
    routes: dict[str, Body] = {listing_url: [{"name": name, "type": "file"} for name in LISTED]}
    routes.update({raw_base + name.replace(" ", "%20"): text for name, text in NOTES.items()})
    return Server(routes)


def test_mtsamples_replicate_lists_at_the_pinned_ref_and_keeps_helm_quirks(tmp_path: Path) -> None:
    module = test_mtsamples_replicate
    assert module.LISTING.endswith("mtsamples_processed?ref=ebc104a4f96c5b7602242f301e081e9934a23344")
    server = mtsamples_server(module.LISTING, module.RAW)
    records = module.fetch(server.fetcher(tmp_path))

    # A listed file that fails to download is skipped; only .txt files are fetched.
    assert [r["file_name"] for r in records] == list(NOTES)
    assert server.requested[0] == module.LISTING
    assert (
        "https://raw.githubusercontent.com/raulista1997/benchmarkdata/ebc104a4f96c5b7602242f301e081e9934a23344"
        "/mtsamples_processed/Synthetic%20One.txt"
    ) in server.requested
    assert not any(url.endswith("README.md") for url in server.requested)

    instances = instances_of(module.BENCHMARK, records)
    assert [(i.id, i.reference) for i in instances] == [
        ("Synthetic One.txt", "Start synthetic drug X."),
        ("Synthetic Two.txt", "Only the summary counts."),
    ]
    # Only the PLAN section and what follows are removed from the input.
    assert instances[0].input == "SYNTHETIC NOTE 1\nHISTORY: invented patient.\nSUMMARY: synthetic summary."
    assert instances[1].input == "SYNTHETIC NOTE 2"


def test_mtsamples_procedures_lists_the_default_branch_and_reads_the_pinned_commit(tmp_path: Path) -> None:
    module = test_mtsamples_procedures
    assert module.LISTING == "https://api.github.com/repos/raulista1997/benchmarkdata/contents/mtsample_procedure"
    server = mtsamples_server(module.LISTING, module.RAW)
    records = module.fetch(server.fetcher(tmp_path))

    assert "?" not in server.requested[0]  # no ref: whatever the default branch holds
    assert all("/c4c252443fa9c52afb6960f53e51be278639bea2/mtsample_procedure/" in url for url in server.requested[1:])
    instances = instances_of(module.BENCHMARK, records)
    assert [(i.id, i.reference) for i in instances] == [
        ("Synthetic One.txt", "Start synthetic drug X."),
        ("Synthetic Two.txt", "Only the summary counts."),
    ]
    # All three sections are removed: the input stops before the first of them.
    assert instances[0].input == "SYNTHETIC NOTE 1\nHISTORY: invented patient."
    assert instances[1].input == "SYNTHETIC NOTE 2"


# ------------------------------------------------------------------------------- ACI-Bench
def test_aci_bench_reads_the_three_pinned_test_files_only(tmp_path: Path) -> None:
    module = test_aci_bench
    prefix = (
        "https://raw.githubusercontent.com/wyim/aci-bench/e75b383172195414a7a68843ec4876e83e5409f7"
        "/data/challenge_data_json/"
    )
    names = ("clinicalnlp_taskB_test1_full.json", "clef_taskC_test3_full.json", "clinicalnlp_taskC_test2_full.json")
    routes = {
        prefix + name: {
            "data": [{"src": f"[doctor] synthetic visit {k}", "tgt": f"SYNTHETIC NOTE {k}", "file": f"S{k}-synthetic"}]
        }
        for k, name in enumerate(names)
    }
    routes[prefix + "train_full.json"] = {"data": [{"src": "train", "tgt": "train", "file": "T0"}]}
    server = Server(routes)
    records = module.fetch(server.fetcher(tmp_path))

    assert server.requested == [prefix + name for name in names]  # the training file is never read
    assert [r["_source_file"] for r in records] == list(names)
    instances = instances_of(module.BENCHMARK, records)
    assert [i.id for i in instances] == ["S0-synthetic", "S1-synthetic", "S2-synthetic"]
    assert instances[0].input.endswith("\n\n[doctor] synthetic visit 0")  # under a one-line header
    assert instances[0].reference == "SYNTHETIC NOTE 0"


# ------------------------------------------------------------------------------- MedicationQA
def medication_xlsx(rows: list[tuple[Any, ...]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "DrugQA"
    sheet.append(("Question", "Focus (Drug)", "Question Type", "Answer", "Section Title", "URL"))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_medication_qa_reads_the_first_sheet_and_drops_rows_pandas_reads_as_missing(tmp_path: Path) -> None:
    module = test_medication_qa
    assert module.URL == (
        "https://github.com/abachaa/Medication_QA_MedInfo2019/raw/master/MedInfo2019-QA-Medications.xlsx"
    )
    body = medication_xlsx(
        [
            ("synthetic question 1?", "drugA", "Dose", "Synthetic answer 1.", "Dosage", "https://example.org/1"),
            ("synthetic question 2?", "drugB", "Usage", None, None, None),
            ("synthetic question 3?", "drugC", "Usage", "n/a", "", ""),
            (None, None, None, None, None, None),
            (
                "synthetic question 4?",
                "drugD",
                "Interaction",
                "Synthetic answer 4.",
                "Interactions",
                "https://example.org/4",
            ),
        ]
    )
    server = Server({module.URL: body})
    records = module.fetch(server.fetcher(tmp_path))

    assert server.requested == [module.URL]
    assert [r["_row_index"] for r in records] == [0, 1, 2, 4]  # the blank row is skipped, not renumbered
    assert records[0]["Focus (Drug)"] == "drugA"
    instances = instances_of(module.BENCHMARK, records)
    assert [(i.input, i.reference) for i in instances] == [
        ("synthetic question 1?", "Synthetic answer 1."),
        ("synthetic question 4?", "Synthetic answer 4."),
    ]


def test_medication_qa_reports_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    server = Server({test_medication_qa.URL: "<html>moved</html>"})
    with pytest.raises(DataError, match="not a readable .xlsx"):
        test_medication_qa.fetch(server.fetcher(tmp_path))


# ------------------------------------------------------------------------------- MedDialog
def test_med_dialog_reads_both_subsets_as_two_runs(tmp_path: Path) -> None:
    module = test_med_dialog
    bundle = "https://worksheets.codalab.org/rest/bundles/0x82f0c47f6d3e4462ae9ef8ea39eebe64/contents/blob/"
    server = Server(
        {
            bundle + "healthcaremagic/test.json": {
                "data": [
                    {"src": "Patient: synthetic complaint 1. Doctor: synthetic advice.", "tgt": "Synthetic summary 1."},
                    {"src": "Patient: synthetic complaint 2. Doctor: synthetic advice.", "tgt": "Synthetic summary 2."},
                ]
            },
            bundle + "icliniq/test.json": {
                "data": [
                    {"src": "Patient: synthetic complaint 3. Doctor: synthetic advice.", "tgt": "Synthetic summary 3."},
                ]
            },
        }
    )
    records = module.fetch(server.fetcher(tmp_path))

    assert server.requested == [bundle + "healthcaremagic/test.json", bundle + "icliniq/test.json"]
    assert [r["subset"] for r in records] == ["healthcaremagic", "healthcaremagic", "icliniq"]
    instances = instances_of(module.BENCHMARK, records)
    assert [i.run for i in instances] == ["healthcaremagic", "healthcaremagic", "icliniq"]
    assert len({i.id for i in instances}) == 3 and all(i.id.startswith(i.run + "-") for i in instances)
    assert instances[2].input.startswith("Patient: synthetic complaint 3")
    assert instances[2].reference == "Synthetic summary 3."


def test_med_dialog_rejects_a_mirror_record_with_an_unknown_subset() -> None:
    record = {"subset": "webmd", "src": "Patient: synthetic.", "tgt": "Synthetic."}
    with pytest.raises(DataError) as excinfo:
        to_instances(test_med_dialog.BENCHMARK, [(7, record)], "med_dialog/test.jsonl")
    assert excinfo.value.line == 7 and excinfo.value.field == "subset"


# ------------------------------------------------------------------------------- MEDIQA
MEDIQA_XML = """<?xml version="1.0" encoding="UTF-8"?>
<MEDIQA2019-Task3-QA-TestSet>
  <Question QID="11">
    <QuestionText>synthetic question one?</QuestionText>
    <AnswerList>
      <Answer AID="11_Answer1" SystemRank="1" ReferenceRank="3" ReferenceScore="2">
        <AnswerURL>https://example.org/a</AnswerURL><AnswerText>Third-ranked synthetic answer.</AnswerText>
      </Answer>
      <Answer AID="11_Answer2" SystemRank="2" ReferenceRank="1" ReferenceScore="4">
        <AnswerURL>https://example.org/b</AnswerURL><AnswerText>First rank-1 synthetic answer &amp; more.</AnswerText>
      </Answer>
      <Answer AID="11_Answer3" SystemRank="3" ReferenceRank="1" ReferenceScore="4">
        <AnswerURL>https://example.org/c</AnswerURL><AnswerText>Second rank-1 synthetic answer.</AnswerText>
      </Answer>
    </AnswerList>
  </Question>
  <Question QID="12">
    <QuestionText>synthetic question two?</QuestionText>
    <AnswerList>
      <Answer AID="12_Answer1" SystemRank="1" ReferenceRank="2" ReferenceScore="1">
        <AnswerURL>https://example.org/d</AnswerURL><AnswerText>No rank-1 answer here.</AnswerText>
      </Answer>
    </AnswerList>
  </Question>
</MEDIQA2019-Task3-QA-TestSet>
"""


def test_medi_qa_parses_the_test_xml_into_the_hf_script_records(tmp_path: Path) -> None:
    module = test_medi_qa
    assert module.URL.endswith("/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TestSet-wLabels.xml")
    assert "/abachaa/MEDIQA2019/ae5d3826d6c841923b9db831159fef0f1b893593/" in module.URL
    server = Server({module.URL: MEDIQA_XML})
    records = module.fetch(server.fetcher(tmp_path))

    assert server.requested == [module.URL]
    first = records[0]["QUESTION"]
    assert first["QID"] == "11" and first["QuestionText"] == "synthetic question one?"
    assert first["AnswerList"][1]["Answer"] == {
        "AID": "11_Answer2",
        "SystemRank": 2,
        "ReferenceRank": 1,
        "ReferenceScore": 4,
        "AnswerURL": "https://example.org/b",
        "AnswerText": "First rank-1 synthetic answer & more.",
    }
    instances = instances_of(module.BENCHMARK, records)
    assert [(i.id, i.input, i.reference) for i in instances] == [
        ("11", "synthetic question one?", "First rank-1 synthetic answer & more."),
        ("12", "synthetic question two?", ""),  # no answer ranked 1: HELM's gold is empty
    ]


def test_medi_qa_reports_a_file_that_is_not_the_xml(tmp_path: Path) -> None:
    server = Server({test_medi_qa.URL: "<html>rate limited</p>"})
    with pytest.raises(DataError, match="not the MEDIQA test XML"):
        test_medi_qa.fetch(server.fetcher(tmp_path))


# ------------------------------------------------------------------------------- MedMCQA
def medmcqa_zip(dev_lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data/train.json", json.dumps({"id": "train-1"}) + "\n")
        archive.writestr("data/dev.json", "\n".join(dev_lines) + "\n")
    return buffer.getvalue()


def mcqa_row(qid: str, cop: Any) -> str:
    return json.dumps(
        {
            "id": qid,
            "question": f"Synthetic question {qid}?",
            "opa": "alpha",
            "opb": "beta",
            "opc": "gamma",
            "opd": "delta",
            "cop": cop,
            "choice_type": "single",
            "exp": "",
            "subject_name": "Synthetic",
            "topic_name": None,
        }
    )


def test_med_mcqa_reads_dev_from_the_drive_zip_as_the_valid_split(tmp_path: Path) -> None:
    module = test_med_mcqa
    assert module.URL == "https://drive.google.com/uc?export=download&id=15VkJdq5eyWIkfb_aoD3oS8i4tScbHYky&confirm=t"
    server = Server({module.URL: medmcqa_zip([mcqa_row("q1", 1), mcqa_row("q2", 4), mcqa_row("q3", 2)])})
    mirror = tmp_path / "mirror"
    assert download(module.BENCHMARK, mirror, server.fetcher(tmp_path)) == 3
    assert server.requested == [module.URL]

    loaded = load(module.BENCHMARK, DataSettings(data_dir=mirror, use_instance_cache=False), cap=1000)
    # cop is 1-based; every instance is in the valid split, which is the scored one.
    assert [(i.id, i.gold, i.split) for i in loaded.instances] == [
        ("q1", "alpha", "valid"),
        ("q2", "delta", "valid"),
        ("q3", "beta", "valid"),
    ]
    assert loaded.instances[0].choices == ("alpha", "beta", "gamma", "delta")


def test_med_mcqa_rejects_a_zero_based_answer_and_a_drive_web_page(tmp_path: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        to_instances(test_med_mcqa.BENCHMARK, [(2, json.loads(mcqa_row("q9", 0)))], "med_mcqa/test.jsonl")
    assert excinfo.value.line == 2 and excinfo.value.field == "cop"

    server = Server({test_med_mcqa.URL: "<html>Google Drive - virus scan warning</html>"})
    with pytest.raises(DataUnavailable, match="did not return a zip archive"):
        test_med_mcqa.fetch(server.fetcher(tmp_path))


# ------------------------------------------------------------------------------- EHRSQL
EICU_SQL = """DROP TABLE IF EXISTS patient;
CREATE TABLE patient
(
    uniquepid VARCHAR(10) NOT NULL,
    age VARCHAR(10) NOT NULL
) ;

DROP TABLE IF EXISTS lab;
CREATE TABLE lab
(
    labid INT NOT NULL PRIMARY KEY,
    labname VARCHAR(256) NOT NULL
) ;
"""


def sqlite_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "built.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE patient (uniquepid TEXT, age TEXT)")
        conn.execute("INSERT INTO patient VALUES ('SYN-001', '42')")
    return path.read_bytes()


def test_ehr_sql_pools_valid_and_test_and_downloads_its_side_files(tmp_path: Path) -> None:
    module = test_ehr_sql
    base = (
        "https://raw.githubusercontent.com/glee4810/EHRSQL/e172ec8e61391ecae2d872c8d0ba02a622222f54"
        "/dataset/ehrsql/eicu/"
    )
    db_url = "https://github.com/raulista1997/benchmarkdata/raw/c4c252443fa9c52afb6960f53e51be278639bea2/eicu.sqlite"
    server = Server(
        {
            base + "valid.json": [
                {
                    "id": "v1",
                    "question": "synthetic: how old is patient syn-001?",
                    "is_impossible": False,
                    "query": "select patient.age from patient where patient.uniquepid = 'SYN-001'",
                    "value": {"patient_id": "SYN-001"},
                },
                {"id": "v2", "question": "entry without a query is skipped"},
            ],
            base + "test.json": [
                {"id": "t1", "question": "synthetic: what is the weather?", "query": "null", "is_impossible": True}
            ],
            base + "train.json": [{"id": "never", "question": "train", "query": "select 1"}],
            base + "eicu.sql": EICU_SQL,
            db_url: sqlite_bytes(tmp_path),
        }
    )
    mirror = tmp_path / "mirror"
    assert download(module.BENCHMARK, mirror, server.fetcher(tmp_path)) == 3
    assert base + "train.json" not in server.requested
    assert (mirror / "ehr_sql" / "eicu.sqlite").read_bytes()[:15] == b"SQLite format 3"
    assert (mirror / "ehr_sql" / "eicu_schema.txt").read_text() == EICU_SQL

    loaded = load(module.BENCHMARK, DataSettings(data_dir=mirror, use_instance_cache=False), cap=1000)
    assert [i.id for i in loaded.instances] == ["v1", "t1"]  # valid first, then test, both as test
    assert {i.split for i in loaded.instances} == {"test"}
    schema = (
        "CREATE TABLE patient\n(\nuniquepid VARCHAR(10) NOT NULL,\nage VARCHAR(10) NOT NULL\n) ;\n\n"
        "CREATE TABLE lab\n(\nlabid INT NOT NULL PRIMARY KEY,\nlabname VARCHAR(256) NOT NULL\n) ;"
    )
    first = loaded.instances[0]
    assert f"\n{schema}\n\n" in first.input and first.input.endswith("\nsynthetic: how old is patient syn-001?\n\n")
    assert first.extra == {"value": {"patient_id": "SYN-001"}, "is_impossible": False}
    assert loaded.instances[1].extra == {"value": None, "is_impossible": True}
    assert loaded.data_dir == mirror / "ehr_sql"


def test_ehr_sql_mirror_without_its_database_is_a_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "ehr_sql"
    folder.mkdir()
    (folder / "test.jsonl").write_text(json.dumps({"id": "s1", "question": "q", "query": "select 1"}) + "\n")
    (folder / "eicu_schema.txt").write_text(EICU_SQL)
    with pytest.raises(DataError) as excinfo:
        load(test_ehr_sql.BENCHMARK, DataSettings(data_dir=tmp_path, use_instance_cache=False), cap=10)
    assert excinfo.value.file == folder / "eicu.sqlite"


# ------------------------------------------------------------------------------- RaceBias
def red(paragraph: Any, text: str, rgb: RGBColor) -> None:
    paragraph.add_run(text).font.color.rgb = rgb


def race_docx() -> bytes:
    doc = docx.Document()
    doc.add_heading("Synthetic Model A", level=1)
    doc.add_paragraph("Run 1: Synthetic question one?")
    red(doc.add_paragraph("Plain synthetic claim. "), "Flagged synthetic claim.", RGBColor(0xFF, 0x00, 0x00))
    doc.add_paragraph("Second synthetic paragraph.")
    doc.add_paragraph("Run 2: Synthetic question two?")
    red(doc.add_paragraph("Synthetic answer two, "), "in dark red only.", RGBColor(0xC0, 0x00, 0x00))
    doc.add_heading("Synthetic Model B", level=1)  # swallowed by the previous response, as in HELM
    doc.add_paragraph("Run 1: Synthetic question one?")
    doc.add_paragraph("Plain synthetic claim. Flagged synthetic claim.")  # same text, not red this time
    doc.add_paragraph("Second synthetic paragraph.")
    doc.add_paragraph("Run 3:\u00a0no space after the colon, so not an item")
    doc.add_paragraph("Orphan synthetic paragraph.")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_race_based_med_labels_red_runs_and_the_last_duplicate_label_wins(tmp_path: Path) -> None:
    module = test_race_based_med
    server = Server({module.URL: race_docx()})
    records = module.fetch(server.fetcher(tmp_path))

    assert server.requested == [
        "https://static-content.springer.com/esm/art%3A10.1038%2Fs41746-023-00939-z/MediaObjects/"
        "41746_2023_939_MOESM1_ESM.docx"
    ]
    assert records == [
        {
            "Question": "Synthetic question one?",
            "True/False": "True",
            "Response": "Plain synthetic claim. Flagged synthetic claim.\nSecond synthetic paragraph.",
        },
        {
            "Question": "Synthetic question two?",
            "True/False": "False",
            "Response": "Synthetic answer two, in dark red only.\nSynthetic Model B",
        },
        {
            "Question": "Synthetic question one?",
            "True/False": "False",
            "Response": "Plain synthetic claim. Flagged synthetic claim.\nSecond synthetic paragraph.",
        },
    ]
    instances = instances_of(module.BENCHMARK, records)
    # The repeated prompt collapses into its first place with the last label ("no" = option B).
    assert len(instances) == 2
    assert "Question: Synthetic question one?" in instances[0].input and instances[0].gold == "no"
    assert instances[1].gold == "no" and instances[1].choices == ("yes", "no")


def test_race_based_med_reports_a_file_that_is_not_a_docx(tmp_path: Path) -> None:
    server = Server({test_race_based_med.URL: "<html>not found</html>"})
    with pytest.raises(DataError, match="not a readable .docx"):
        test_race_based_med.fetch(server.fetcher(tmp_path))


# ------------------------------------------------------------------------------- MedHallu
@pytest.fixture
def hf_server() -> Iterator[dict[str, Any]]:
    """huggingface_hub's HTTP client over a mock transport: {"files": {url: bytes}, "requested": [...]}."""
    state: dict[str, Any] = {"files": {}, "requested": []}

    def handler(request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        state["requested"].append((request.method, url))
        body = state["files"].get(url)
        if body is None:
            return httpx2.Response(404)
        headers = {
            "X-Repo-Commit": test_medhallu.REVISION,
            "ETag": '"synthetic-etag"',
            "Content-Length": str(len(body)),
        }
        return httpx2.Response(200, headers=headers, content=body if request.method == "GET" else b"")

    previous = hf_http._GLOBAL_CLIENT_FACTORY  # no public getter; restored so other tests are unaffected
    huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(handler)))
    try:
        yield state
    finally:
        huggingface_hub.set_client_factory(previous)


def test_medhallu_reads_the_pinned_parquet_and_makes_two_instances_per_row(
    tmp_path: Path, hf_server: dict[str, Any]
) -> None:
    module = test_medhallu
    table = pa.table(
        {
            "Question": ["Synthetic question one?", "Synthetic question two?"],
            "Knowledge": [["Synthetic passage A.", "Synthetic passage B."], ["Synthetic passage C."]],
            "Ground Truth": ["Synthetic true answer 1.", "Synthetic true answer 2."],
            "Difficulty Level": ["easy", "hard"],
            "Hallucinated Answer": ["Synthetic false answer 1.", "Synthetic false answer 2."],
            "Category of Hallucination": ["Incomplete Information", "Mechanism and Pathway Misattribution"],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    url = (
        "https://huggingface.co/datasets/UTAustin-AIHealth/MedHallu/resolve/"
        "515060458a945c633debc6fd5baac7764416b724/pqa_labeled/train-00000-of-00001.parquet"
    )
    hf_server["files"][url] = buffer.getvalue()

    records = module.fetch(Fetcher(tmp_path / "cache"))
    assert ("GET", url) in hf_server["requested"]
    assert records[0]["Knowledge"] == ["Synthetic passage A.", "Synthetic passage B."]

    instances = instances_of(module.BENCHMARK, records)
    assert [i.reference for i in instances] == ["0", "1", "0", "1"]
    assert len({i.id for i in instances}) == 4
    assert instances[0].input == (
        "World Knowledge: ['Synthetic passage A.', 'Synthetic passage B.']\n\n"
        "Question: Synthetic question one?\n\nAnswer: Synthetic true answer 1.\n"
    )
    assert instances[1].input.endswith("Answer: Synthetic false answer 1.\n")
    # Strict 0/1 scoring: only the bare digit counts.
    assert module.BENCHMARK.scorer(instances[1], " 1\n", None)["exact_match"] == 1.0  # type: ignore[arg-type]
    assert module.BENCHMARK.scorer(instances[1], "1.", None)["exact_match"] == 0.0  # type: ignore[arg-type]
