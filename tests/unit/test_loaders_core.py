"""The six core benchmarks' downloads, parsed from small synthetic files in each upstream format.

HTTP is served by ``httpx.MockTransport`` (Hugging Face downloads by a ``huggingface_hub`` client
factory over the same kind of mock); each test pins the exact URL HELM downloads. The last tests
check that a malformed mirror record is reported with its file, line and field.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import huggingface_hub
import pytest
from huggingface_hub.utils._http import default_client_factory

from pytest_medhelm import Benchmark, DataError, Fetcher, Instance
from pytest_medhelm.data import DataSettings, DataUnavailable, load
from pytest_medhelm.data.loading import to_instances
from pytest_medhelm.suites.clinical_decision_support import (
    test_head_qa,
    test_med_qa,
    test_medbullets,
    test_medcalc_bench,
    test_medec,
)
from pytest_medhelm.suites.medical_research import test_pubmed_qa


class Served:
    """A mock HTTP server for one URL; records every URL asked for."""

    def __init__(self, url: str, body: bytes, *, status: int = 200) -> None:
        self.url, self.body, self.status = url, body, status
        self.requested: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requested.append(str(request.url))
        if str(request.url) == self.url:
            return httpx.Response(self.status, content=self.body)
        return httpx.Response(404)

    def fetcher(self, tmp_path: Path) -> Fetcher:
        return Fetcher(tmp_path, client=httpx.Client(transport=httpx.MockTransport(self.handler)))


def instances_of(benchmark: Benchmark, records: list[dict[str, Any]]) -> list[Instance]:
    return to_instances(benchmark, enumerate(records, start=1), "fetched")


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


# ------------------------------------------------------------------ PubMedQA
def test_pubmed_qa_reads_the_pinned_ori_pqal_dict(tmp_path: Path) -> None:
    pqal = {
        "101": {"QUESTION": "Synthetic question A?", "CONTEXTS": ["Aim."], "LABELS": ["AIM"], "final_decision": "no"},
        "102": {
            "QUESTION": "Synthetic question B?",
            "CONTEXTS": ["Res."],
            "LABELS": ["RESULTS"],
            "final_decision": "maybe",
        },
    }
    served = Served(
        "https://raw.githubusercontent.com/pubmedqa/pubmedqa/1f00b98d5cc626844bf8c4ca513b6e62c40071ec/"
        "data/ori_pqal.json",
        json.dumps(pqal).encode(),
    )
    instances = instances_of(test_pubmed_qa.BENCHMARK, list(test_pubmed_qa.fetch(served.fetcher(tmp_path))))
    assert served.requested == [served.url]
    assert [(i.id, i.gold) for i in instances] == [("101", "no"), ("102", "maybe")]
    # HELM's scenario title-cases the labels and ends the question with a newline.
    assert instances[0].input == "Context: Aim. Aim.\n\nQuestion: Synthetic question A?\n"


# ------------------------------------------------------------------ MedEC
MEDEC_CSV = (
    "\ufeffText ID,Text,Sentences,Error Flag,Error Type,Error Sentence ID,Error Sentence,Corrected Sentence,"
    "Corrected Text\r\n"
    'ms-test-0,T0,"0 A synthetic patient has a cough.\r\n1 Treat with drug X.",1,treatment,1,'
    "Treat with drug X.,Treat with drug Y.,T0b\r\n"
    'ms-test-1,T1,"0 Another synthetic note.",0,NA,-1,NA,NA,NA\r\n'
    ",,,,,,,,\r\n,,,,,,,,\r\n"
    # Flagged as an error but without a correction: HELM expects CORRECT.
    'ms-test-2,T2,"0 Third synthetic note.",1,diagnosis,0,x,NA,NA\r\n'
)


def test_medec_reads_the_pinned_csv_and_drops_empty_rows(tmp_path: Path) -> None:
    served = Served(
        "https://raw.githubusercontent.com/abachaa/MEDEC/49c59dcba43a7af8717590a405b11a57f42b04df/"
        "MEDEC-MS/MEDEC-MS-TestSet-with-GroundTruth-and-ErrorType.csv",
        MEDEC_CSV.encode(),
    )
    records = test_medec.fetch(served.fetcher(tmp_path))
    assert served.requested == [served.url]
    assert [r["Text ID"] for r in records] == ["ms-test-0", "ms-test-1", "ms-test-2"]
    instances = instances_of(test_medec.BENCHMARK, records)
    assert [(i.id, i.reference) for i in instances] == [
        ("ms-test-0", "1 Treat with drug Y."),
        ("ms-test-1", "CORRECT"),
        ("ms-test-2", "CORRECT"),
    ]
    assert instances[0].input == "0 A synthetic patient has a cough.\n1 Treat with drug X."


def test_medec_skips_a_row_without_sentences_like_helm() -> None:
    assert test_medec.to_instance({"Text ID": "x", "Sentences": "", "Error Flag": "0"}) is None


# ------------------------------------------------------------------ Medbullets
MEDBULLETS_CSV = (
    "link,question,opa,opb,opc,opd,ope,answer_idx,answer,explanation\n"
    'https://example.invalid/testview?qid=11,"A synthetic vignette, with a comma. Next step?",'
    "Wait,Scan,Operate,Refer,Discharge,B,Scan,Because.\n"
    "https://example.invalid/testview?qid=12,,W,S,O,R,D,A,W,No question: HELM skips the row.\n"
    "https://example.invalid/testview?qid=13,Second synthetic vignette?,P,Q,R,S,T,E,T,x\n"
)


def test_medbullets_reads_the_op5_csv_at_helms_double_slash_url(tmp_path: Path) -> None:
    served = Served(
        "https://raw.githubusercontent.com/HanjieChen/ChallengeClinicalQA/refs/heads/main/"
        "medbullets//medbullets_op5.csv",
        MEDBULLETS_CSV.encode(),
    )
    instances = instances_of(test_medbullets.BENCHMARK, test_medbullets.fetch(served.fetcher(tmp_path)))
    assert served.requested == [served.url]
    assert [(i.id, i.correct, i.gold) for i in instances] == [("11", 1, "Scan"), ("13", 4, "T")]
    assert instances[0].choices == ("Wait", "Scan", "Operate", "Refer", "Discharge")
    assert instances[0].input == "A synthetic vignette, with a comma. Next step?"


@pytest.mark.parametrize("letter", ["F", "AB", "a"])
def test_medbullets_rejects_an_answer_letter_outside_a_to_e(letter: str) -> None:
    record = {"question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "ope": "e", "answer_idx": letter}
    with pytest.raises(DataError) as excinfo:
        instances_of(test_medbullets.BENCHMARK, [record])
    assert (excinfo.value.field, excinfo.value.line) == ("answer_idx", 1)


# ------------------------------------------------------------------ MedQA
def medqa_line(question: str, answer: str, options: dict[str, str]) -> str:
    return json.dumps(
        {
            "question": question,
            "answer": options[answer],
            "options": options,
            "meta_info": "step1",
            "answer_idx": answer,
        }
    )


MEDQA_ZIP = zip_bytes(
    {
        "MedQA/data_clean/questions/US/4_options/phrases_no_exclude_train.jsonl": medqa_line(
            "Train question?", "A", {"A": "t1", "B": "t2", "C": "t3", "D": "t4"}
        )
        + "\n",
        "MedQA/data_clean/questions/US/4_options/phrases_no_exclude_dev.jsonl": medqa_line(
            "Dev question 1?", "C", {"A": "d1", "B": "d2", "C": "d3", "D": "d4"}
        )
        + "\n"
        + medqa_line("Dev question 2?", "A", {"A": "e1", "B": "e2", "C": "e3", "D": "e4"})
        + "\n",
        "MedQA/data_clean/questions/US/4_options/phrases_no_exclude_test.jsonl": medqa_line(
            "Test question?", "D", {"A": "x1", "B": "x2", "C": "x3", "D": 'x4\n"'}
        )
        + "\n",
        "MedQA/data_clean/questions/US/5_options/phrases_no_exclude_test.jsonl": "not read\n",
    }
)
MEDQA_URL = "https://drive.google.com/uc?export=download&id=1ImYUSLk9JbgHXOemfvyiDiirluZHPeQw&confirm=t"


def test_med_qa_reads_dev_then_test_from_the_drive_zip(tmp_path: Path) -> None:
    served = Served(MEDQA_URL, MEDQA_ZIP)
    instances = instances_of(test_med_qa.BENCHMARK, test_med_qa.fetch(served.fetcher(tmp_path)))
    assert served.requested == [MEDQA_URL]  # one download for both splits
    assert [(i.id, i.split, i.gold) for i in instances] == [
        ("valid-0", "valid", "d3"),
        ("valid-1", "valid", "e1"),
        ("test-0", "test", "x4"),
    ]
    assert instances[2].choices == ("x1", "x2", "x3", "x4")  # HELM strips the stray newline and quote


def test_med_qa_drive_error_page_is_unavailable_and_not_cached(tmp_path: Path) -> None:
    served = Served(MEDQA_URL, b"<html>Google Drive - Quota exceeded</html>")
    with pytest.raises(DataUnavailable, match="did not return a zip archive"):
        test_med_qa.fetch(served.fetcher(tmp_path))
    assert not list((tmp_path / "downloads").iterdir()), "the HTML page must not stay in the download cache"


def test_med_qa_requires_four_options_including_the_answer() -> None:
    record = json.loads(medqa_line("Q?", "A", {"A": "1", "B": "2", "C": "3"}))
    with pytest.raises(DataError) as excinfo:
        instances_of(test_med_qa.BENCHMARK, [record])
    assert excinfo.value.field == "options"


# ------------------------------------------------------------------ HEAD-QA
HEAD_EN = {
    "version": "1.0",
    "language": "en",
    "exams": {
        "Cuaderno_2016_1_B": {
            "name": "Cuaderno_2016_1_B",
            "year": "2016",
            "category": "biology",
            "data": [
                {
                    "qid": "1",
                    "qtext": " Synthetic question one? ",
                    "ra": "3",
                    "image": "",
                    "answers": [
                        {"aid": 1, "atext": "a1"},
                        {"aid": 2, "atext": "a2"},
                        {"aid": 3, "atext": " a3 "},
                        {"aid": 4, "atext": "a4"},
                    ],
                },
                {
                    "qid": "2",
                    "qtext": "Which picture?",
                    "ra": "1",
                    "image": "images/q2.png",
                    "answers": [
                        {"aid": 1, "atext": "p1"},
                        {"aid": 2, "atext": "p2"},
                        {"aid": 3, "atext": "p3"},
                        {"aid": 4, "atext": "p4"},
                    ],
                },
            ],
        },
        "Cuaderno_2017_1_M": {
            "name": "Cuaderno_2017_1_M",
            "year": "2017",
            "category": "medicine",
            "data": [
                {
                    "qid": "1",
                    "qtext": "Synthetic question three?",
                    "ra": "4",
                    "image": "",
                    "answers": [
                        {"aid": 1, "atext": "m1"},
                        {"aid": 2, "atext": "m2"},
                        {"aid": 3, "atext": "m3"},
                        {"aid": 4, "atext": "m4"},
                    ],
                }
            ],
        },
    },
}


def test_head_qa_reads_the_english_test_file_and_skips_image_questions(tmp_path: Path) -> None:
    served = Served(
        "https://drive.google.com/uc?export=download&id=1a_95N5zQQoUCq8IBNVZgziHbeM-QxG2t&confirm=t",
        zip_bytes(
            {
                "HEAD_EN/test_HEAD_EN.json": json.dumps(HEAD_EN),
                "HEAD_EN/dev_HEAD_EN.json": "{}",
                "HEAD/test_HEAD.json": "{}",
            }
        ),
    )
    records = test_head_qa.fetch(served.fetcher(tmp_path))
    assert served.requested == [served.url]
    assert [(r["name"], r["qid"], r["category"]) for r in records] == [
        ("Cuaderno_2016_1_B", "1", "biology"),
        ("Cuaderno_2016_1_B", "2", "biology"),
        ("Cuaderno_2017_1_M", "1", "medicine"),
    ]
    instances = instances_of(test_head_qa.BENCHMARK, records)
    assert [(i.id, i.gold) for i in instances] == [("Cuaderno_2016_1_B-1", "a3"), ("Cuaderno_2017_1_M-1", "m4")]
    assert instances[0].input == "Synthetic question one?"


def test_head_qa_accepts_hugging_face_rows_with_int_ra_and_null_image() -> None:
    hf_row = {
        "name": "Cuaderno_2016_1_B",
        "year": "2016",
        "category": "biology",
        "qid": 1,
        "qtext": "Synthetic question one?",
        "ra": 3,
        "image": None,
        "answers": [
            {"aid": 3, "atext": "a3"},
            {"aid": 1, "atext": "a1"},
            {"aid": 2, "atext": "a2"},
            {"aid": 4, "atext": "a4"},
        ],
    }
    instance = test_head_qa.to_instance(hf_row)
    assert instance is not None
    assert (instance.id, instance.choices, instance.correct) == ("Cuaderno_2016_1_B-1", ("a1", "a2", "a3", "a4"), 2)
    assert test_head_qa.to_instance({**hf_row, "image": "/cache/images/q.png"}) is None


def test_head_qa_rejects_a_right_answer_that_is_not_an_option() -> None:
    row = {"name": "n", "qid": 1, "qtext": "q", "ra": 9, "image": None, "answers": [{"aid": 1, "atext": "a"}]}
    with pytest.raises(DataError) as excinfo:
        instances_of(test_head_qa.BENCHMARK, [row])
    assert excinfo.value.field == "ra"


# ------------------------------------------------------------------ MedCalc-Bench (Hugging Face)
@pytest.fixture
def hf_server() -> Iterator[Callable[[str, bytes], list[str]]]:
    """Serve one Hugging Face file through huggingface_hub's own client; returns the URLs asked for."""
    requested: list[str] = []

    def serve(url: str, body: bytes) -> list[str]:
        def handler(request: httpx2.Request) -> httpx2.Response:
            requested.append(str(request.url))
            if str(request.url) != url:
                return httpx2.Response(404)
            headers = {"ETag": '"synthetic-etag"', "X-Repo-Commit": "0" * 40, "Content-Length": str(len(body))}
            return httpx2.Response(200, headers=headers, content=b"" if request.method == "HEAD" else body)

        huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(handler)))
        return requested

    yield serve
    huggingface_hub.set_client_factory(default_client_factory)


