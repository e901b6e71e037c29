"""No false greens: every run that starts says how it ended, in its exit status, its terminal
output and results.json, and a run that is not complete never destroys the last complete result."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from junitparser import JUnitXml

from medhelm_sessions import Medhelm
from pytest_medhelm import cli
from pytest_medhelm.results import ResultsFile
from pytest_medhelm.testserver import TestServer

EXTRACTIVE = "baseline-extractive"
KEY_ENV = "MEDHELM_RUN_STATUS_TEST_KEY"


def complete_run(medhelm: Medhelm) -> ResultsFile:
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED)
    assert result.ret == pytest.ExitCode.OK
    results = medhelm.results()
    assert results.status == "complete" and results.status_reason is None
    return results


def test_a_complete_run_says_so_with_its_counts(medhelm: Medhelm) -> None:
    results = complete_run(medhelm)

    counts = results.counts
    assert (counts.selected, counts.passed, counts.wrong, counts.errors, counts.skipped, counts.not_run) == (
        6,
        4,
        2,
        0,
        0,
        0,
    )
    raw = json.loads((medhelm.path / "medhelm-results" / "results.json").read_text())
    assert raw["status"] == "complete"
    assert raw["status"] == "complete" and raw["counts"]["wrong"] == 2
    # Written atomically: no temporary file is left beside it.
    assert sorted(p.name for p in (medhelm.path / "medhelm-results").iterdir()) == [
        "leaderboard.md",
        "medhelm-summary.xml",
        "report.html",
        "results.json",
    ]


@pytest.mark.parametrize("data_dir", ["data", "no-such-folder"])
def test_no_selected_benchmark_with_data_exits_non_zero_naming_the_folder(medhelm: Medhelm, data_dir: str) -> None:
    if data_dir == "data":
        (medhelm.data / "pubmed_qa" / "test.jsonl").unlink()
    previous = complete_run(medhelm) if data_dir != "data" else None

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", f"--medhelm-data-dir={data_dir}", "-m", "pubmed_qa")

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes(skipped=1)
    messages = [line for line in result.outlines if "no selected benchmark had data" in line]
    assert len(messages) == 1
    assert str(medhelm.path / data_dir) in messages[0] and "lacks pubmed_qa/" in messages[0]
    results = medhelm.results()
    assert results.status == "nothing_run"
    assert "lacks pubmed_qa/" in (results.status_reason or "")
    assert results.counts.skipped == 1 and not results.instances
    if previous is not None:  # the last complete result is kept beside it, intact
        kept = ResultsFile.read(medhelm.path / "medhelm-results" / "results.last-complete.json")
        assert kept.status == "complete" and kept.instances == previous.instances


def test_the_readme_marker_example_without_data_says_so(medhelm: Medhelm) -> None:
    # As on a machine without the mirror: no --medhelm-data-dir, an empty download cache.
    result = medhelm.pytester.runpytest(f"--medhelm-model={EXTRACTIVE}", "-m", "clinical_decision_support and public")

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["*no selected benchmark had data*no --medhelm-data-dir was given*lacks*med_qa/*"])


def test_a_rejected_key_marks_the_run_failed_and_keeps_the_last_complete_result(
    medhelm: Medhelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = complete_run(medhelm)
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-for-this-test")
    with TestServer(api_key="the-right-key") as server:
        path = medhelm.models_file(
            f"models:\n  - name: guarded\n    provider: openai\n    model: guarded-1\n"
            f"    base_url: {server.url}\n    api_key_env: {KEY_ENV}\n"
        )
        result = medhelm.run(f"--medhelm-models-file={path}", "--medhelm-model=guarded", *medhelm.ONLY_PUBMED)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    results = medhelm.results()
    assert results.status == "failed"
    assert "the API key was rejected" in (results.status_reason or "")
    assert "sk-wrong-key" not in (medhelm.path / "medhelm-results" / "results.json").read_text()
    result.stdout.fnmatch_lines(
        [
            "medhelm: run FAILED: medhelm: model 'guarded'*the API key was rejected*",
            "previous complete results kept: *results.last-complete.json",
        ]
    )
    kept = ResultsFile.read(medhelm.path / "medhelm-results" / "results.last-complete.json")
    assert kept.status == "complete" and kept.instances == previous.instances and kept.models == [EXTRACTIVE]

    # A failed run after a failed run keeps the same last complete result; a complete run
    # then replaces both.
    medhelm.run(f"--medhelm-model={EXTRACTIVE}", f"--medhelm-data-dir={medhelm.path / 'nowhere'}")
    assert ResultsFile.read(medhelm.path / "medhelm-results" / "results.last-complete.json").instances == kept.instances
    complete_run(medhelm)
    assert not (medhelm.path / "medhelm-results" / "results.last-complete.json").exists()


INTERRUPTING_PLUGIN = """
def pytest_runtest_logfinish(nodeid, location):
    if "900003" in nodeid:
        raise KeyboardInterrupt
