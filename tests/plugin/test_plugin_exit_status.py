"""Exit status and how problems are reported: low scores, item errors, and a fatal model error."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from junitparser import JUnitXml

from medhelm_sessions import Medhelm
from pytest_medhelm.testserver import Fault, TestServer

EXTRACTIVE = "baseline-extractive"
SECRET = "sk-synthetic-0123456789abcdef-never-print-me"
KEY_ENV = "MEDHELM_PLUGIN_TEST_KEY"


def test_low_scores_are_findings(medhelm: Medhelm) -> None:
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED)

    result.assert_outcomes(passed=4, failed=2)
    assert result.ret == pytest.ExitCode.OK
    # One short line per low score (pytest's FAILED summary line, with an id that can be pasted
    # back), no failure section, and never the prompt or the model's output (patient text).
    output = result.stdout.str()
    wrong = [line for line in output.splitlines() if "900002" in line or "900004" in line]
    assert len(wrong) == 2, wrong
    # (pytest adds the message, "pubmed_qa: exact_match = 0, below the pass rule (>= 1)", when the
    # terminal is wide enough or on CI.)
    assert all(line.startswith("FAILED medical_research/test_pubmed_qa.py::pubmed_qa[") for line in wrong)
    assert "pubmed_qa 900002 on baseline-extractive" not in output  # no failure section headline
    assert "Synthetic" not in output
    assert "Traceback" not in output and "def runtest" not in output


def test_an_unreachable_model_stops_the_session_with_one_message(medhelm: Medhelm, closed_port: int) -> None:
    # Nothing listens on the port: after three refused connects the model's calls stop, with one
    # message naming the host, the port and the errno (it used to be six items each "gave up").
    path = medhelm.models_file(
        "models:\n  - name: local-llm\n    provider: openai\n    model: local-llm\n"
        "    retry: {max_attempts: 2, base_delay_s: 0.0}\n"
    )
    model = f"local-llm@http://127.0.0.1:{closed_port}/v1"

    result = medhelm.run(f"--medhelm-models-file={path}", f"--medhelm-model={model}", *medhelm.ONLY_PUBMED)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            f"! Interrupted: medhelm: model 'local-llm': cannot connect to 127.0.0.1:{closed_port} "
            "([[]Errno 111[]] Connection refused), 3 times in a row and never once: is the server "
            f"running at http://127.0.0.1:{closed_port}/v1? !"
        ]
    )
    output = result.stdout.str()
    assert "gave up after" not in output
    assert "Traceback" not in output and "Synthetic" not in output  # no frames, so no prompt either


def test_one_rejected_request_errors_only_its_item(medhelm: Medhelm, server: TestServer) -> None:
    # A 400 is not retried and not fatal: that item errors, the others are scored as usual.
    server.fail_matching(lambda body: "900003" in json.dumps(body), Fault.http(400))
    model = f"local@{server.url}"

    result = medhelm.run(f"--medhelm-model={model}", *medhelm.ONLY_PUBMED, "-rA")

    # The server always answers yes: right for 900001, 900004 and 900006.
    result.assert_outcomes(passed=3, failed=2, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["ERROR *::pubmed_qa[[]900003-local[]]*"])
    results = medhelm.results()
    assert results.benchmarks["pubmed_qa"].scores["local"].errors == 1
    assert results.benchmarks["pubmed_qa"].scores["local"].n == 5


@pytest.fixture
def rejecting_server() -> Iterator[tuple[str, list[str]]]:
    """A provider that answers every request 401, as for a bad key: (its URL, the auth headers seen)."""
    seen: list[str] = []

    class Rejecting(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.headers.get("Authorization", ""))
            body = json.dumps(
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                }
            ).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Rejecting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def guarded_models_file(medhelm: Medhelm, url: str) -> Path:
    """A registry with one model at ``url`` whose key is read from ``KEY_ENV``."""
    return medhelm.models_file(
        f"models:\n  - name: guarded\n    provider: openai\n    model: guarded-1\n"
        f"    base_url: {url}\n    api_key_env: {KEY_ENV}\n"
    )


def test_a_rejected_key_stops_the_session_with_one_message(
    medhelm: Medhelm, rejecting_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen_auth = rejecting_server
    monkeypatch.setenv(KEY_ENV, SECRET)
    path = guarded_models_file(medhelm, url)

    result = medhelm.run(
        f"--medhelm-models-file={path}", "--medhelm-model=guarded", *medhelm.ONLY_PUBMED, "--junitxml=junit.xml"
    )

    assert seen_auth and seen_auth[0] == f"Bearer {SECRET}"  # the key was really sent
    result.assert_outcomes(errors=1)  # the first item; the session stops there
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            f"! Interrupted: medhelm: model 'guarded' at {url}: the API key was rejected "
            "(HTTP 401: type invalid_request_error, code invalid_api_key) !"
        ]
    )
    junit = (medhelm.path / "junit.xml").read_text()
    results_json = (medhelm.path / "medhelm-results" / "results.json").read_text()
    for text in (result.stdout.str(), result.stderr.str(), junit, results_json):
        assert SECRET not in text
        assert SECRET[:12] not in text
    cases = [case for suite in JUnitXml.fromfile(str(medhelm.path / "junit.xml")) for case in suite]
    assert len(cases) == 1


def test_under_xdist_a_rejected_key_stops_every_worker_without_the_key(
    medhelm: Medhelm, rejecting_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both workers call through the controller's engine process: its fatal error reaches each.
    url, seen_auth = rejecting_server
    monkeypatch.setenv(KEY_ENV, SECRET)
    path = guarded_models_file(medhelm, url)

    result = medhelm.run_subprocess(
        f"--medhelm-models-file={path}", "--medhelm-model=guarded", *medhelm.ONLY_PUBMED, "-n", "2", timeout=120
    )

    assert seen_auth and all(auth == f"Bearer {SECRET}" for auth in seen_auth)
    assert len(seen_auth) <= len(medhelm.IDS)  # each prompt sent once at most, then nothing more
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*Interrupted: medhelm: model 'guarded' at {url}: the API key was rejected*"])
    assert 1 <= result.parseoutcomes().get("errors", 0) <= 2  # the first item of each worker
    for text in (result.stdout.str(), result.stderr.str()):
        assert SECRET not in text and SECRET[:12] not in text
