"""pytest-medhelm's own hooks, added to pytest's plugin manager through ``pytest_addhooks``.

Implement them in a ``conftest.py`` or in a plugin of your own (a module registered through the
``pytest11`` entry point, or ``-p``), as you would pytest's hooks; name only the arguments you use.

``pytest_medhelm_benchmarks``
    contributes benchmarks from another installed package or a conftest: collected, run, scored
    and reported like the built-in suites.
``pytest_medhelm_instance_scored``
    sees every scored instance as its report arrives, to stream results to a store of your own.
``pytest_medhelm_results``
    sees the session's aggregated results before ``results.json`` is written, to upload them or
    add to them.

The last two run where the results are aggregated: in the single process, or on the xdist
controller (never in a worker), so an implementation sees every item of the session exactly once
and needs no locking or credentials in the workers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

import pluggy

if TYPE_CHECKING:
    import pytest

    from pytest_medhelm.benchmark import Benchmark
    from pytest_medhelm.results import InstanceRecord, ResultsFile

# pytest's own project name: the specifications join pytest's hooks, so conftests and pytest11
# plugins implement them like any pytest hook (pytest.hookspec is this same marker).
hookspec = pluggy.HookspecMarker("pytest")

Contribution = Union["Benchmark", str, "os.PathLike[str]"]


@hookspec
def pytest_medhelm_benchmarks(config: pytest.Config) -> Sequence[Contribution] | None:
    """Benchmarks to collect with the built-in suites.

    Return a list of :class:`~pytest_medhelm.Benchmark` objects and paths: a path is a suite module
    (a ``.py`` file that defines ``BENCHMARK = Benchmark(...)``, like ``suites/<category>/test_<id>.py``),
    a ``*.medhelm.yaml`` file, or a directory of such files (searched recursively). Relative paths
    are taken from the rootdir.

    Called once per process at configure time, in the controller and in each xdist worker, so it
    must return the same benchmarks every time. Contributions are collected when the built-in
    suites are (``--medhelm-model`` and no paths on the command line); a ``Benchmark`` object's
    items sit under the Python file that declares its ``to_instance`` (node id
    ``<that file>::<benchmark id>::<benchmark id>[<instance>-<model>]``), a contributed file's items
    under that file. A benchmark id given twice, a missing path or an entry of another type is a
    usage error naming it.
    """


@hookspec
def pytest_medhelm_instance_scored(record: InstanceRecord, report: pytest.TestReport, config: pytest.Config) -> None:
    """One instance was scored: ``record`` is its row of ``results.json`` (scores, metrics,
    tokens, cost; never the prompt or the model's output), ``report`` the item's call report
    (``report.nodeid``, ``report.passed``).

    Called in the process that aggregates: the single process, or the xdist controller as each
    worker's report arrives (never in a worker), in the order reports arrive. Rows recorded with
    the ``medhelm_record`` fixture are included. An exception raised here is an internal error of
    the session (results.json is still written at its end).
    """


@hookspec
def pytest_medhelm_results(results: ResultsFile, path: Path, config: pytest.Config) -> None:
    """The session's aggregated results, called once at the end of every session run with a
    model, *before* they are written to ``path`` (``<--medhelm-output>/results.json``), whatever
    the run's ``results.status`` (``complete``, ``interrupted``, ...: check it before uploading).

    An implementation may upload them, or add to them: ``results.extensions`` is a dict whose
    entries (JSON values, under a key naming your plugin) are written into the file;
    ``results.notes`` takes lines printed under the score table. Called on the single process or
    the xdist controller only. If an implementation raises, results.json is still written, then
    the error ends the session as an internal error.
    """


__all__ = ["pytest_medhelm_benchmarks", "pytest_medhelm_instance_scored", "pytest_medhelm_results"]
