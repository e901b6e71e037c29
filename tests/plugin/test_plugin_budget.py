"""--medhelm-budget in real sessions: one spending limit for the whole run, in one process and
under xdist, charged with the judges' calls too; the items it refuses are reported as not run."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from medhelm_sessions import Medhelm
from pytest_medhelm.results import ResultsFile
from pytest_medhelm.testserver import TestServer

PRICED = """\
models:
  - name: priced
    provider: openai
    model: priced-1
    price: {input_per_mtok: 1000.0, output_per_mtok: 2000.0, as_of: "2026-01-01"}
  - name: judge
    provider: openai
    model: judge-1
    price: {input_per_mtok: 100.0, output_per_mtok: 200.0, as_of: "2026-01-01"}
"""
EXTRACTIVE = "baseline-extractive"
NOTES_YAML = """\
name: note_quality
category: custom
subcategory: Note Quality
data: notes.csv
id_column: case_id
prompt: "{note}"
reference: answer
metrics:
  - name: jury
    rubric:
      accuracy: Are the facts in the summary right?
max_tokens: 30
pass_at: 3
"""
NOTES = ["Wheezing since Monday.", "Fever and cough.", "Ankle swollen after a fall.", "Headache for a week."]


def judge_reply(body: dict[str, Any]) -> str:
    return json.dumps({"accuracy": {"score": 4, "explanation": "Fine."}})


def write_notes(medhelm: Medhelm) -> None:
    (medhelm.path / "notes.medhelm.yaml").write_text(NOTES_YAML, encoding="utf-8")
    rows = "".join(f"n{i},{note},Summary {i}.\n" for i, note in enumerate(NOTES, 1))
    (medhelm.path / "notes.csv").write_text("case_id,note,answer\n" + rows, encoding="utf-8")


def judged_run(medhelm: Medhelm, model: str, judges_url: str, *extra: str) -> pytest.RunResult:
    """The jury-scored notes benchmark under a budget that the first paid call passes."""
    write_notes(medhelm)
    return medhelm.run_subprocess(
        f"--medhelm-models-file={medhelm.models_file(PRICED)}",
        f"--medhelm-model={model}",
        "notes.medhelm.yaml",
        f"--medhelm-jury=judge@{judges_url}",
        "--medhelm-budget=0.000001",
        "--medhelm-concurrency=1",
        *extra,
        timeout=120,
    )


def budget_run(
    medhelm: Medhelm, server: TestServer, name: str, budget: float, concurrency: int, *extra: str
) -> tuple[int, ResultsFile]:
    """A run of the six PubMedQA items on the priced model: (requests it sent, its results)."""
    before = server.stats.requests
    result = medhelm.run_subprocess(
        f"--medhelm-models-file={medhelm.models_file(PRICED)}",
        f"--medhelm-model=priced@{server.url}",
        *medhelm.ONLY_PUBMED,
        f"--medhelm-budget={budget!r}",
        f"--medhelm-concurrency={concurrency}",
        f"--medhelm-output={name}",
        f"--medhelm-cache={name}.sqlite",
        *extra,
        timeout=120,
    )
    results = medhelm.results(medhelm.path / name)
    sent = server.stats.requests - before
    assert len(results.instances) == sent and results.budget["not_run"] == 6 - sent, result.stdout.str()
    assert result.parseoutcomes().get("skipped", 0) == 6 - sent
    return sent, results


def test_two_workers_stop_at_the_sessions_budget_as_one_process_does(medhelm: Medhelm, server: TestServer) -> None:
    medhelm.write_pubmed([(pmid, "yes", hint) for pmid, _, hint in medhelm.ROWS])
    # Every prompt has the same number of words, so every request costs the same: the test
    # server counts a word a token.
    free, unlimited = budget_run(medhelm, server, "unlimited", 1000.0, 1)
    costs = {row.cost_usd for row in unlimited.instances}
    assert free == 6 and len(costs) == 1
    cost = costs.pop()
    budget, concurrency = 2.5 * cost, 2
    # The limit is passed by the third answer; a request is checked when it would be sent, so
    # at most concurrency - 1 more, already under way when the third was charged, get through.
    most = math.ceil(budget / cost) + concurrency - 1

    one, single = budget_run(medhelm, server, "single", budget, concurrency)
    two, parallel = budget_run(medhelm, server, "parallel", budget, concurrency, "-n", "2")

    assert 3 <= one <= most and 3 <= two <= most
    # The same stop in one process and under xdist, up to the requests in flight at the stop
    # (which the server's timing decides): not one stop per worker.
    assert abs(one - two) <= concurrency - 1
    for results, sent in ((single, one), (parallel, two)):
        assert results.budget["stopped"] is True and results.budget["scope"] == "session"
        assert results.budget["spent_usd"] == pytest.approx(sent * cost)
        assert budget <= results.budget["spent_usd"] < budget + concurrency * cost
        assert f"budget ${budget:g} spent: {6 - sent} items were not run" in results.notes


def test_workers_with_engines_of_their_own_split_the_budget_and_say_so(medhelm: Medhelm, server: TestServer) -> None:
    sent, results = budget_run(medhelm, server, "plain", 0.000001, 1, "-n", "2", "-p", "no:medhelm_fastpath")
    # Each worker's engine holds half the budget: each sends one request before it stops.
    assert sent == 2
    assert results.budget["scope"] == "per worker" and results.budget["stopped"] is True
    assert any(note.startswith("budget split: the xdist workers had engines of their own") for note in results.notes)


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_judges_are_charged_to_the_budget_and_refused_once_it_is_spent(
    medhelm: Medhelm, workers: tuple[str, ...]
) -> None:
    with TestServer(latency=0.05, responder=judge_reply) as judges:
        result = judged_run(medhelm, EXTRACTIVE, judges.url, *workers)
    # The baseline's answers are free; the first judgement passes the budget, and every later
    # one is refused when it would be sent: its item is not run.
    assert judges.stats.requests == 1, result.stdout.str()
    results = medhelm.results()
    assert len(results.instances) == 1 and results.budget["not_run"] == len(NOTES) - 1
    assert results.budget["spent_usd"] == pytest.approx(results.instances[0].jury_cost_usd)
    assert results.budget["spent_usd"] > 0.000001
    assert results.instances[0].cost_usd == 0.0


def test_an_answer_whose_judge_is_refused_is_not_run_and_its_cost_is_counted(medhelm: Medhelm) -> None:
    with TestServer(latency=0.05, responder=judge_reply) as server:
        result = judged_run(medhelm, f"priced@{server.url}", server.url)
        # One answer is paid for; then its judge, and every other item's request, are refused.
        assert server.stats.requests == 1, result.stdout.str()
        assert server.requests[0]["model"] == "priced-1"
    results = medhelm.results()
    assert not results.instances and results.budget["not_run"] == len(NOTES)
    assert results.budget["spent_usd"] > 0.000001  # the refused item's answer, which was paid for


def test_cached_answers_are_free_and_never_refused(medhelm: Medhelm, server: TestServer) -> None:
    budget_run(medhelm, server, "first", 1000.0, 2)
    medhelm.run(
        f"--medhelm-models-file={medhelm.models_file(PRICED)}",
        f"--medhelm-model=priced@{server.url}",
        *medhelm.ONLY_PUBMED,
        "--medhelm-budget=0",  # nothing to spend: only what the cache holds can run
        "--medhelm-output=again",
        "--medhelm-cache=first.sqlite",
    )
    results = medhelm.results(medhelm.path / "again")
    assert server.stats.requests == 6  # the first run's
    assert len(results.instances) == 6 and all(row.cached for row in results.instances)
    assert results.budget["not_run"] == 0 and results.budget["stopped"] is False
    assert results.budget["spent_usd"] == 0.0
