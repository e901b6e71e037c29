"""What makes a run fast, checked as behaviour rather than timed (the timings are benchmarks/).

* The engine keeps exactly ``--medhelm-concurrency`` requests in flight against a slow server,
  driven through the real plugin: the server's own peak concurrency is the proof.
* Under ``-n 2`` the workers share the work and never repeat one another: zero duplicate requests,
  and one engine process holds the session's concurrency for all of them. The controller sends
  the calls before the workers are up when it can foresee them, and never a call the selection
  leaves out; the workers it serves run at a lower CPU priority than it.
* Parsed instances are cached keyed by the source file: edit the file and the new content is used;
  processes loading a new source at once parse it once.
* The coming LLM jury (three judge calls per answer, issued as soon as the answer arrives, through
  the same engine) cannot wedge the pipeline: a job awaiting calls on other models completes even
  when every window slot is taken.

The benchmarks here are synthetic multiple-choice sheets written by the tests; the model is the
project's test server on 127.0.0.1, which always answers "A".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_medhelm.configurable import load_user_benchmark
from pytest_medhelm.data import DataSettings, load
from pytest_medhelm.engine import Engine
from pytest_medhelm.engine.pipeline import Job, Pipeline
from pytest_medhelm.models import ModelConfig, ModelRequest
from pytest_medhelm.plugin.pipeline import WINDOW_PER_SLOT
from pytest_medhelm.results import ResultsFile
from pytest_medhelm.testserver import TestServer

YAML = """\
name: synthetic_mc
category: custom
subcategory: Throughput
data: items.csv
id_column: item_id
prompt: "{question}"
reference: answer
metrics: [exact_match]
max_tokens: 1
"""


def write_benchmark(folder: Path, count: int, *, changed: dict[str, str] | None = None) -> Path:
    """``count`` synthetic items (``q0``..); ``changed`` replaces the question of some ids."""
    changed = changed or {}
    with open(folder / "items.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "question", "answer"])
        for i in range(count):
            item_id = f"q{i}"
            writer.writerow([item_id, changed.get(item_id, f"Synthetic question {i}: pick A, B, C or D."), "A"])
    path = folder / "synthetic.medhelm.yaml"
    path.write_text(YAML, encoding="utf-8")
    return path


def prompts(server: TestServer) -> list[str]:
    return [body["messages"][-1]["content"].strip() for body in server.requests]


@pytest.fixture
def slow_server() -> Iterator[TestServer]:
    with TestServer(latency=0.2, slots=64) as server:
        yield server


def run_args(server: TestServer, benchmark: Path, concurrency: int, count: int) -> list[str]:
    return [
        f"--medhelm-model=local@{server.url}",
        str(benchmark),
        "--medhelm-concurrency",
        str(concurrency),
        "--medhelm-max-instances",
        str(count),
        "-p",
        "no:cacheprovider",
    ]


def test_the_plugin_keeps_exactly_the_concurrency_in_flight(pytester: pytest.Pytester, slow_server: TestServer) -> None:
    benchmark = write_benchmark(pytester.path, 40)

    result = pytester.runpytest_subprocess(*run_args(slow_server, benchmark, 8, 40), timeout=120)

    result.assert_outcomes(passed=40)
    stats = slow_server.stats
    assert stats.requests == 40 and stats.duplicates == 0
    # 8 at once, never more, even though the server could take 64 and pytest runs items one by one.
    assert stats.peak_in_flight == 8
    # Kept full, not reached once: 40 requests at 0.2 s in waves of 8 is 1 s of server time.
    assert stats.mean_in_flight > 5


def test_two_workers_share_the_work_and_never_repeat_a_request(pytester: pytest.Pytester) -> None:
    benchmark = write_benchmark(pytester.path, 40)
    with TestServer(latency=0.05, slots=64) as server:
        result = pytester.runpytest_subprocess(*run_args(server, benchmark, 8, 40), "-n", "2", timeout=120)
        stats = server.stats

    result.assert_outcomes(passed=40)
    assert (stats.requests, stats.duplicates, stats.distinct_prompts) == (40, 0, 40)
    # The session's budget, held by the one engine process every worker calls through.
    assert stats.peak_in_flight == 8
    results = ResultsFile.read(pytester.path / "medhelm-results" / "results.json")
    assert sorted(row.instance_id for row in results.instances) == sorted(f"q{i}" for i in range(40))


WAIT_FOR_PLANNED_CALLS = """
import json, time, urllib.request

