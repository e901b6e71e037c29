"""From a benchmark's data to the instances MedHELM evaluates.

Order of lookup: the local mirror (``--medhelm-data-dir``: ``DIR/<id>/test.jsonl``, or the owner's
files in ``DIR/<id>/`` for gated and private data), then a per-benchmark path from the config, then
the download cache, then (only with ``--medhelm-download``) the upstream source.

Parsed instances are cached on disk keyed by the hash of the source file and of the suite module,
so xdist workers and re-runs do not parse large sources again; on an empty cache, one process
parses while the others wait on a lock file beside the entry and then read what it wrote.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import pickle
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_medhelm.benchmark import Benchmark, Instance
from pytest_medhelm.data.sources import (
    DataError,
    DataUnavailable,
    Fetcher,
    Record,
    home_dir,
    read_jsonl,
    write_jsonl,
)

RECORDS_FILE = "test.jsonl"
_CACHE_FORMAT = "1"


@dataclass(frozen=True)
class LoadedBenchmark:
    benchmark: Benchmark
    instances: list[Instance]
    # Folder holding the records and any side files (``eicu.sqlite``) the scorer needs.
    data_dir: Path | None
    origin: str
    total: int
    # The files the instances were read from (their hashes go into results.json).
    source_files: tuple[Path, ...] = ()


def sample(instances: list[Instance], cap: int) -> list[Instance]:
    """MedHELM's subset: ``RandomState(0).permutation(n)[:cap]`` over loader order, per run."""
    by_run: dict[str, list[Instance]] = defaultdict(list)
    for instance in instances:
        by_run[instance.run].append(instance)
    chosen: list[Instance] = []
    for run_instances in by_run.values():
        if len(run_instances) <= cap:
            chosen.extend(run_instances)
        else:
            import numpy as np  # here, not at the top: it costs every pytest start-up 0.2 s

            order = np.random.RandomState(0).permutation(len(run_instances))[:cap]
            chosen.extend(run_instances[i] for i in order)
    return chosen


class _ReadRecord(dict):  # type: ignore[type-arg]
    """A record that remembers which fields ``to_instance`` read with ``record[field]``, so an
    error can name the field it came from."""

    __slots__ = ("read",)

    def __init__(self, record: Record) -> None:
        super().__init__(record)
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        self.read.append(key)
        return value

    def culprit(self, exc: Exception) -> str | None:
        """The field an unexpected-value error most likely came from: for a type error, the last
        field read that holds a number, a boolean or null (where text or a list belongs); else
        the last field read."""
        if isinstance(exc, (TypeError, AttributeError)):
            for key in reversed(self.read):
                if isinstance(dict.get(self, key), (int, float, type(None))):
                    return key
        return self.read[-1] if self.read else None

    def null_in_text(self, instance: Instance) -> str | None:
        """A field read as ``record[field]`` that is null and shows up as "None" in the text."""
        if "None" not in instance.input and "None" not in instance.reference:
            return None
        return next((key for key in self.read if dict.get(self, key, "") is None), None)


def to_instances(benchmark: Benchmark, records: Iterable[tuple[int, Record]], file: Path | str) -> list[Instance]:
    """Apply the benchmark's ``to_instance``; a missing or bad field names file, line and field."""
    instances: list[Instance] = []
    seen: dict[str, int] = {}
    position: dict[str, int] = {}
    for line, raw in records:
        record = _ReadRecord(raw)
        try:
            made = benchmark.to_instance(record)
        except DataError as exc:
            if exc.file is not None:
                raise
            raise DataError(exc.message, file=file, line=line, field=exc.field) from None
        except KeyError as exc:
            raise DataError("missing field", file=file, line=line, field=str(exc.args[0])) from None
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            raise DataError(f"unexpected value ({exc})", file=file, line=line, field=record.culprit(exc)) from None
        if made is None:
            continue
        for instance in [made] if isinstance(made, Instance) else made:
            if (null := record.null_in_text(instance)) is not None:
                raise DataError("null where text is expected", file=file, line=line, field=null)
            if benchmark.collapse_duplicates:
                if instance.id in position:  # HELM's dict keyed by prompt: the last one wins
                    instances[position[instance.id]] = instance
                    continue
                position[instance.id] = len(instances)
            # HELM numbers instances by position when ids clash; keep ids unique and stable.
            count = seen.get(instance.id, 0)
            seen[instance.id] = count + 1
            if count:
                instance = replace(instance, id=f"{instance.id}~{count + 1}")
            instances.append(instance)
    return instances