def test_medcalc_downloads_the_test_parquet_of_the_v1_0_dataset(
    tmp_path: Path, hf_server: Callable[[str, bytes], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://huggingface.co/datasets/ncbi/MedCalc-Bench-v1.0/resolve/main/data/test-00000-of-00001.parquet"
    requested = hf_server(url, b"synthetic parquet bytes")
    # pyarrow is optional, so the parquet decoding itself is replaced by rows typed as HF gives them.
    hf_rows = [
        {
            "Row Number": 1,
            "Patient Note": "Synthetic note.",
            "Question": "Score?",
            "Category": "lab test",
            "Ground Truth Answer": "12.5",
            "Lower Limit": "11.875",
            "Upper Limit": "13.125",
        },
        {
            "Row Number": 2,
            "Patient Note": "Another note.",
            "Question": "Risk?",
            "Category": "risk",
            "Ground Truth Answer": "3",
            "Lower Limit": "3",
            "Upper Limit": "3",
        },
    ]
    decoded: list[bytes] = []
    monkeypatch.setattr(
        test_medcalc_bench, "read_parquet", lambda path: decoded.append(Path(path).read_bytes()) or hf_rows
    )
    instances = instances_of(test_medcalc_bench.BENCHMARK, test_medcalc_bench.fetch(Fetcher(tmp_path)))
    assert url in requested and all("huggingface.co" in u for u in requested)
    assert decoded == [b"synthetic parquet bytes"]
    assert [(i.id, i.reference, i.extra["category"]) for i in instances] == [
        ("1", "12.5", "lab test"),
        ("2", "3", "risk"),
    ]
    assert instances[0].input == "Patient note: Synthetic note.\n\nQuestion: Score?\n"
    assert instances[0].extra["lower_limit"] == "11.875"


def test_medcalc_without_pyarrow_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes ``import pyarrow...`` raise ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataUnavailable, match="pip install pyarrow"):
        test_medcalc_bench.read_parquet(tmp_path / "test.parquet")


# ------------------------------------------------------------------ malformed mirror records
GOOD_RECORDS: dict[str, dict[str, Any]] = {
    "pubmed_qa": {"pmid": "1", "QUESTION": "Q?", "CONTEXTS": ["c"], "LABELS": ["L"], "final_decision": "yes"},
    "medcalc_bench": {
        "Unique ID": "1",
        "Patient Note": "n",
        "Question": "q",
        "Ground Truth Answer": "1",
        "Category": "risk",
        "Lower Limit": "1",
        "Upper Limit": "1",
    },
    "medec": {
        "Text ID": "t",
        "Sentences": "0 s.",
        "Error Flag": "0",
        "Error Sentence ID": "-1",
        "Corrected Sentence": "NA",
    },
    "head_qa": {
        "name": "n",
        "qid": "1",
        "qtext": "q",
        "ra": "1",
        "image": "",
        "answers": [{"aid": 1, "atext": "a"}, {"aid": 2, "atext": "b"}],
    },
    "medbullets": {
        "link": "",
        "question": "q",
        "opa": "a",
        "opb": "b",
        "opc": "c",
        "opd": "d",
        "ope": "e",
        "answer_idx": "A",
    },
    "med_qa": {
        "question": "q",
        "answer_idx": "A",
        "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
        "_row_index": 0,
    },
}
# The field each benchmark cannot do without (Medbullets has none: HELM skips incomplete rows and
# fills missing options, so its broken record has an answer letter outside A-E instead).
BROKEN: dict[str, tuple[str, dict[str, Any]]] = {
    benchmark_id: (field, {k: v for k, v in GOOD_RECORDS[benchmark_id].items() if k != field})
    for benchmark_id, field in [
        ("pubmed_qa", "final_decision"),
        ("medcalc_bench", "Patient Note"),
        ("medec", "Text ID"),
        ("head_qa", "answers"),
        ("med_qa", "options"),
    ]
}
BROKEN["medbullets"] = ("answer_idx", {**GOOD_RECORDS["medbullets"], "answer_idx": "F"})
BENCHMARKS = {
    b.id: b
    for b in (
        test_pubmed_qa.BENCHMARK,
        test_medcalc_bench.BENCHMARK,
        test_medec.BENCHMARK,
        test_head_qa.BENCHMARK,
        test_medbullets.BENCHMARK,
        test_med_qa.BENCHMARK,
    )
}


def write_mirror(root: Path, benchmark_id: str, lines: list[str]) -> Path:
    path = root / benchmark_id / "test.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("benchmark_id", sorted(GOOD_RECORDS))
def test_a_good_synthetic_mirror_record_loads(tmp_path: Path, benchmark_id: str) -> None:
    write_mirror(tmp_path, benchmark_id, [json.dumps(GOOD_RECORDS[benchmark_id])])
    loaded = load(BENCHMARKS[benchmark_id], DataSettings(data_dir=tmp_path, use_instance_cache=False), cap=10)
    assert len(loaded.instances) == 1


@pytest.mark.parametrize("benchmark_id", sorted(GOOD_RECORDS))
def test_a_bad_json_line_names_the_file_and_line(tmp_path: Path, benchmark_id: str) -> None:
    path = write_mirror(tmp_path, benchmark_id, [json.dumps(GOOD_RECORDS[benchmark_id]), '{"question": "cut off'])
    with pytest.raises(DataError) as excinfo:
        load(BENCHMARKS[benchmark_id], DataSettings(data_dir=tmp_path, use_instance_cache=False), cap=10)
    assert (Path(str(excinfo.value.file)), excinfo.value.line) == (path, 2)
    assert f"file {path}, line 2" in str(excinfo.value)


@pytest.mark.parametrize("benchmark_id", sorted(GOOD_RECORDS))
def test_a_record_missing_a_field_names_file_line_and_field(tmp_path: Path, benchmark_id: str) -> None:
    good = GOOD_RECORDS[benchmark_id]
    field, broken = BROKEN[benchmark_id]
    path = write_mirror(tmp_path, benchmark_id, [json.dumps(good), json.dumps(good), json.dumps(broken)])
    with pytest.raises(DataError) as excinfo:
        load(BENCHMARKS[benchmark_id], DataSettings(data_dir=tmp_path, use_instance_cache=False), cap=10)
    assert (Path(str(excinfo.value.file)), excinfo.value.line, excinfo.value.field) == (path, 3, field)
    assert repr(field) in str(excinfo.value)
