"""Benchmarks contributed through the ``pytest_medhelm_benchmarks`` hook (see ``hookspecs``).

At configure time the hook's answers are sorted into files to collect (contributed suite modules
and ``*.medhelm.yaml`` files) and ``Benchmark`` objects, each anchored at the Python file that
declares its ``to_instance``; those paths join the collection arguments next to the built-in
suites, and :class:`ContributedBenchmarks` (a registered plugin) tells pytest how to collect them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_medhelm.plugin.items import BenchmarkModule, register_markers
from pytest_medhelm.suites import SUITES_DIR, is_user_benchmark
from pytest_medhelm.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark


@dataclass
class Contributions:
    """What the hook's implementations gave: files to collect, and Benchmark objects by anchor file."""

    modules: set[Path] = field(default_factory=set)
    yaml_files: set[Path] = field(default_factory=set)
    objects: dict[Path, list[Benchmark]] = field(default_factory=lambda: defaultdict(list))

    def paths(self) -> list[str]:
        """The collection arguments they add, in a stable order (xdist workers must agree)."""
        return sorted(str(path) for path in {*self.modules, *self.yaml_files, *self.objects})


def _anchor(benchmark: Benchmark) -> Path | None:
    code = getattr(benchmark.to_instance, "__code__", None)
    filename = getattr(code, "co_filename", None)
    if filename is None or not filename.endswith(".py") or not os.path.isfile(filename):
        return None
    return Path(filename).resolve()


def _add_path(found: Contributions, entry: str | os.PathLike[str], rootdir: Path) -> None:
    path = (rootdir / Path(entry)).resolve()
    if not path.exists():
        raise pytest.UsageError(f"medhelm: pytest_medhelm_benchmarks contributed {entry!s}, which does not exist")
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    for file in files:
        if is_user_benchmark(file):
            found.yaml_files.add(file)
        elif file.suffix == ".py" and (path.is_file() or file.name.startswith("test_")):
            if file.is_relative_to(SUITES_DIR):
                raise pytest.UsageError(f"medhelm: pytest_medhelm_benchmarks contributed {file}, a built-in suite")
            found.modules.add(file)
        elif path.is_file():
            raise pytest.UsageError(
                f"medhelm: pytest_medhelm_benchmarks contributed {entry!s}: expected a suite "
                "module (.py defining BENCHMARK), a *.medhelm.yaml file or a directory"
            )


def gather(config: pytest.Config) -> Contributions:
    """Ask every implementation of the hook; a bad entry is a usage error naming it."""
    from pytest_medhelm.benchmark import Benchmark

    found = Contributions()
    ids = {
        benchmark
        for category in load_taxonomy().categories
        for sub in category.subcategories
        for benchmark in sub.benchmarks
    }
    for answer in config.hook.pytest_medhelm_benchmarks(config=config):
        for entry in answer or ():
            if isinstance(entry, Benchmark):
                if entry.id in ids:
                    raise pytest.UsageError(
                        f"medhelm: pytest_medhelm_benchmarks contributed benchmark id "
                        f"{entry.id!r} twice, or a built-in benchmark's id"
                    )
                ids.add(entry.id)
                anchor = _anchor(entry)
                if anchor is None:
                    raise pytest.UsageError(
                        f"medhelm: contributed benchmark {entry.id!r}: its to_instance must be "
                        "a function defined in a .py file (its items are collected there)"
                    )
                found.objects[anchor].append(entry)
            elif isinstance(entry, (str, os.PathLike)):
                _add_path(found, entry, config.rootpath)
            else:
                raise pytest.UsageError(
                    f"medhelm: pytest_medhelm_benchmarks returned {entry!r}: expected a "
                    "Benchmark, or the path of a suite module, a *.medhelm.yaml file or a folder"
                )
    return found


class ContributedModule(BenchmarkModule):
    """A contributed suite module: imported the way pytest imports test modules (``--import-mode``)."""

    def load_benchmark(self) -> Benchmark:
        from pytest_medhelm.benchmark import Benchmark

        module = pytest.Module.from_parent(self.parent, path=self.path).obj
        benchmark = getattr(module, "BENCHMARK", None)
        if not isinstance(benchmark, Benchmark):
            raise TypeError(f"{self.path}: a suite module must define BENCHMARK = Benchmark(...)")
        register_markers(self.config, benchmark)
        return benchmark


class ContributedObject(BenchmarkModule):
    """One contributed ``Benchmark`` object, below the file that declares it."""

    benchmark: Benchmark

    def load_benchmark(self) -> Benchmark:
        register_markers(self.config, self.benchmark)
        return self.benchmark


class AnchorFile(pytest.File):
    """The file that declares contributed Benchmark objects: one collector per benchmark."""

    benchmarks: list[Benchmark]

    def collect(self) -> Iterator[pytest.Collector]:
        for benchmark in self.benchmarks:
            node = ContributedObject.from_parent(
                self, path=self.path, name=benchmark.id, nodeid=f"{self.nodeid}::{benchmark.id}"
            )
            node.benchmark = benchmark
            yield node


class ContributedBenchmarks:
    """Registered at configure: collects the contributions' files (and nothing else)."""

    def __init__(self, config: pytest.Config, found: Contributions) -> None:
        self.found = found
        for benchmarks in found.objects.values():
            for benchmark in benchmarks:
                register_markers(config, benchmark)  # known before collection: -m may name them

    @pytest.hookimpl(wrapper=True)
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Generator[None, list[Any], list[Any]]:
        collectors = yield
        path = file_path.resolve()
        ours: pytest.Collector
        if path in self.found.objects:
            ours = AnchorFile.from_parent(parent, path=file_path)
            ours.benchmarks = self.found.objects[path]  # type: ignore[attr-defined]
        elif path in self.found.modules:
            ours = ContributedModule.from_parent(parent, path=file_path)
        else:
            return collectors
        # Here whether or not pytest would collect the file itself (a file inside a directory that
        # is also an argument is no longer an initial path); if it would, its plain Module goes.
        return [c for c in collectors if not isinstance(c, pytest.Module)] + [ours]


__all__ = ["ContributedBenchmarks", "Contributions", "gather"]
