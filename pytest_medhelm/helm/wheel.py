"""HELM's released package (the crfm-helm wheel): where it is, that it is the pinned one, its files.

The wheel is upstream data, like the datasets: it is looked for in the local mirror
(``--medhelm-data-dir DIR``: ``DIR/helm/*.whl``) and then in the download cache
(``$MEDHELM_HOME/helm/``, filled by ``medhelm download``), and refused unless its sha256 is the
pinned one. Its files are read from the zip; nothing in it is imported or installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from functools import cached_property
from pathlib import Path

from pytest_medhelm.helm.extract import ModuleStrings, module_from_json, read_module, to_json

HELM_VERSION = "0.5.16"
WHEEL_NAME = f"crfm_helm-{HELM_VERSION}-py3-none-any.whl"
# The sha256 of crfm-helm 0.5.16's wheel as the package index serves it.
WHEEL_SHA256 = "e15190fc43ed61c648c6b3844eb4f3e434728630fb28184d2dc00f4607febe7d"
PROMPT_SOURCE = f"helm-{HELM_VERSION}"
# Bumped when the extraction changes what it stores, so an old cache is not read.
_EXTRACT_FORMAT = 1


class HelmPackageError(Exception):
    """HELM's package is present but cannot be used (wrong hash, unreadable, missing file)."""


def cache_root() -> Path:
    from pytest_medhelm.data.sources import home_dir

    return home_dir() / "helm"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def candidates(data_dir: Path | None = None) -> list[Path]:
    """Wheels that could be HELM's, in search order: the mirror's ``helm/``, then the download cache."""
    folders = ([Path(data_dir) / "helm"] if data_dir is not None else []) + [cache_root()]
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found += sorted(folder.glob("crfm_helm-*.whl"))
    return found


def find_wheel(data_dir: Path | None = None) -> Path | None:
    """The first candidate wheel, or None when there is none (then prompts fall back to our wording)."""
    found = candidates(data_dir)
    return found[0] if found else None


_opened: dict[tuple[str, str], HelmPackage | None] = {}


def locate_wheel(data_dir: Path | str | None = None) -> HelmPackage | None:
    """The pinned wheel from ``data_dir/helm/`` or the download cache, opened once per process;
    None when there is none; :class:`HelmPackageError` when the one found has another hash."""
    path = find_wheel(Path(data_dir) if data_dir is not None else None)
    key = (str(path), str(cache_root()))
    if key not in _opened:
        _opened[key] = HelmPackage.open(path) if path is not None else None
    return _opened[key]


def verify(path: Path, expected: str = WHEEL_SHA256) -> str:
    """``path``'s sha256 when it is ``expected``; otherwise a :class:`HelmPackageError` naming both."""
    actual = sha256_of(path)
    if actual != expected:
        raise HelmPackageError(
            f"{path}: not the pinned crfm-helm {HELM_VERSION} wheel: sha256 is {actual}, expected {expected}. "
            f"Remove it, or replace it with the package index's file "
            f"(pip download crfm-helm=={HELM_VERSION} --no-deps)."
        )
    return actual


def _verified(path: Path, expected: str) -> str:
    """:func:`verify`, remembered for an unchanged file (same path, size and mtime): hashing the
    wheel costs ~40 ms, paid once rather than by every process of every run."""
    stat = path.stat()
    stamp = cache_root() / "verified" / (hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24] + ".json")
    seen = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": expected}
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == seen:
            return expected
    except (OSError, ValueError):
        pass
    digest = verify(path, expected)
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(seen), encoding="utf-8")
    except OSError:
        pass
    return digest


class HelmPackage:
    """One verified wheel: its files, and their extracted strings cached on disk by the wheel's hash."""

    def __init__(self, path: Path, sha256: str, *, cache_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.sha256 = sha256
        self.version = HELM_VERSION
        self._cache_dir = cache_dir
        self._modules: dict[str, ModuleStrings] = {}

    @classmethod
    def open(cls, path: Path, *, expected_sha256: str = WHEEL_SHA256, cache_dir: Path | None = None) -> HelmPackage:
        return cls(path, _verified(Path(path), expected_sha256), cache_dir=cache_dir)

    @property
    def source_name(self) -> str:
        """``helm-0.5.16``: what results and reports call prompts read from this package."""
        return PROMPT_SOURCE

    @cached_property
    def _zip(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise HelmPackageError(f"{self.path}: cannot read the wheel ({exc})") from None

    def read_text(self, member: str) -> str:
        """A file of the package, e.g. ``helm/benchmark/scenarios/medhelm/judges.yaml``."""
        try:
            return self._zip.read(member).decode("utf-8")
        except KeyError:
            raise HelmPackageError(f"{self.path}: no file {member} in the wheel") from None

    def module(self, member: str) -> ModuleStrings:
        """The strings of one ``.py`` file of the package (see :mod:`pytest_medhelm.helm.extract`)."""
        if member in self._modules:
            return self._modules[member]
        cached = self._cache_file(member)
        strings = None
        if cached is not None and cached.is_file():
            try:
                strings = module_from_json(json.loads(cached.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError):
                strings = None  # a damaged cache entry is rebuilt
        if strings is None:
            strings = read_module(member, self.read_text(member))
            if cached is not None:
                self._write_cache(cached, strings)
        self._modules[member] = strings
        return strings

    def _cache_file(self, member: str) -> Path | None:
        root = self._cache_dir if self._cache_dir is not None else cache_root() / "extracted"
        return root / f"{self.sha256}-v{_EXTRACT_FORMAT}" / (member.replace("/", "__") + ".json")

    @staticmethod
    def _write_cache(path: Path, strings: ModuleStrings) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8"
            ) as handle:
                json.dump(to_json(strings), handle)
            os.replace(handle.name, path)
        except OSError:
            pass  # a read-only home still works, only slower


def download_wheel(target: Path, *, expected_sha256: str = WHEEL_SHA256, pip_args: tuple[str, ...] = ()) -> Path:
    """Fetch the wheel from the package index with pip into ``target`` (``DIR/helm/``), pinned by hash.

    ``pip_args`` adds options (a test passes ``--no-index --find-links DIR``). A file already
    there with the right hash is kept; a download with another hash is deleted and refused.
    """
    target = Path(target)
    existing = target / WHEEL_NAME
    if existing.is_file():
        verify(existing, expected_sha256)
        return existing
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as scratch:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"crfm-helm=={HELM_VERSION}",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            scratch,
            *pip_args,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        fetched = Path(scratch) / WHEEL_NAME
        if done.returncode != 0 or not fetched.is_file():
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise HelmPackageError(f"pip download crfm-helm=={HELM_VERSION} failed: {detail[0]}")
        verify(fetched, expected_sha256)
        os.replace(fetched, existing)
    return existing
