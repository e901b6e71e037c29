"""Faults a run must survive (issue 15): bad input files, an unusable cache, an unwritable
output folder. Each is one clear message naming the file or the path, only the affected
benchmark is lost, and nothing already paid for is lost."""

from __future__ import annotations

import json

import pytest

from medhelm_sessions import Medhelm
from pytest_medhelm.testserver import Fault, TestServer

EXTRACTIVE = "--medhelm-model=baseline-extractive"
NOTES_YAML = """\
name: ward_notes
category: custom
subcategory: Synthetic
data: notes.jsonl
prompt: "{note}"
reference: answer
metrics: [exact_match]
max_tokens: 1
"""


def test_a_byte_that_is_not_utf8_costs_only_its_own_benchmark(medhelm: Medhelm) -> None:
    lines = [json.dumps({"note": f"Synthetic note {i}.", "answer": "Synthetic"}).encode() for i in range(700)]
    lines[600] = lines[600].replace(b"note", b"n\xf6te", 1)  # a Latin-1 byte on line 601
    ward = medhelm.path / "ward"
    ward.mkdir()
    (ward / "notes.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (ward / "ward_notes.medhelm.yaml").write_text(NOTES_YAML, encoding="utf-8")
    medhelm.pytester.makeini("[pytest]\nmedhelm_paths = ward\n")

    result = medhelm.run(EXTRACTIVE, "-m", "pubmed_qa or ward_notes", "-rE")

    # PubMedQA still runs (4 right, 2 wrong); the user benchmark is one error naming file and line.
    result.assert_outcomes(passed=4, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [f"*ward_notes: bad data: file {ward / 'notes.jsonl'}, line 601: not UTF-8 text (byte 0xf6*"]
    )
    assert "Interrupted" not in result.stdout.str()
    assert medhelm.results().benchmarks["pubmed_qa"].scores["baseline-extractive"].n == 6


def test_an_empty_records_file_is_an_error_not_a_silent_absence(medhelm: Medhelm) -> None:
    path = medhelm.data / "pubmed_qa" / "test.jsonl"
    path.write_text("", encoding="utf-8")

    result = medhelm.run(EXTRACTIVE, *medhelm.ONLY_PUBMED, "-rE")

    result.assert_outcomes(errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*pubmed_qa: bad data: file {path}: no records*"])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_text("not a database\n", encoding="utf-8"), "is not a response cache (not a SQLite file)"),
        (lambda p: p.mkdir(), "is a directory, not a cache file"),
    ],
)
def test_an_unusable_cache_stops_the_run_at_start_naming_its_path(
    medhelm: Medhelm, server: TestServer, make, reason: str
) -> None:  # type: ignore[no-untyped-def]
    cache = medhelm.path / "answers.sqlite"
    make(cache)

    result = medhelm.run_subprocess(
        f"--medhelm-model=local@{server.url}", f"--medhelm-cache={cache}", *medhelm.ONLY_PUBMED
    )

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: medhelm: response cache {cache}: {reason}; pass another --medhelm-cache path, or --medhelm-no-cache"]
    )
    assert server.stats.requests == 0
    assert "Connection lost" not in result.stdout.str() + result.stderr.str()


def test_a_damaged_cache_is_moved_aside_and_the_run_goes_on(medhelm: Medhelm, server: TestServer) -> None:
    model = f"--medhelm-model=local@{server.url}"
    assert medhelm.run_subprocess(model, *medhelm.ONLY_PUBMED).ret == pytest.ExitCode.OK
    data = bytearray(medhelm.cache.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page: the schema itself
    medhelm.cache.write_bytes(bytes(data))
    server.reset_stats()

    result = medhelm.run_subprocess(model, *medhelm.ONLY_PUBMED)

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3, failed=3)  # the server answers "A" (yes) to everything
    assert f"response cache {medhelm.cache} was damaged" in result.stdout.str()
    assert len(list(medhelm.path.glob("responses.sqlite.corrupt-*"))) == 1
    assert server.stats.requests == 6


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_call(
    medhelm: Medhelm, server: TestServer
) -> None:
    blocker = medhelm.path / "results-file"
    blocker.write_text("in the way\n", encoding="utf-8")
    output = blocker / "out"

    result = medhelm.run_subprocess(
        f"--medhelm-model=local@{server.url}", f"--medhelm-output={output}", *medhelm.ONLY_PUBMED
    )

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: medhelm: --medhelm-output {output}: results.json cannot be written there (*); pass another folder"]
    )
    assert server.stats.requests == 0