def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        return  # the controller: it plans the calls after this
    # A worker: every call must be under way before this worker has even collected.
    deadline = time.monotonic() + 60
    while json.load(urllib.request.urlopen("{stats}"))["requests"] < {count}:
        assert time.monotonic() < deadline, "no planned calls reached the server"
        time.sleep(0.01)
"""


@pytest.mark.parametrize("workers", [("-n", "2"), ("--tx", "2*popen", "--dist", "load")], ids=["-n", "--tx"])
def test_under_xdist_the_calls_are_under_way_before_any_worker_has_started(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    benchmark = write_benchmark(pytester.path, 8)
    with TestServer(latency=0.5, slots=64) as server:
        pytester.makeconftest(WAIT_FOR_PLANNED_CALLS.format(stats=server.url.removesuffix("/v1") + "/stats", count=8))
        result = pytester.runpytest_subprocess(*run_args(server, benchmark, 8, 8), *workers, timeout=120)
        stats = server.stats

    result.assert_outcomes(passed=8)
    assert (stats.requests, stats.duplicates) == (8, 0)  # planned by the controller, asked for by the workers


RECORD_NICENESS = """
import os

def pytest_configure(config):
    who = config.workerinput["workerid"] if hasattr(config, "workerinput") else "controller"
    with open(os.path.join(str(config.rootpath), "nice-" + who), "w") as out:
        out.write(str(os.nice(0)))
"""


@pytest.mark.parametrize(
    ("workers", "lower_by"),
    [
        (("-n", "2"), 5),
        (("--tx", "2*popen//nice=0", "--dist", "load"), 0),  # a spec's own priority is kept
    ],
    ids=["-n", "--tx nice=0"],
)
def test_workers_served_by_the_engine_process_yield_the_cores_to_it(
    pytester: pytest.Pytester, workers: tuple[str, ...], lower_by: int
) -> None:
    benchmark = write_benchmark(pytester.path, 4)
    pytester.makeconftest(RECORD_NICENESS)
    with TestServer() as server:
        result = pytester.runpytest_subprocess(*run_args(server, benchmark, 4, 4), *workers, timeout=120)

    result.assert_outcomes(passed=4)
    niceness = {path.name: int(path.read_text()) for path in pytester.path.glob("nice-*")}
    assert niceness["nice-gw0"] == niceness["nice-gw1"] == min(19, niceness["nice-controller"] + lower_by)


@pytest.mark.parametrize(
    ("selecting", "selected"),
    [
        (("-k", "q1"), 11),  # q1 and q10..q19: pytest's substring match
        (("-m", "synthetic_mc and closed_ended"), 20),
    ],
    ids=["-k", "-m"],
)
def test_under_xdist_a_k_or_m_selection_is_planned_too(
    pytester: pytest.Pytester, selecting: tuple[str, ...], selected: int
) -> None:
    benchmark = write_benchmark(pytester.path, 20)
    with TestServer(latency=0.5, slots=64) as server:
        pytester.makeconftest(
            WAIT_FOR_PLANNED_CALLS.format(stats=server.url.removesuffix("/v1") + "/stats", count=selected)
        )
        result = pytester.runpytest_subprocess(*run_args(server, benchmark, 32, 20), "-n", "2", *selecting, timeout=120)
        stats = server.stats

    result.assert_outcomes(passed=selected)
    assert (stats.requests, stats.duplicates) == (selected, 0)


WAIT_FOR_PLANNED_CALLS_IN_ONE_PROCESS = """
import json, time, urllib.request

def pytest_collection_finish(session):
    # Collection is done, no item has run: the selected calls must be under way already.
    deadline = time.monotonic() + 60
    while json.load(urllib.request.urlopen("{stats}"))["requests"] < {count}:
        assert time.monotonic() < deadline, "no planned calls reached the server"
        time.sleep(0.01)