def _parse(benchmark: Benchmark, records: Iterable[tuple[int, Record]], label: Path | str) -> list[Instance]:
    """``to_instances``, with the failures of reading the files themselves turned into a
    :class:`DataError` naming the file (an owner's reader decoding a CSV, say)."""
    try:
        instances = to_instances(benchmark, records, label)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})", file=label
        ) from None
    if not instances:
        # An empty file would make the benchmark vanish from a run without a word.
        raise DataError("no records", file=label)
    return instances


def _file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _code_digest(benchmark: Benchmark) -> str:
    """Hash of the code that turns files into instances: the suite module that declares the
    benchmark, the modules of its reader functions (shared helpers such as ``data/shc.py``), the
    package version and HELM's package in use."""
    from pytest_medhelm import __version__

    from pytest_medhelm.helm.prompts import cache_key
    from pytest_medhelm.suites import declaring_module

    # HELM's package (or its absence) too: suite modules read scenario strings from it.
    digest = hashlib.blake2b(f"{__version__} {cache_key()}".encode(), digest_size=8)
    functions = (benchmark.to_instance, benchmark.source.read_local, benchmark.source.shared_fields)
    modules = {inspect.getmodule(f) for f in functions if f is not None} | {declaring_module(benchmark)}
    for module in sorted(modules - {None}, key=lambda m: m.__name__):  # type: ignore[arg-type,union-attr]
        try:
            digest.update(inspect.getsource(module).encode())  # type: ignore[arg-type]
        except (OSError, TypeError):
            digest.update(module.__name__.encode())  # type: ignore[union-attr]
    return digest.hexdigest()


