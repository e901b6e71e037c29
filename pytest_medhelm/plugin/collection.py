"""Collection: a built-in suite module or a user's ``*.medhelm.yaml`` becomes a benchmark file
node (``items.BenchmarkModule``), whose items are the (instance, model) pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_medhelm.suites import is_suite_module, is_user_benchmark


class BenchmarkCollection:
    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if is_suite_module(module_path):
            from pytest_medhelm.plugin.items import BenchmarkModule
            from pytest_medhelm.plugin.nodeids import suite_nodeid

            # Named by its place in the suites folder however it was selected, so that the ids
            # printed can be pasted back from anywhere (plugin/nodeids.py).
            return BenchmarkModule.from_parent(
                parent, path=module_path, nodeid=suite_nodeid(module_path, parent.config.rootpath)
            )
        return None

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if is_user_benchmark(file_path):
            from pytest_medhelm.plugin.items import UserBenchmarkFile

            return UserBenchmarkFile.from_parent(parent, path=file_path)
        return None
