"""pytest-xdist: two workers give one process's results, share the response cache, never ask twice.

Sessions run as subprocesses: xdist starts its workers as processes of their own anyway, and an
in-process controller would leave its execnet state behind in this one.
"""

from __future__ import annotations

import pytest
from junitparser import JUnitXml, Properties

from medhelm_sessions import Medhelm
from pytest_medhelm.results import ResultsFile
from pytest_medhelm.testserver import TestServer


def rows(results: ResultsFile) -> list[dict[str, object]]:
    """Instance rows without what legitimately differs between runs (timing, cache hits)."""
    return sorted(
        (row.model_dump(exclude={"latency_s", "cached"}) for row in results.instances),
        key=lambda row: (row["benchmark"], row["model"], row["instance_id"]),
    )


def test_two_workers_match_one_process_and_share_the_cache(medhelm: Medhelm, server: TestServer) -> None:
    model = f"local@{server.url}"
    common = (f"--medhelm-model={model}", *medhelm.ONLY_PUBMED)

    single = medhelm.run_subprocess(*common, "--medhelm-output=single", "--medhelm-cache=single.sqlite")
    single.assert_outcomes(passed=3, failed=3)  # the server's "yes" is right for 3 of the 6
    assert server.stats.requests == 6
    server.reset_stats()

    parallel = medhelm.run_subprocess(
        *common, "-n", "2", "-v", "--medhelm-output=parallel", "--medhelm-cache=shared.sqlite"
    )

    parallel.assert_outcomes(passed=3, failed=3)
    for worker in ("gw0", "gw1"):  # both workers ran items (3 each: a round-robin share)
        assert sum(line.startswith(f"[{worker}]") and "pubmed_qa[" in line for line in parallel.outlines) == 3
    assert (server.stats.requests, server.stats.duplicates) == (6, 0)  # each prompt sent once, by one worker
    one, two = medhelm.results(medhelm.path / "single"), medhelm.results(medhelm.path / "parallel")
    assert two.models == one.models
    assert two.benchmarks == one.benchmarks
    assert (two.subcategories, two.categories, two.totals) == (one.subcategories, one.categories, one.totals)
    assert rows(two) == rows(one)
    server.reset_stats()

    again = medhelm.run_subprocess(
        *common, "-n", "2", "--medhelm-output=again", "--medhelm-cache=shared.sqlite", "--junitxml=junit.xml"
    )

    again.assert_outcomes(passed=3, failed=3)
    assert server.stats.requests == 0  # every answer came from the cache the first -n 2 run wrote
    third = medhelm.results(medhelm.path / "again")
    assert [row.cached for row in third.instances] == [True] * 6
    assert third.totals["local"].cached == 6
    assert rows(third) == rows(one)
    cases = [case for suite in JUnitXml.fromfile(str(medhelm.path / "junit.xml")) for case in suite]
    cached = [{p.name: p.value for p in case.child(Properties)} for case in cases]
    assert [props["medhelm.cached"] for props in cached] == ["True"] * 6


def worker_items(result: pytest.RunResult, worker: str) -> list[str]:
    """The instance ids a worker ran, in the order it reported them (``-v``)."""
    lines = result.outlines
    return [line.split("pubmed_qa[", 1)[1].split("-", 1)[0] for line in lines if line.startswith(f"[{worker}]")]


def test_the_round_robin_schedule_does_not_depend_on_the_order_plugins_load_in(
    medhelm: Medhelm, server: TestServer
) -> None:
    # `-p xdist` registers xdist before this plugin, as pip may leave them in site-packages; each
    # worker queues its round-robin share ahead, so it must be given exactly that share.
    result = medhelm.run_subprocess(
        "-p", "xdist", f"--medhelm-model=local@{server.url}", *medhelm.ONLY_PUBMED, "-n", "2", "-v"
    )

    result.assert_outcomes(passed=3, failed=3)
    assert sorted(worker_items(result, "gw0")) == medhelm.IDS[0::2]
    assert sorted(worker_items(result, "gw1")) == medhelm.IDS[1::2]
    assert (server.stats.requests, server.stats.duplicates) == (6, 0)
    assert medhelm.results().totals["local"].cached == 0  # every answer fresh, none asked twice


# A scheduler of the user's own (a conftest): every item to the first worker.
OWN_SCHEDULER = """
import pytest
from xdist.scheduler import LoadScheduling

class EverythingToOne(LoadScheduling):
    def schedule(self):
        self.collection = next(iter(self.node2collection.values()))
        first = min(self.nodes, key=lambda node: node.gateway.id)
        self.node2pending[first].extend(range(len(self.collection)))
        first.send_runtest_some(list(range(len(self.collection))))
        self.pending[:] = []
        for node in self.nodes:
            node.shutdown()

def pytest_xdist_make_scheduler(config, log):
    return EverythingToOne(config, log)
"""


def test_a_scheduler_of_the_users_own_hands_out_the_items(medhelm: Medhelm, server: TestServer) -> None:
    medhelm.pytester.makeconftest(OWN_SCHEDULER)

    result = medhelm.run_subprocess(f"--medhelm-model=local@{server.url}", *medhelm.ONLY_PUBMED, "-n", "2", "-v")

    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(["scheduling tests via EverythingToOne"])
    assert sorted(worker_items(result, "gw0")) == medhelm.IDS
    assert (server.stats.requests, server.stats.duplicates) == (6, 0)
    assert medhelm.results().totals["local"].cached == 0