"""


@pytest.mark.parametrize("selecting", [(), ("-k", "q1"), ("-m", "synthetic_mc")], ids=["all", "-k", "-m"])
def test_in_one_process_the_calls_are_under_way_before_collection_ends(
    pytester: pytest.Pytester, selecting: tuple[str, ...]
) -> None:
    benchmark = write_benchmark(pytester.path, 20)
    selected = 11 if "-k" in selecting else 20
    with TestServer(latency=0.5, slots=64) as server:
        pytester.makeconftest(
            WAIT_FOR_PLANNED_CALLS_IN_ONE_PROCESS.format(
                stats=server.url.removesuffix("/v1") + "/stats", count=selected
            )
        )
        result = pytester.runpytest_subprocess(*run_args(server, benchmark, 32, 20), *selecting, timeout=120)
        stats = server.stats

    result.assert_outcomes(passed=selected)
    assert (stats.requests, stats.duplicates) == (selected, 0)


JUDGED_YAML = """\
name: synthetic_notes
category: custom
subcategory: Throughput
data: notes.csv
id_column: note_id
prompt: "{note}"
reference: answer
metrics:
  - name: jury
    rubric:
      faithful: Does the summary keep to the note?
max_tokens: 8
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "-n 2"])
def test_a_selection_without_judged_items_is_planned_though_the_jurys_keys_are_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: tuple[str, ...]
) -> None:
    """MedHELM's default judges need API keys; a session missing them stops only if it selected an
    item to judge, so the everyday ``-k pubmed_qa`` without a judge key is still planned."""
    for variable in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    benchmark = write_benchmark(pytester.path, 20)
    (pytester.path / "notes.csv").write_text("note_id,note,answer\nn1,Cough for two days.,Cough.\n", encoding="utf-8")
    judged = pytester.path / "notes.medhelm.yaml"
    judged.write_text(JUDGED_YAML, encoding="utf-8")
    wait = WAIT_FOR_PLANNED_CALLS if workers else WAIT_FOR_PLANNED_CALLS_IN_ONE_PROCESS
    with TestServer(latency=0.5, slots=64) as server:
        pytester.makeconftest(wait.format(stats=server.url.removesuffix("/v1") + "/stats", count=20))
        result = pytester.runpytest_subprocess(
            *run_args(server, benchmark, 32, 20), str(judged), "-m", "synthetic_mc", *workers, timeout=120
        )
        stats = server.stats

    result.assert_outcomes(passed=20)
    assert (stats.requests, stats.duplicates) == (20, 0)


DESELECT_ALL_BUT_FIVE = """
def pytest_collection_modifyitems(config, items):
    config.hook.pytest_deselected(items=items[5:])
    del items[5:]
"""


@pytest.mark.parametrize("narrowing", ["-k", "conftest"])
def test_a_narrowed_selection_sends_only_the_selected_calls(pytester: pytest.Pytester, narrowing: str) -> None:
    benchmark = write_benchmark(pytester.path, 40)
    if narrowing == "conftest":
        pytester.makeconftest(DESELECT_ALL_BUT_FIVE)
        extra, selected = (), 5
    else:
        extra, selected = ("-k", "q1"), 11  # q1 and q10..q19
    with TestServer(latency=0.05, slots=64) as server:
        result = pytester.runpytest_subprocess(*run_args(server, benchmark, 8, 40), "-n", "2", *extra, timeout=120)
        stats = server.stats

    result.assert_outcomes(passed=selected)
    assert (stats.requests, stats.duplicates) == (selected, 0)


def test_cached_instances_are_reused_until_the_data_file_changes(pytester: pytest.Pytester) -> None:
    # In process (faster than a subprocess): the plugin keeps no state from one session to the next.
    benchmark = write_benchmark(pytester.path, 3)
    instances = Path(os.environ["MEDHELM_HOME"]) / "instances"  # isolated per test by tests/conftest.py
    with TestServer() as server:
        args = run_args(server, benchmark, 4, 3)
        pytester.runpytest(*args).assert_outcomes(passed=3)
        (first,) = instances.glob("synthetic_mc-*.pickle")
        written = first.stat().st_mtime_ns
        server.reset_stats()

        pytester.runpytest(*args).assert_outcomes(passed=3)
        assert server.stats.requests == 0  # same prompts: every answer from the response cache
        assert list(instances.glob("synthetic_mc-*.pickle")) == [first]
        assert first.stat().st_mtime_ns == written  # read back, not parsed and written again

        write_benchmark(pytester.path, 3, changed={"q1": "Edited question: is the new text used?"})
        pytester.runpytest(*args).assert_outcomes(passed=3)

    assert prompts(server) == ["Edited question: is the new text used?"]  # only the edited item is new
    assert len(list(instances.glob("synthetic_mc-*.pickle"))) == 2  # a new entry for the new file hash


# -- the jury's shape: a job that awaits more engine calls ----------------------------------------


