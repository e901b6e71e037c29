"""Broken data files (issue 15, cases 1 and 7): each is one clear error naming the file, the line
and the field, never a crash of the whole run. The records are made up, in PubMedQA's upstream
field names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_medhelm.data import DataError, DataSettings, load
from pytest_medhelm.data.sources import MAX_RECORD_BYTES, read_jsonl
from pytest_medhelm.suites.medical_research import test_pubmed_qa

PUBMED = test_pubmed_qa.BENCHMARK


def record(pmid: int, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "pmid": str(pmid),
        "QUESTION": f"Synthetic question {pmid}?",
        "CONTEXTS": ["Synthetic background."],
        "LABELS": ["BACKGROUND"],
        "final_decision": "yes",
    }
    return {**base, **changes}


def mirror(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "data" / "pubmed_qa" / "test.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def load_error(tmp_path: Path) -> str:
    with pytest.raises(DataError) as caught:
        load(PUBMED, DataSettings(data_dir=tmp_path / "data", use_instance_cache=False), cap=1000)
    return str(caught.value)


def test_a_byte_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    lines = [json.dumps(record(i)).encode() for i in range(1, 701)]
    lines[600] = lines[600].replace(b"Synthetic", b"Synth\xe9tic", 1)  # a Latin-1 byte on line 601
    path = mirror(tmp_path, lines)

    message = load_error(tmp_path)

    assert message.startswith(f"file {path}, line 601: not UTF-8 text (byte 0xe9")


def test_a_utf8_byte_order_mark_on_the_first_line_is_accepted(tmp_path: Path) -> None:
    path = mirror(tmp_path, [b"\xef\xbb\xbf" + json.dumps(record(1)).encode()])
    assert [number for number, _ in read_jsonl(path)] == [1]


def test_an_empty_file_is_an_error_not_a_benchmark_that_vanishes(tmp_path: Path) -> None:
    path = mirror(tmp_path, [])
    assert load_error(tmp_path) == f"file {path}: no records"


def test_a_null_where_text_belongs_names_the_field(tmp_path: Path) -> None:
    path = mirror(tmp_path, [json.dumps(record(1)).encode(), json.dumps(record(2, QUESTION=None)).encode()])
    assert load_error(tmp_path) == f"file {path}, line 2, field 'QUESTION': null where text is expected"


def test_a_number_where_a_list_belongs_names_the_field(tmp_path: Path) -> None:
    path = mirror(tmp_path, [json.dumps(record(1, LABELS=7)).encode()])
    assert load_error(tmp_path).startswith(f"file {path}, line 1, field 'LABELS': unexpected value")


def test_a_record_larger_than_any_context_is_refused_with_its_size(tmp_path: Path) -> None:
    huge = json.dumps(record(2, QUESTION="x" * (MAX_RECORD_BYTES + 10))).encode()
    path = mirror(tmp_path, [json.dumps(record(1)).encode(), huge])
    assert load_error(tmp_path) == f"file {path}, line 2: record of 8.0 MB, over the 8 MB a record may hold"


def test_a_json_error_message_reads_once_at_column(tmp_path: Path) -> None:
    path = mirror(tmp_path, [b'{"pmid": "1", "QUESTION": "tab\tinside"}'])
    message = load_error(tmp_path)
    assert message == f"file {path}, line 1: not valid JSON (Invalid control character, column 31)"
    assert "at at" not in message
