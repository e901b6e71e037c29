"""The xdist controller's plan (plugin.plan): which calls it foresees, and which it drops."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_medhelm.models import ModelConfig, ModelRequest
from pytest_medhelm.plugin.plan import Plan, planned_files
from pytest_medhelm.plugin.session import _serves_local_workers
from pytest_medhelm.suites import SUITES_DIR, suite_files


def model(name: str) -> ModelConfig:
    return ModelConfig(name=name, provider="openai", model="m", base_url="http://127.0.0.1:9/v1")


def test_the_calls_of_items_a_worker_did_not_collect_are_the_unneeded_ones() -> None:
    ipv6 = model("llama@http://[::1]:8000/v1")  # "::" inside the item name, not only before it
    first, second = ModelRequest(prompt="first", max_tokens=1), ModelRequest(prompt="second", max_tokens=1)
    plan = Plan({f"bench[a-{ipv6.name}]": (ipv6, first), f"bench[b-{ipv6.name}]": (ipv6, second)})

    unneeded = plan.unneeded([f"suite/bench.medhelm.yaml::bench[a-{ipv6.name}]"])

    assert list(unneeded) == [ipv6.name] and unneeded[ipv6.name][1] == [second]
    assert plan.by_model()[ipv6.name][1] == [first, second]
    assert plan.unneeded([f"x.yaml::{name}" for name in plan.calls]) == {}


def test_only_files_certain_to_be_collected_are_planned(pytester: pytest.Pytester) -> None:
    user = pytester.path / "triage.medhelm.yaml"
    user.write_text("name: triage\n", encoding="utf-8")
    (pytester.path / "notes.txt").write_text("", encoding="utf-8")
    config = pytester.parseconfig(str(user), f"{user}::triage[x]", "notes.txt", str(pytester.path))

    assert planned_files(config) == [user.resolve()]  # not a node id, a text file, or a directory
    assert planned_files(pytester.parseconfig(str(SUITES_DIR))) == suite_files()


def test_a_suite_category_folder_plans_its_modules(pytester: pytest.Pytester) -> None:
    folder = SUITES_DIR / "medical_research"
    files = planned_files(pytester.parseconfig(str(folder)))

    assert files and all(path.parent == folder and path.name.startswith("test_") for path in files)
    assert Path(folder / "test_pubmed_qa.py") in files


@pytest.mark.parametrize(("tx", "dist", "serves"), [
    (["popen", "popen"], "load", True),                    # -n 2
    (["2*popen//python=python3"], "loadfile", True),
    (["popen", "ssh=gpu-host//python=python3"], "load", False),  # a worker that cannot reach the socket
    (["socket=127.0.0.1:8888"], "load", False),
    (["popen"], "no", False),                               # --tx without distribution: one process
    ([], "no", False),
])
def test_the_engine_process_serves_workers_only_when_all_of_them_are_local(
        tx: list[str], dist: str, serves: bool) -> None:
    config = SimpleNamespace(option=SimpleNamespace(tx=tx, dist=dist))

    assert _serves_local_workers(config) is serves  # type: ignore[arg-type]