def local_model(server: TestServer, name: str) -> ModelConfig:
    return ModelConfig(name=name, provider="openai", model=name, base_url=server.url, timeout_s=30.0)


def test_a_job_awaiting_judge_calls_completes_with_every_window_slot_taken() -> None:
    concurrency = 4
    window = concurrency * WINDOW_PER_SLOT
    count = window * 3  # the window is full from the first job to the last
    with TestServer(latency=0.05, slots=64) as server:
        engine = Engine(concurrency=concurrency)
        answerer = local_model(server, "answerer")
        judges = [local_model(server, f"judge-{i}") for i in range(3)]

        async def evaluate_with_jury(i: int) -> tuple[str, list[str]]:
            answer = await engine.complete(answerer, ModelRequest(prompt=f"question {i}", max_tokens=1))
            # As soon as the answer arrives: three judges at once, on models of their own.
            verdicts = await asyncio.gather(
                *(
                    engine.complete(
                        judge, ModelRequest(prompt=f"rate answer {answer.text} to question {i}", max_tokens=1)
                    )
                    for judge in judges
                )
            )
            return answer.text, [v.text for v in verdicts]

        def jobs() -> Iterator[Job]:
            for i in range(count):
                yield i, lambda i=i: evaluate_with_jury(i)

        try:
            pipeline = Pipeline(engine, jobs(), window=window).start()
            results = [pipeline.result(i, timeout=30) for i in range(count)]
        finally:
            engine.close()
        stats = server.stats
        order = [body["model"] for body in server.requests]

    assert results == [("A", ["A", "A", "A"])] * count
    assert stats.requests == count * 4 and stats.duplicates == 0
    # Judging runs alongside answering, not after it: the first verdicts were asked for before
    # the answerer had even been sent the second half of its questions.
    answers = [position for position, model in enumerate(order) if model == "answerer"]
    assert order.index("judge-0") < answers[count // 2]


def test_a_blocking_engine_call_from_inside_the_engine_fails_instead_of_hanging() -> None:
    with TestServer() as server:
        engine = Engine(concurrency=2)
        model = local_model(server, "judge")

        async def synchronous_scorer_asking_a_judge() -> object:
            return engine.complete_sync(model, ModelRequest(prompt="rate this", max_tokens=1))

        try:
            future = engine.submit(synchronous_scorer_asking_a_judge())
            with pytest.raises(RuntimeError, match="await engine.complete"):
                future.result(timeout=10)
            assert engine.complete_sync(model, ModelRequest(prompt="rate this", max_tokens=1)).text == "A"
        finally:
            engine.close()


def test_processes_loading_a_new_source_at_once_parse_it_only_once(tmp_path: Path) -> None:
    """xdist workers start together on an empty instance cache: one parses, the others read."""
    benchmark = load_user_benchmark(write_benchmark(tmp_path, 50))
    parsed: list[str] = []

    def slow_to_instance(record: dict[str, object]) -> object:
        parsed.append(str(record["id"]))
        time.sleep(0.002)  # long enough for every loader to arrive while the first one parses
        return benchmark.to_instance(record)

    counted = dataclasses.replace(benchmark, to_instance=slow_to_instance)
    settings = DataSettings(home=tmp_path / "home")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # flock excludes separate opens, as processes
        loads = list(pool.map(lambda _: load(counted, settings, cap=1000), range(4)))

    assert sorted(parsed) == sorted(f"q{i}" for i in range(50))  # each record parsed once, not 4 times
    assert all([i.id for i in loaded.instances] == [i.id for i in loads[0].instances] for loaded in loads)
    assert len(loads[0].instances) == 50


def test_more_workers_than_twice_the_cores_start_only_that_many(pytester: pytest.Pytester) -> None:
    asked = 2 * (os.cpu_count() or 1) + 2
    started = max(2, 2 * (os.cpu_count() or 1))
    benchmark = write_benchmark(pytester.path, asked)
    with TestServer(latency=0.05, slots=64) as server:
        result = pytester.runpytest_subprocess(
            *run_args(server, benchmark, 8, asked), "-n", str(asked), "-v", timeout=300
        )
        stats = server.stats

    result.assert_outcomes(passed=asked)
    assert (stats.requests, stats.duplicates) == (asked, 0)
    result.stdout.fnmatch_lines([f"medhelm: -n {asked} starts {started} workers*--maxprocesses {asked}*"])
    workers = {line.split("]", 1)[0] for line in result.outlines if line.startswith("[gw")}
    assert len(workers) == started