"""


def test_an_interrupted_run_is_marked_interrupted_everywhere(
    medhelm: Medhelm, capsys: pytest.CaptureFixture[str]
) -> None:
    complete_run(medhelm)
    # Ctrl-C after the third item (a plugin, not a conftest: the suites are outside this folder).
    medhelm.pytester.makepyfile(interrupter=INTERRUPTING_PLUGIN)
    medhelm.pytester.syspathinsert()

    result = medhelm.pytester.runpytest(
        *medhelm.args(
            f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, "-p", "interrupter", "--junitxml=junit.xml"
        ),
        no_reraise_ctrlc=True,
    )

    assert result.ret == pytest.ExitCode.INTERRUPTED
    results = medhelm.results()
    assert results.status == "interrupted"
    assert results.counts.selected == 6 and results.counts.not_run == 3
    assert len(results.instances) == 3
    result.stdout.fnmatch_lines(
        [
            "medhelm: run INTERRUPTED: *",
            "previous complete results kept: *",
            "results: *results.json (status: interrupted)",
        ]
    )
    assert ResultsFile.read(medhelm.path / "medhelm-results" / "results.last-complete.json").status == "complete"
    [suite] = JUnitXml.fromfile(str(medhelm.path / "junit.xml"))
    properties = {prop.name: prop.value for prop in suite.properties()}
    assert properties["medhelm.status"] == "interrupted"
    assert properties["medhelm.status_reason"] == results.status_reason

    # The reports open with it, reason and counts, before any score (issue #14).
    said = "Run INTERRUPTED: interrupted (Ctrl-C). 3 of 6 selected items reported, 3 not run"
    output = medhelm.path / "medhelm-results"
    markdown = (output / "leaderboard.md").read_text()
    assert markdown.startswith(f"# MedHELM leaderboard\n\n> **{said}")
    assert "The scores below are partial" in markdown.split("\n\n")[1]
    page = (output / "report.html").read_text()
    assert said in report_banner(page) and page.index('id="run-status"') < page.index("<h2>Leaderboard</h2>")
    assert "<title>MedHELM leaderboard (INTERRUPTED)</title>" in page
    [summary] = JUnitXml.fromfile(str(output / "medhelm-summary.xml"))
    assert {prop.name: prop.value for prop in summary.properties()}["medhelm.status_reason"] == "interrupted (Ctrl-C)"
    [run_case] = [case for case in summary if case.name == "run"]
    assert said in (run_case.result[0].text or "")

    # Merged with a complete run, the leaderboard names the file that is not complete.
    merged = medhelm.path / "merged"
    last_complete = output / "results.last-complete.json"
    status = cli.main(["leaderboard", str(last_complete), str(output / "results.json"), "--output", str(merged)])
    err = capsys.readouterr().err
    assert status == 1
    named = f"{output / 'results.json'}: interrupted (interrupted (Ctrl-C); 3 of 6 selected items reported, 3 not run"
    assert named in err and str(last_complete) + ":" not in err
    assert ResultsFile.read(merged / "results.json").status == "interrupted"
    assert named in (merged / "leaderboard.md").read_text().split("\n\n")[1]
    assert named in report_banner((merged / "report.html").read_text())
    # Its --junitxml file and its summary record the status too.
    for path in (medhelm.path / "junit.xml", output / "medhelm-summary.xml"):
        status = cli.main(["leaderboard", str(path), "--output", str(merged)])
        assert status == 1 and f"{path}: interrupted (interrupted (Ctrl-C))" in capsys.readouterr().err


def report_banner(page: str) -> str:
    """The text of report.html's run-status banner ("" when it has none)."""
    found = re.search(r'<p id="run-status" role="alert">(.*?)</p>', page, flags=re.DOTALL)
    return html.unescape(found.group(1)) if found else ""


def test_a_complete_run_has_no_banner_and_merges_clean(medhelm: Medhelm, capsys: pytest.CaptureFixture[str]) -> None:
    complete_run(medhelm)
    output = medhelm.path / "medhelm-results"
    markdown = (output / "leaderboard.md").read_text()
    assert markdown.startswith("# MedHELM leaderboard\n\nModels ranked") and "> **" not in markdown
    page = (output / "report.html").read_text()
    assert 'id="run-status"' not in page and "<title>MedHELM leaderboard</title>" in page
    status = cli.main(["leaderboard", str(output / "results.json"), "--output", str(medhelm.path / "merged")])
    assert status == 0, capsys.readouterr().err
    assert 'id="run-status"' not in (medhelm.path / "merged" / "report.html").read_text()


def test_collect_only_writes_nothing(medhelm: Medhelm) -> None:
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "--collect-only", "-q")

    assert result.ret == pytest.ExitCode.OK
    assert not (medhelm.path / "medhelm-results").exists()


def test_a_previous_file_without_a_status_counts_as_complete(medhelm: Medhelm, tmp_path: Path) -> None:
    complete_run(medhelm)
    path = medhelm.path / "medhelm-results" / "results.json"
    data = json.loads(path.read_text())
    for key in ("status", "status_reason", "counts", "gates"):
        data.pop(key)
    path.write_text(json.dumps(data))  # as written before the status existed
    assert ResultsFile.read(path).status == "complete"

    medhelm.run(f"--medhelm-model={EXTRACTIVE}", f"--medhelm-data-dir={tmp_path / 'empty'}")

    assert (medhelm.path / "medhelm-results" / "results.last-complete.json").exists()