class InstanceCache:
    """Pickled instance lists keyed by source-file hash; written atomically, read by any worker."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, benchmark: Benchmark, source_files: list[Path]) -> Path:
        digest = hashlib.blake2b(digest_size=16)
        for part in (_CACHE_FORMAT, benchmark.id, _code_digest(benchmark), *map(_file_digest, source_files)):
            digest.update(part.encode())
        return self.root / f"{benchmark.id}-{digest.hexdigest()}.pickle"

    def get(self, path: Path) -> list[Instance] | None:
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None

    @contextmanager
    def exclusive(self, path: Path) -> Iterator[None]:
        """Hold ``path``'s lock file (POSIX ``flock``; elsewhere no lock, and at worst two
        processes parse the same source at once)."""
        try:
            import fcntl
        except ImportError:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def put(self, path: Path, instances: list[Instance]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.part")
        with open(tmp, "wb") as handle:
            pickle.dump(instances, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)


@dataclass(frozen=True)
class DataSettings:
    data_dir: Path | None = None
    home: Path | None = None
    download: bool = False
    # Per-benchmark folders holding an owner's files (gated and private data).
    paths: Mapping[str, Path] | None = None
    use_instance_cache: bool = True

    @property
    def root(self) -> Path:
        return self.home or home_dir()


def candidate_dirs(benchmark: Benchmark, settings: DataSettings) -> list[Path]:
    dirs = []
    if settings.paths and benchmark.id in settings.paths:
        dirs.append(Path(settings.paths[benchmark.id]))
    if settings.data_dir is not None:
        dirs.append(settings.data_dir / benchmark.id)
    dirs.append(settings.root / "data" / benchmark.id)
    return dirs


def locate(benchmark: Benchmark, settings: DataSettings) -> tuple[Path, str] | None:
    """The folder with this benchmark's data, and whether it is a mirror or the owner's files.

    A source naming its own files (``Source.local_files``: a user benchmark's data beside its YAML)
    is found there first, as kind ``"own"``: its definition says exactly which file to read.
    """
    own = benchmark.source.local_files
    if own and benchmark.source.read_local is not None and all(path.is_file() for path in own):
        return own[0].parent, "own"
    for folder in candidate_dirs(benchmark, settings):
        if (folder / RECORDS_FILE).is_file():
            return folder, "mirror"
        if benchmark.source.read_local is not None and folder.is_dir() and any(folder.iterdir()):
            return folder, "owner"
    return None


def unavailable_reason(benchmark: Benchmark, settings: DataSettings) -> str:
    looked = ", ".join(str(d) for d in candidate_dirs(benchmark, settings))
    how = benchmark.source.how_to_get
    if benchmark.source.fetch is not None:
        how += (
            f" Run `medhelm download --to DIR {benchmark.id}` on a networked machine and pass"
            " --medhelm-data-dir DIR, or pass --medhelm-download."
        )
    return f"{benchmark.id}: data not found (looked in {looked}). {how}"


def _records_in(folder: Path, kind: str, benchmark: Benchmark) -> tuple[Iterator[tuple[int, Record]], list[Path], Path]:
    if kind == "mirror":
        path = folder / RECORDS_FILE
        return read_jsonl(path), [path], path
    assert benchmark.source.read_local is not None
    records = benchmark.source.read_local(folder)
    if kind == "own":
        own = list(benchmark.source.local_files)
        return enumerate(records, start=1), own, own[0]
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return enumerate(records, start=1), files, folder


def download(benchmark: Benchmark, target: Path, fetcher: Fetcher) -> int:
    """Write ``target/<id>/test.jsonl`` (and side files) from the upstream source."""
    if benchmark.source.fetch is None:
        raise DataUnavailable(f"{benchmark.id} has no public download. {benchmark.source.how_to_get}")
    folder = target / benchmark.id
    try:
        count = write_jsonl(folder / RECORDS_FILE, benchmark.source.fetch(fetcher))
        for name in benchmark.source.side_files:
            if benchmark.source.fetch_side_file is not None and not (folder / name).exists():
                path = benchmark.source.fetch_side_file(fetcher, name)
                (folder / name).write_bytes(Path(path).read_bytes())
    except (DataUnavailable, DataError):
        raise
    except Exception as exc:  # noqa: BLE001  (one benchmark's failed fetch costs only that benchmark)
        raise DataUnavailable(
            f"{benchmark.id}: download from {benchmark.source.upstream} failed: {type(exc).__name__}: {exc}"
        ) from None
    return count


def load(benchmark: Benchmark, settings: DataSettings, *, cap: int, fetcher: Fetcher | None = None) -> LoadedBenchmark:
    """The sampled instances of ``benchmark``; raises DataUnavailable or DataError."""
    found = locate(benchmark, settings)
    if found is None and settings.download and benchmark.source.fetch is not None:
        own_fetcher = fetcher or Fetcher(settings.root)
        download(benchmark, settings.root / "data", own_fetcher)
        found = locate(benchmark, settings)
    if found is None:
        raise DataUnavailable(unavailable_reason(benchmark, settings))
    folder, kind = found
    records, source_files, label = _records_in(folder, kind, benchmark)
    if benchmark.source.shared_fields is not None:
        shared = benchmark.source.shared_fields(folder)
        records = ((line, {**shared, **record}) for line, record in records)
        source_files = [*source_files, *(p for n in benchmark.source.side_files if (p := folder / n).is_file())]

    cache = InstanceCache(settings.root / "instances")
    cache_path = cache.path(benchmark, source_files) if settings.use_instance_cache else None
    instances = cache.get(cache_path) if cache_path else None
    if instances is None and cache_path:
        with cache.exclusive(cache_path):
            # xdist workers start together: one parses, the others wait here and read its result.
            instances = cache.get(cache_path)
            if instances is None:
                instances = _parse(benchmark, records, label)
                cache.put(cache_path, instances)
    elif instances is None:
        instances = _parse(benchmark, records, label)
    effective_cap = benchmark.max_instances if benchmark.max_instances is not None else cap
    # Sample the pooled eval splits first, then keep only the scored ones (MedQA: valid + test
    # are sampled together, as in HELM, and only the test part counts).
    chosen = [i for i in sample(instances, effective_cap) if i.split in benchmark.scored_splits]
    return LoadedBenchmark(benchmark, chosen, folder, f"{kind}:{label}", len(instances), tuple(source_files))


__all__ = [
    "DataError",
    "DataSettings",
    "DataUnavailable",
    "LoadedBenchmark",
    "download",
    "load",
    "locate",
    "sample",
    "to_instances",
]