BREAK_OUTPUT_AT_THE_END = """
import shutil
from pathlib import Path

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session):
    # The folder goes away while the run is on (a cleanup job, a full disk): a file takes its place.
    output = Path(session.config.getoption("medhelm_output"))
    shutil.rmtree(output, ignore_errors=True)
    output.write_text("in the way", encoding="utf-8")
    return (yield)
"""


def test_results_are_kept_when_the_output_folder_fails_at_the_end(medhelm: Medhelm) -> None:
    medhelm.pytester.makeconftest(BREAK_OUTPUT_AT_THE_END)
    output = medhelm.path / "out"

    result = medhelm.run_subprocess(EXTRACTIVE, f"--medhelm-output={output}", *medhelm.ONLY_PUBMED)

    text = result.stdout.str()
    assert "Traceback" not in text + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "*MedHELM results*",
            f"medhelm: could not write {output / 'results.json'} (*)",
            "results: */medhelm-results-*/results.json (status: complete)",
        ]
    )
    written = next(line for line in result.outlines if line.startswith("results: ")).split()[1]
    kept = medhelm.results(output=__import__("pathlib").Path(written).parent)
    assert kept.benchmarks["pubmed_qa"].scores["baseline-extractive"].n == 6


CANARY = "sk-canary-7f3a9c1e5b2d4068-medhelm"
CANARY_ENV = "MEDHELM_CANARY_KEY"


def quoting_the_prompt_and_the_key() -> Fault:
    # As some providers answer: the request's own text and the key quoted back in the message.
    body = {
        "error": {
            "message": f"Invalid request for key {CANARY}: 'Synthetic question 900003: does compound "
            "Z shorten recovery?' is not allowed",
            "type": "invalid_request_error",
            "code": "invalid_prompt",
        }
    }
    return Fault.http(400, body=json.dumps(body))


def canary_session(medhelm: Medhelm, *extra: str) -> tuple[pytest.RunResult, TestServer]:
    server = TestServer(api_key=CANARY)
    server.start()
    server.fail_matching(lambda body: "900003" in json.dumps(body), quoting_the_prompt_and_the_key())
    path = medhelm.models_file(
        f"models:\n  - name: keyed\n    provider: openai\n    model: keyed\n"
        f"    base_url: {server.url}\n    api_key_env: {CANARY_ENV}\n"
    )
    try:
        result = medhelm.run_subprocess(
            f"--medhelm-models-file={path}",
            "--medhelm-model=keyed",
            *medhelm.ONLY_PUBMED,
            "--junitxml=junit.xml",
            "--log-file=run.log",
            "--log-file-level=DEBUG",
            "-rA",
            *extra,
        )
    finally:
        server.stop()
    return result, server


def test_the_key_appears_in_no_artifact_and_patient_text_not_in_terminal_or_junit(
    medhelm: Medhelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CANARY_ENV, CANARY)

    result, server = canary_session(medhelm)

    assert server.stats.succeeded == 5  # the key was sent, and worked
    result.assert_outcomes(passed=3, failed=2, errors=1)
    result.stdout.fnmatch_lines(["*keyed: HTTP 400: type invalid_request_error, code invalid_prompt*"])
    files = [path for path in medhelm.path.rglob("*") if path.is_file()]
    assert {"junit.xml", "run.log", "results.json", "responses.sqlite"} <= {path.name for path in files}
    for text, where in [
        (result.stdout.str(), "terminal"),
        (result.stderr.str(), "stderr"),
        *((path.read_bytes().decode("utf-8", "replace"), str(path)) for path in files),
    ]:
        assert CANARY not in text, where
        assert CANARY[:16] not in text, where
    for text, where in [(result.stdout.str(), "terminal"), ((medhelm.path / "junit.xml").read_text(), "junit")]:
        assert "Synthetic question" not in text, where
        assert "compound Z" not in text, where


