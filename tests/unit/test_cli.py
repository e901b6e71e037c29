"""The ``medhelm`` command: taxonomy, benchmark listing and downloads (HTTP mocked, no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_medhelm import cli
from pytest_medhelm.data import Fetcher
from pytest_medhelm.suites import load_benchmark, suite_files

PUBMED = next(path for path in suite_files() if path.name == "test_pubmed_qa.py")
FIELDS = {
    "id",
    "name",
    "category",
    "category_name",
    "subcategory",
    "access",
    "metric",
    "jury_metric",
    "kind",
    "max_tokens",
    "source",
    "local",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def implemented() -> set[str]:
    return {load_benchmark(path).id for path in suite_files()}


def synthetic_pubmed() -> dict[str, Any]:
    """Two made-up PQA-L records in the upstream layout (``ori_pqal.json``: pmid -> record)."""
    return {
        pmid: {
            "QUESTION": f"Synthetic question {pmid}?",
            "CONTEXTS": ["Synthetic context."],
            "LABELS": ["RESULTS"],
            "final_decision": decision,
        }
        for pmid, decision in (("800001", "yes"), ("800002", "maybe"))
    }


def mock_http(monkeypatch: pytest.MonkeyPatch, status: int = 200) -> list[str]:
    """Route the command's downloads to a MockTransport; returns the URLs requested."""
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if status == 200 and request.url.path.endswith("/ori_pqal.json"):
            return httpx.Response(200, json=synthetic_pubmed())
        return httpx.Response(status if status != 200 else 404)

    def fetcher(cache_dir: Path) -> Fetcher:
        return Fetcher(cache_dir, client=httpx.Client(transport=httpx.MockTransport(handler)))

    monkeypatch.setattr(cli, "Fetcher", fetcher)
    return requested


# -- taxonomy ---------------------------------------------------------------------------------------


def test_taxonomy_prints_the_tree_with_counts_and_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "taxonomy")

    first = out.splitlines()[0]
    assert "5 categories, 22 subcategories, 121 tasks" in first
    assert f"{len(implemented())} of 37 benchmarks implemented" in first
    assert "\nMedical Research Assistance [medical_research]:" in out
    assert "  Conducting Literature Research [conducting_literature_research]: 1/1 benchmarks" in out
    assert "    + pubmed_qa (PubMedQA)" in out
    assert "task: Generate differential diagnoses" in out
    assert status == 0


def test_taxonomy_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "taxonomy", "--json")
    tree = json.loads(out)

    assert tree["counts"]["categories"] == 5 == len(tree["categories"])
    assert tree["counts"]["subcategories"] == 22 == sum(len(c["subcategories"]) for c in tree["categories"])
    assert tree["counts"]["tasks_total"] == tree["tasks_total"] == 121
    entries = [e for c in tree["categories"] for s in c["subcategories"] for e in s["benchmarks"]]
    assert len(entries) == tree["counts"]["benchmarks"] == 37
    assert {e["id"] for e in entries if e["implemented"]} == implemented()
    assert tree["misplaced"] == [] and tree["broken"] == []


# -- benchmarks -------------------------------------------------------------------------------------


def test_benchmarks_json_lists_every_benchmark_and_its_local_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "pubmed_qa").mkdir()
    (tmp_path / "pubmed_qa" / "test.jsonl").write_text("{}\n", encoding="utf-8")

    status, out, _ = run(capsys, "benchmarks", "--data-dir", str(tmp_path), "--json")
    listing = json.loads(out)
    rows = {row["id"]: row for row in listing["benchmarks"]}

    assert status == 0 and listing["broken"] == []
    assert set(rows) == implemented()
    assert all(set(row) == FIELDS for row in rows.values())
    pubmed = rows["pubmed_qa"]
    assert (pubmed["category"], pubmed["category_name"], pubmed["subcategory"]) == (
        "medical_research",
        "Medical Research Assistance",
        "Conducting Literature Research",
    )
    assert (pubmed["access"], pubmed["metric"], pubmed["kind"], pubmed["max_tokens"]) == (
        "public",
        "exact_match",
        "closed",
        1,
    )
    assert pubmed["source"]["downloadable"] and pubmed["source"]["upstream"].startswith("https://")
    assert pubmed["local"] == {"path": str(tmp_path / "pubmed_qa"), "kind": "mirror"}
    assert [r["id"] for r in rows.values() if r["local"]] == ["pubmed_qa"]


def test_benchmarks_table_says_absent_without_local_data(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "benchmarks")

    line = next(line for line in out.splitlines() if line.startswith("pubmed_qa "))
    assert "Conducting Literature Research" in line and "exact_match" in line and "absent" in line
    assert f"{len(implemented())} benchmarks, 0 with local data" in out


def test_a_broken_suite_module_is_reported_without_hiding_the_others(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "test_broken.py"
    broken.write_text("BENCHMARK = None\n", encoding="utf-8")
    monkeypatch.setattr(cli, "suite_files", lambda: [PUBMED, broken])

    status, out, err = run(capsys, "benchmarks", "--json")

    listing = json.loads(out)
    assert status == 1
    assert [row["id"] for row in listing["benchmarks"]] == ["pubmed_qa"]
    assert [b["path"] for b in listing["broken"]] == [str(broken)]
    assert f"cannot load {broken}" in err


# -- download ---------------------------------------------------------------------------------------


def test_download_writes_the_mirror_layout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested = mock_http(monkeypatch)

    status, out, _ = run(capsys, "download", "--to", str(tmp_path), "pubmed_qa")

    records = [json.loads(line) for line in (tmp_path / "pubmed_qa" / "test.jsonl").read_text().splitlines()]
    assert status == 0
    assert "pubmed_qa: 2 records" in out
    assert [(r["pmid"], r["final_decision"]) for r in records] == [("800001", "yes"), ("800002", "maybe")]
    assert len(requested) == 1 and requested[0].startswith("https://raw.githubusercontent.com/pubmedqa/")
    # The mirror just written is what `benchmarks --data-dir` reports as present.
    _, listing, _ = run(capsys, "benchmarks", "--data-dir", str(tmp_path), "--json")
    pubmed = next(r for r in json.loads(listing)["benchmarks"] if r["id"] == "pubmed_qa")
    assert pubmed["local"] == {"path": str(tmp_path / "pubmed_qa"), "kind": "mirror"}


def test_a_failed_download_exits_1_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested = mock_http(monkeypatch, status=503)

    status, out, err = run(capsys, "download", "--to", str(tmp_path), "pubmed_qa")

    assert status == 1
    assert "pubmed_qa: FAILED" in err and "HTTP 503" in err
    assert len(requested) == 1 and out == ""
    assert not (tmp_path / "pubmed_qa" / "test.jsonl").exists()


def test_unknown_benchmark_id_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested = mock_http(monkeypatch)

    status, _, err = run(capsys, "download", "--to", str(tmp_path / "mirror"), "pubmed_qa", "no_such_benchmark")

    assert status == 2
    assert "unknown benchmark(s): no_such_benchmark" in err
    assert requested == [] and not (tmp_path / "mirror").exists()
