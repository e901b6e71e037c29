"""The response cache: one SQLite file (WAL) shared by every process of a run.

The key is a hash of the endpoint identity (provider, base URL, model) and the full provider
payload (prompt and every generation parameter), never of timeouts, retries or API keys, so one
model's answer is never served for another and a re-run pays only for what is missing. Each
response is committed as soon as it arrives; errors are never stored.

The file is checked when it is opened, so a bad one is named before anything is paid for: a
directory, a file that is not SQLite, another program's database or one of a newer schema is
refused (:class:`CacheError`, naming the path); a cache of ours that fails SQLite's quick check is
moved aside (``NAME.corrupt-<time>``) and a new one started, with a warning; a cache that cannot be
written (a read-only file or folder) is read, and the new answers are not stored, with a warning.
Its schema version is SQLite's ``user_version``.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ``PRAGMA user_version`` of a cache this version writes (0: written before it was set, same table).
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    latency_s REAL NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class CachedResponse:
    text: str
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    latency_s: float


def cache_key(endpoint: dict[str, Any], body: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"endpoint": endpoint, "body": body}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class CacheError(Exception):
    """A response cache that cannot be used; the message names its path and what to do."""


def _uri(path: Path, **params: str) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + "?" + urllib.parse.urlencode(params)


class ResponseCache:
    def __init__(self, path: Path, *, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        #: Said once, when the cache was opened: a corrupt file moved aside, a read-only cache.
        self.warnings: list[str] = []
        self.readonly = False
        self._failed_reads = self._failed_writes = False
        self._lock = threading.Lock()
        self._db = self._open(busy_timeout_s)

    # -- opening and checking ---------------------------------------------------------------------

    def _refuse(self, what: str) -> CacheError:
        return CacheError(f"{self.path}: {what}; pass another --medhelm-cache path, or --medhelm-no-cache")

    def _open(self, busy_timeout_s: float) -> sqlite3.Connection:
        if self.path.is_dir():
            raise self._refuse("is a directory, not a cache file")
        if self.path.exists():
            try:
                with open(self.path, "rb") as handle:
                    head = handle.read(len(_SQLITE_MAGIC))
            except OSError as exc:
                raise self._refuse(f"cannot be read ({exc.strerror})") from None
            if head and head != _SQLITE_MAGIC:
                raise self._refuse("is not a response cache (not a SQLite file)")
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._refuse(f"its folder cannot be created ({exc.strerror})") from None
        try:
            db = self._connect_writable(busy_timeout_s)
        except sqlite3.DatabaseError as exc:
            if not self.path.exists() or self.path.stat().st_size == 0:
                raise self._refuse(f"cannot be created ({exc})") from None
            if "readonly" in str(exc) or "unable to open" in str(exc):
                db = self._connect_readonly()
            elif "malformed" in str(exc) or "not a database" in str(exc):
                self._move_aside(str(exc))
                db = self._connect_writable(busy_timeout_s)
            else:
                raise self._refuse(f"cannot be opened ({exc})") from None
        return db

    def _connect_writable(self, busy_timeout_s: float) -> sqlite3.Connection:
        # Autocommit: each INSERT is its own transaction, durable as soon as it returns.
        db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._check_schema(db)
            self._setup(db, time.monotonic() + busy_timeout_s)
            if db.execute("PRAGMA quick_check(1)").fetchone() != ("ok",):
                raise sqlite3.DatabaseError("database disk image is malformed")
        except BaseException:
            db.close()
            raise
        return db

    def _connect_readonly(self) -> sqlite3.Connection:
        for params in ({"mode": "ro"}, {"mode": "ro", "immutable": "1"}):
            db = sqlite3.connect(_uri(self.path, **params), uri=True, isolation_level=None, check_same_thread=False)
            try:
                self._check_schema(db)
                db.execute("SELECT COUNT(*) FROM responses").fetchone()
            except sqlite3.DatabaseError:
                db.close()
                continue
            self.readonly = True
            self.warnings.append(
                f"response cache {self.path} is read-only: its answers are used, new answers are not stored"
            )
            return db
        raise self._refuse("cannot be opened for reading or writing")

    def _check_schema(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise self._refuse(
                f"was written by a newer pytest-medhelm (cache schema {version}, this one reads {SCHEMA_VERSION})"
            )
        if tables and "responses" not in tables:
            raise self._refuse("is another program's SQLite database, not a response cache")

    def _move_aside(self, reason: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.replace(Path(f"{aside}{suffix}"))
        self.warnings.append(
            f"response cache {self.path} was damaged ({reason}): moved to {aside}, and a new cache started"
        )

    @staticmethod
    def _setup(db: sqlite3.Connection, deadline: float) -> None:
        # xdist workers open a fresh file at the same moment. Switching it to WAL needs an
        # exclusive lock, and SQLite answers "database is locked" at once, without waiting, when
        # two connections would deadlock on it: retry until the first one has done the switch.
        while True:
            try:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute(_SCHEMA)
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))

    def _note(self, what: str, exc: Exception) -> None:
        # Once per kind, on stderr: the cache may live in a child process with no terminal of its own.
        print(f"medhelm: response cache {self.path}: {what} ({exc})", file=sys.stderr, flush=True)

    # -- reading and writing ----------------------------------------------------------------------

    def get(self, key: str) -> CachedResponse | None:
        """The stored answer, or None; a read that fails (a page damaged during the run) is a miss."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT text, input_tokens, output_tokens, reasoning_tokens, latency_s FROM responses WHERE key = ?",
                    (key,),
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            if not self._failed_reads:
                self._failed_reads = True
                self._note("a read failed, the request is sent instead", exc)
            return None
        return CachedResponse(*row) if row else None

    def put(self, key: str, model: str, response: CachedResponse) -> None:
        if self.readonly:
            return
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        model,
                        response.text,
                        response.input_tokens,
                        response.output_tokens,
                        response.reasoning_tokens,
                        response.latency_s,
                        time.time(),
                    ),
                )
        except sqlite3.DatabaseError as exc:
            # The answer is still returned to its item: only a later run's saving is lost.
            if not self._failed_writes:
                self._failed_writes = True
                self._note("an answer could not be stored, later ones may not be either", exc)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