def test_include_text_shows_the_providers_message_but_never_the_key(
    medhelm: Medhelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CANARY_ENV, CANARY)

    result, _ = canary_session(medhelm, "--medhelm-include-text")

    result.stdout.fnmatch_lines(
        [
            "*keyed: HTTP 400: type invalid_request_error, code invalid_prompt, Invalid request "
            "for key [[]redacted[]]: 'Synthetic question 900003*"
        ]
    )
    assert CANARY not in result.stdout.str() + (medhelm.path / "junit.xml").read_text()


def test_a_path_option_given_with_a_space_keeps_the_rootdir(medhelm: Medhelm) -> None:
    project = medhelm.path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    medhelm.pytester.chdir()
    import os

    os.chdir(project)

    result = medhelm.pytester.runpytest_subprocess(
        EXTRACTIVE, "--medhelm-data-dir", "../data", "-m", "pubmed_qa", "--medhelm-no-cache"
    )

    result.stdout.fnmatch_lines([f"rootdir: {project}", "configfile: pytest.ini"])
    assert (project / "medhelm-results" / "results.json").is_file()
    assert not (medhelm.path / "medhelm-results").exists()
    assert not (medhelm.path / ".pytest_cache").exists()


MIXED_YAML = """\
name: mixed_faults
category: custom
subcategory: Synthetic
data: items.csv
id_column: item_id
prompt: "{question}"
reference: answer
metrics: [exact_match]
max_tokens: 1
"""


def test_mixed_transport_faults_cost_no_item_and_send_nothing_twice(medhelm: Medhelm) -> None:
    # 10% of the prompts each meet a 429, a 500, a hang past the timeout or a malformed body on
    # their first request (40% in all); every one is retried to an answer.
    count = 200
    rows = "".join(f"i{i},Synthetic question {i}?,A\n" for i in range(count))
    (medhelm.path / "items.csv").write_text("item_id,question,answer\n" + rows, encoding="utf-8")
    (medhelm.path / "mixed.medhelm.yaml").write_text(MIXED_YAML, encoding="utf-8")
    faults = [Fault.http(429, retry_after=0.05), Fault.http(500), Fault.hang(4.0), Fault.malformed()]
    faulted: set[str] = set()
    with TestServer() as server:
        for kind, fault in enumerate(faults):

            def first_time(body: dict, kind: int = kind) -> bool:
                prompt = body["messages"][0]["content"]
                number = int(prompt.split("question ")[1].split("?")[0])
                if number % 10 != kind or prompt in faulted:
                    return False
                faulted.add(prompt)
                return True

            server.fail_matching(first_time, fault)
        path = medhelm.models_file(
            f"models:\n  - name: flaky\n    provider: openai\n    model: flaky\n"
            f"    base_url: {server.url}\n    timeout_s: 2\n"
            "    retry: {max_attempts: 4, base_delay_s: 0.05}\n"
        )
        result = medhelm.run_subprocess(
            f"--medhelm-models-file={path}",
            "--medhelm-model=flaky",
            "--medhelm-concurrency=16",
            str(medhelm.path / "mixed.medhelm.yaml"),
            timeout=180,
        )
        stats = server.stats

    assert len(faulted) == 80
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) == 0 and outcomes.get("passed", 0) + outcomes.get("failed", 0) == count
    assert stats.succeeded == count  # one answer per item: no item asked twice once answered
    assert stats.requests == count + len(faulted)  # each faulted prompt: exactly one retry
