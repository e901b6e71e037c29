"""The xdist controller's plan (fastpath.plan): which calls it foresees, and which it drops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_medhelm.models import ModelConfig, ModelRequest
from pytest_medhelm.plugin.fastpath.plan import Plan, planned_files
from pytest_medhelm.plugin.fastpath.selection import Selection, Unforeseeable
from pytest_medhelm.plugin.fastpath.xdist import serves_local_workers
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


@pytest.mark.parametrize(
    ("tx", "dist", "serves"),
    [
        (["popen", "popen"], "load", True),  # -n 2
        (["2*popen//python=python3"], "loadfile", True),
        (["popen", "ssh=gpu-host//python=python3"], "load", False),  # a worker that cannot reach the socket
        (["socket=127.0.0.1:8888"], "load", False),
        (["popen"], "no", False),  # --tx without distribution: one process
        ([], "no", False),
    ],
)
def test_the_engine_process_serves_workers_only_when_all_of_them_are_local(
    tx: list[str], dist: str, serves: bool
) -> None:
    config = SimpleNamespace(option=SimpleNamespace(tx=tx, dist=dist))

    assert serves_local_workers(config) is serves  # type: ignore[arg-type]


def test_a_workers_collection_drops_the_planned_calls_of_items_it_did_not_collect(tmp_path: Path) -> None:
    # The drop path end to end: a real engine process and server, the controller's own
    # XdistFastpath. One request slot, so planned calls wait their turn in order, and a probe
    # asked for after the drop waits behind any that were not dropped: when its answer arrives the
    # server has seen every call that was going to be sent, with no sleep deciding that. The first
    # planned call holds the slot for a second, so the drop (one message to the engine process)
    # arrives before the slot frees even on a loaded machine.
    from pytest_medhelm.engine import Engine
    from pytest_medhelm.engine.process import EngineProcess
    from pytest_medhelm.plugin.fastpath.xdist import XdistFastpath
    from pytest_medhelm.testserver import Fault, TestServer

    with TestServer(latency=0.05) as server:
        local = ModelConfig(name="local", provider="openai", model="m", base_url=server.url, timeout_s=30.0)
        process = EngineProcess(concurrency=1, cache=tmp_path / "responses.sqlite")
        engine = Engine(concurrency=1, process=process)
        try:
            session = SimpleNamespace(engine=engine, holder=SimpleNamespace(connection=process))
            fastpath = XdistFastpath(session)  # type: ignore[arg-type]
            names = [f"bench[q{i}-local]" for i in range(10)]
            server.fail_matching(lambda body: body["messages"][-1]["content"] == f"planned {names[0]}", Fault.slow(1.0))
            fastpath.start_plan(
                Plan({name: (local, ModelRequest(prompt=f"planned {name}", max_tokens=1)) for name in names})
            )

            fastpath.confirm_plan([f"bench.medhelm.yaml::{names[0]}"])  # the worker collected one item
            probe = engine.submit(engine.complete(local, ModelRequest(prompt="probe", max_tokens=1)))
            probe.result(timeout=60)
            seen = [body["messages"][-1]["content"] for body in server.requests]
        finally:
            engine.close()

    assert seen == [f"planned {names[0]}", "probe"]
    fastpath.confirm_plan([])  # a second worker's collection: the plan is already settled


SUITE = SUITES_DIR / "medical_research" / "test_pubmed_qa.py"
PUBMED_MARKERS = frozenset({"medhelm", "pubmed_qa", "medical_research", "closed_ended", "public"})


def selection(pytester: pytest.Pytester, *args: str) -> Selection | None:
    return Selection.from_config(pytester.parseconfig(*args))


@pytest.mark.parametrize(
    ("args", "selected"),
    [
        (("-k", "pubmed_qa"), True),
        (("-k", "PUBMED"), True),  # case-insensitive substrings, as pytest's
        (("-k", "900001"), True),
        (("-k", "900002"), False),
        (("-k", "pubmed_qa and not 900001"), False),
        (("-k", "closed_ended"), True),  # a marker's name is a keyword too
        (("-k", "test_pubmed_qa.py"), True),  # the module's name
        (("-m", "pubmed_qa"), True),
        (("-m", "medical_research and not open_ended"), True),
        (("-m", "med_qa"), False),
        (("-m", "pubmed_qa(version=2)"), False),  # the benchmark markers carry no arguments
        (("-m", "pubmed_qa", "-k", "900002"), False),
    ],
)
def test_k_and_m_select_as_pytest_would(pytester: pytest.Pytester, args: tuple[str, ...], selected: bool) -> None:
    chosen = selection(pytester, *args)

    assert chosen is not None
    assert chosen.selects("pubmed_qa[900001-local]", SUITE, PUBMED_MARKERS) is selected


def test_a_name_only_a_folder_could_match_is_never_planned_on_a_guess(pytester: pytest.Pytester) -> None:
    # "suites" names a folder only, and whether pytest counts that folder depends on where it
    # roots the collection: planned neither with it nor without it.
    for expression in ("suites", "not suites"):
        chosen = selection(pytester, "-k", expression)
        assert chosen is not None and not chosen.selects("pubmed_qa[900001-local]", SUITE, PUBMED_MARKERS)
    # A folder's name that is also a marker's (the category) is certain.
    chosen = selection(pytester, "-k", "medical_research")
    assert chosen is not None and chosen.selects("pubmed_qa[900001-local]", SUITE, PUBMED_MARKERS)


def test_no_selection_or_a_broken_one(pytester: pytest.Pytester) -> None:
    assert selection(pytester) is None
    with pytest.raises(Unforeseeable):
        selection(pytester, "-k", "pubmed_qa and (")


def test_planned_calls_leave_while_the_rest_of_the_plan_is_worked_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Working out a plan (loading the suites and data, building 2,000 prompts) takes a few tenths
    of a second: its first chunk of calls is sent before the next is worked out."""
    from pytest_medhelm.engine import Engine
    from pytest_medhelm.engine.process import EngineProcess
    from pytest_medhelm.plugin.fastpath import plan as plan_module
    from pytest_medhelm.plugin.fastpath.plan import SingleProcessPlan
    from pytest_medhelm.testserver import TestServer

    with TestServer(latency=0.01) as server:
        local = ModelConfig(name="local", provider="openai", model="m", base_url=server.url, timeout_s=30.0)
        seen_before_second_chunk: list[int] = []

        def chunks(plugin: object) -> Iterator[dict[str, tuple[ModelConfig, ModelRequest]]]:
            yield {f"bench[q{i}-local]": (local, ModelRequest(prompt=f"first {i}", max_tokens=1)) for i in range(3)}
            deadline = time.monotonic() + 10
            while server.stats.requests < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            seen_before_second_chunk.append(server.stats.requests)
            yield {"bench[q3-local]": (local, ModelRequest(prompt="second", max_tokens=1))}

        monkeypatch.setattr(plan_module, "plan_chunks", chunks)
        process = EngineProcess(concurrency=4, cache=tmp_path / "responses.sqlite")
        engine = Engine(concurrency=4, process=process)
        try:
            planner = SingleProcessPlan(SimpleNamespace(engine=engine, holder=SimpleNamespace(connection=process)))  # type: ignore[arg-type]
            planner.start_plan()
            answer = engine.submit(engine.complete(local, ModelRequest(prompt="second", max_tokens=1)))
            answer.result(timeout=60)
        finally:
            engine.close()

    assert seen_before_second_chunk == [3]
    assert server.stats.requests == 4  # the item's own call was the planned one
