"""Downloads that fail (issue 15, case 9): each names the benchmark, the URL and the error, costs
only its own benchmark, and never sends anything past loopback (a proxy on 127.0.0.1 stands in
for the network); pinned hashes are verified; archives write nothing outside their folder."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pytest_medhelm.cli import main
from pytest_medhelm.data import DataUnavailable, Fetcher, download
from pytest_medhelm.suites.medical_research import test_pubmed_qa

URL = "https://example.test/data/records.json"


class Proxy:
    """A proxy on 127.0.0.1 that records each request line (``CONNECT host:443``) and hangs up."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(4096)
                self.lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    """Every HTTP(S) request of this process goes to a loopback proxy that refuses to serve it."""
    proxy = Proxy()
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield proxy
    proxy.close()


def mock_fetcher(tmp_path: Path, body: bytes = b"{}", *, fail: Exception | None = None) -> Fetcher:
    def handler(request: httpx.Request) -> httpx.Response:
        if fail is not None:
            raise fail
        return httpx.Response(200, content=body)

    return Fetcher(tmp_path / "cache", client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_a_network_failure_names_the_url_and_the_error(tmp_path: Path) -> None:
    fetcher = mock_fetcher(tmp_path, fail=httpx.ConnectError("[Errno 101] Network is unreachable"))
    with pytest.raises(DataUnavailable) as failure:
        fetcher.url(URL)
    assert str(failure.value) == f"download of {URL} failed: ConnectError: [Errno 101] Network is unreachable"


def test_a_pinned_hash_is_verified_before_the_file_is_kept(tmp_path: Path) -> None:
    body = b'{"synthetic": true}'
    right = hashlib.sha256(body).hexdigest()
    with pytest.raises(DataUnavailable) as failure:
        mock_fetcher(tmp_path, body).url(URL, sha256="0" * 64)
    assert str(failure.value) == f"download of {URL} failed: its sha256 is {right}, not the pinned {'0' * 64}"
    assert not list((tmp_path / "cache").rglob("*records*"))  # nothing kept to be used later

    assert mock_fetcher(tmp_path, body).url(URL, sha256=right).read_bytes() == body


def test_an_archive_member_cannot_be_written_outside_its_folder(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../../escaped/test.json", "{}")
        archive.writestr("/abs/test.json", "{}")
    before = {p for p in tmp_path.parent.rglob("*")}
    data = mock_fetcher(tmp_path, buffer.getvalue()).zip_member("https://example.test/a.zip", "test.json")
    assert data == b"{}"  # read in memory, never extracted by its own path
    created = {p for p in tmp_path.parent.rglob("*")} - before
    assert all(tmp_path in p.parents for p in created)


def test_one_failed_fetch_is_that_benchmarks_error_naming_its_source(tmp_path: Path, offline: Proxy) -> None:
    with pytest.raises(DataUnavailable) as failure:
        download(test_pubmed_qa.BENCHMARK, tmp_path / "mirror", Fetcher(tmp_path / "cache"))
    assert str(failure.value).startswith(f"download of {test_pubmed_qa.URL} failed: ")
    assert offline.lines == ["CONNECT raw.githubusercontent.com:443 HTTP/1.1"]


def test_medhelm_download_offline_names_benchmark_and_url_without_a_traceback(
    tmp_path: Path, offline: Proxy, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["download", "--to", str(tmp_path / "mirror"), "pubmed_qa", "med_qa"])

    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2  # one line per benchmark, each tried
    assert lines[0].startswith(f"pubmed_qa: FAILED ({test_pubmed_qa.URL}): download of {test_pubmed_qa.URL} failed: ")
    assert lines[1].startswith("med_qa: FAILED (")


def test_download_fetches_only_what_k_selects_and_a_failure_costs_only_that_benchmark(
    pytester: pytest.Pytester, offline: Proxy
) -> None:
    empty = pytester.path / "empty-mirror"
    empty.mkdir()

    result = pytester.runpytest_subprocess(
        "--medhelm-model=baseline-extractive",
        f"--medhelm-data-dir={empty}",
        "--medhelm-download",
        "--medhelm-no-cache",
        "-k",
        "pubmed_qa",
        "-rs",
    )

    # One fetch (PubMedQA's), not one per public benchmark; it fails, and is that benchmark's skip.
    assert offline.lines == ["CONNECT raw.githubusercontent.com:443 HTTP/1.1"]
    result.stdout.fnmatch_lines(["SKIPPED *download of https://raw.githubusercontent.com/pubmedqa/*failed: *"])
    assert "Interrupted" not in result.stdout.str() and "Traceback" not in result.stdout.str()
