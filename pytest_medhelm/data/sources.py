"""Where a benchmark's records come from: the upstream download, or the files an owner holds.

Records are plain dicts with the upstream field names, so the same ``to_instance`` reads a record
fetched from upstream and one read from the local mirror (``DIR/<benchmark_id>/test.jsonl``).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

Record = dict[str, Any]


class DataError(Exception):
    """A record or file that cannot be read; names the file, the line and the field."""

    def __init__(
        self, message: str, *, file: str | Path | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file is not None else "",
                f"line {line}" if line is not None else "",
                f"field {field!r}" if field is not None else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.file, self.line, self.field = file, line, field


class DataWarning(UserWarning):
    """An owner's row read differently from HELM 0.5.16 (kept or dropped more sanely); names the
    file, the line and the field, never the row's text."""


def warn_row(message: str, *, file: str | Path, line: int | None = None, field: str | None = None) -> None:
    """Warn about one row of an owner's file, in :class:`DataError`'s "file, line, field" form."""
    import warnings

    warnings.warn(DataWarning(str(DataError(message, file=file, line=line, field=field))), stacklevel=3)


class DataUnavailable(Exception):
    """The benchmark's data is not here; the message says where to get it."""


def home_dir() -> Path:
    """Where downloads and parsed-instance caches live (``$MEDHELM_HOME`` overrides)."""
    if env := os.environ.get("MEDHELM_HOME"):
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pytest-medhelm"


class Fetcher:
    """Downloads upstream files once into a cache directory.

    The HTTP client is injectable so loaders are tested against ``httpx.MockTransport``.
    """

    def __init__(self, cache_dir: Path, *, client: httpx.Client | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self._client = client

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx  # here: the loaders need it only when they download

            self._client = httpx.Client(timeout=httpx.Timeout(60.0, connect=15.0), follow_redirects=True)
        return self._client

    def url(self, url: str, *, sha256: str | None = None) -> Path:
        """The local copy of ``url``, downloaded on first use (atomically, so workers can race).

        Any failure is a :class:`DataUnavailable` naming the URL and the error (no network, a
        refused connection, an HTTP status). With ``sha256`` (a pinned hash) the download is
        verified before it is kept, and a copy that does not match is refused, never used.
        """
        name = Path(urllib.parse.urlparse(url).path).name or "download"
        target = self.cache_dir / "downloads" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"
        if target.exists():
            return target
        import httpx

        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            response = self._http().get(url)
        except (httpx.HTTPError, OSError) as exc:
            raise DataUnavailable(f"download of {url} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise DataUnavailable(f"download of {url} failed: HTTP {response.status_code}")
        if sha256 is not None and (got := hashlib.sha256(response.content).hexdigest()) != sha256.lower():
            raise DataUnavailable(f"download of {url} failed: its sha256 is {got}, not the pinned {sha256}")
        tmp = target.with_suffix(target.suffix + f".{os.getpid()}.part")
        tmp.write_bytes(response.content)
        tmp.replace(target)
        return target

    def text(self, url: str) -> str:
        return self.url(url).read_text(encoding="utf-8")

    def json(self, url: str) -> Any:
        return json.loads(self.text(url))

    def zip_member(self, url: str, member: str) -> bytes:
        """One file of the zip archive at ``url``, matched by its path or its path's ending.

        Google Drive answers a quota or sign-in page instead of the file now and then: such a
        download is not kept in the cache, and the error says to retry.
        """
        archive = self.url(url)
        if not zipfile.is_zipfile(archive):
            archive.unlink()
            raise DataUnavailable(f"{url} did not return a zip archive (Google Drive quota?); retry later")
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name == member or name.endswith("/" + member):
                    return zf.read(name)
        raise DataError(f"no {member} in the archive downloaded from {url}", file=archive)

    def hf(self, repo_id: str, filename: str, *, revision: str | None = None, repo_type: str = "dataset") -> Path:
        """A file of a Hugging Face repository, through ``huggingface_hub`` and its own cache."""
        from huggingface_hub import hf_hub_download

        try:
            return Path(
                hf_hub_download(
                    repo_id=repo_id,
                    filename=filename,
                    revision=revision,
                    repo_type=repo_type,
                    cache_dir=self.cache_dir / "hf",
                )
            )
        except Exception as exc:  # noqa: BLE001  (huggingface_hub's errors have no common base)
            where = f"https://huggingface.co/datasets/{repo_id} ({filename})"
            raise DataUnavailable(f"download of {where} failed: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


@dataclass(frozen=True)
class Source:
    """A benchmark's data origin.

    ``fetch`` downloads and parses the upstream data into records (``None`` for data that only
    its owner holds). ``read_local`` reads an owner's files (gated and private benchmarks) from a
    folder. ``side_files`` are extra files the scorer needs (``eicu.sqlite``), found next to the
    records in the mirror; ``fetch_side_file`` downloads one of them. ``local_files`` are files a
    source names itself (a user benchmark's data file and its YAML definition): found without a
    data dir, read by ``read_local`` from their folder, and the only files hashed for the instance
    cache (rather than everything in that folder).
    """

    upstream: str
    how_to_get: str
    fetch: Callable[[Fetcher], Iterable[Record]] | None = None
    read_local: Callable[[Path], Iterable[Record]] | None = None
    side_files: tuple[str, ...] = ()
    fetch_side_file: Callable[[Fetcher, str], Path] | None = None
    # Fields read once from the data folder (its side files) and added to every record before
    # ``to_instance``: EHRSQL's schema text, which every prompt embeds, lives in a side file.
    shared_fields: Callable[[Path], Mapping[str, Any]] | None = None
    local_files: tuple[Path, ...] = ()


#: The longest record line read from a JSONL file. No model's context holds a record this large
#: (about two million tokens), so a larger one is a broken file, not a prompt to send.
MAX_RECORD_BYTES = 8 << 20


def read_jsonl(path: Path) -> Iterator[tuple[int, Record]]:
    """(line number, record) for each non-blank line; a bad line is a :class:`DataError`.

    Lines are decoded one by one, so a byte that is not UTF-8 is reported with its line.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if len(raw) > MAX_RECORD_BYTES:
                raise DataError(
                    f"record of {len(raw) / (1 << 20):.1f} MB, over the {MAX_RECORD_BYTES >> 20} MB a record may hold",
                    file=path,
                    line=number,
                )
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"not UTF-8 text (byte {raw[exc.start]:#04x} at column {exc.start + 1})", file=path, line=number
                ) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                # Some of json's messages end in "at" ("Invalid control character at").
                reason = exc.msg.removesuffix(" at")
                raise DataError(f"not valid JSON ({reason}, column {exc.colno})", file=path, line=number) from None
            if not isinstance(record, dict):
                raise DataError("expected a JSON object", file=path, line=number)
            yield number, record


def write_jsonl(path: Path, records: Iterable[Record]) -> int:
    """Write records as a mirror file (atomically); returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.part")
    count = 0
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count
