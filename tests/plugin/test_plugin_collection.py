"""Collection and selection: which items a session has, their ids, markers, -k/-m, --lf and -x."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medhelm_sessions import Medhelm
from pytest_medhelm.testserver import Fault, TestServer

EXTRACTIVE = "baseline-extractive"


def test_suites_are_collected_outside_the_repository_with_stable_readable_ids(medhelm: Medhelm) -> None:
    first = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "--collect-only", "-q")
    second = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "--collect-only", "-q")

    assert first.ret == pytest.ExitCode.OK
    expected = [f"pubmed_qa[{pmid}-{EXTRACTIVE}]" for pmid in medhelm.IDS]
    assert medhelm.names(first) == expected  # file order: the cap (1000) keeps every record
    assert medhelm.names(second) == expected
    # The node id a user passes back to pytest: the suite file under its category, then the item.
    assert f"medical_research/test_pubmed_qa.py::pubmed_qa[900001-{EXTRACTIVE}]" in first.outlines


def test_two_models_give_two_items_per_instance(medhelm: Medhelm) -> None:
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "--medhelm-model=baseline-random", "--collect-only", "-q")

    names = medhelm.names(result)
    assert len(names) == 2 * len(medhelm.IDS)
    assert set(names) == {
        f"pubmed_qa[{pmid}-{model}]" for pmid in medhelm.IDS for model in (EXTRACTIVE, "baseline-random")
    }


def test_without_a_model_only_the_users_own_tests_run(medhelm: Medhelm) -> None:
    medhelm.pytester.makepyfile(test_mine="def test_own():\n    assert 1 + 1 == 2\n")

    result = medhelm.run("-rA")

    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "pubmed_qa" not in result.stdout.str()
    assert "MedHELM results" not in result.stdout.str()
    assert not (medhelm.path / "medhelm-results").exists()


@pytest.mark.parametrize(
    ("selection", "selects_pubmed"),
    [
        (("-m", "medical_research and public"), True),
        (("-m", "closed_ended"), True),
        (("-m", "pubmed_qa"), True),
        (("-m", "conducting_literature_research"), True),  # the subcategory's slug
        (("-m", "medhelm and not gated"), True),
        (("-k", "pubmed"), True),
        (("-k", "900003"), True),
        (("-m", "open_ended"), False),
        (("-m", "clinical_decision_support"), False),
        (("-m", "private"), False),
        (("-m", "not pubmed_qa"), False),
        (("-k", "not pubmed"), False),
    ],
)
def test_markers_and_keywords_select_and_deselect(
    medhelm: Medhelm, selection: tuple[str, str], selects_pubmed: bool
) -> None:
    medhelm.pytester.makepyfile(test_mine="def test_own():\n    pass\n")

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "--collect-only", "-q", *selection)

    names = medhelm.names(result)
    if not selects_pubmed:
        assert names == []
        assert "deselected" in result.stdout.str()
    elif selection == ("-k", "900003"):
        assert names == [f"pubmed_qa[900003-{EXTRACTIVE}]"]
    else:
        assert names == [f"pubmed_qa[{pmid}-{EXTRACTIVE}]" for pmid in medhelm.IDS]
        assert "test_own" not in result.stdout.str()  # the user's test has none of these markers


def test_strict_markers_accepts_every_medhelm_marker(medhelm: Medhelm) -> None:
    # A user test may use the plugin's markers too; unknown ones would be errors under --strict-markers.
    medhelm.pytester.makepyfile(
        test_mine="""
        import pytest

        @pytest.mark.closed_ended
        @pytest.mark.medical_research
        @pytest.mark.public
        def test_own():
            pass
    """
    )

    result = medhelm.run(
        f"--medhelm-model={EXTRACTIVE}", "--strict-markers", "-m", "medical_research and (pubmed_qa or not medhelm)"
    )

    result.assert_outcomes(passed=5, failed=2)
    assert "not found in `markers`" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.OK


def test_last_failed_reruns_only_the_low_scores(medhelm: Medhelm) -> None:
    args = (f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, "-rA")
    medhelm.run(*args).assert_outcomes(passed=4, failed=2)

    rerun = medhelm.run(*args, "--lf")

    outcomes = rerun.parseoutcomes()
    assert outcomes["failed"] == 2 and "passed" not in outcomes
    rerun.stdout.fnmatch_lines(["run-last-failure: rerun previous 2 failures*"])
    assert sorted(medhelm.names(rerun)) == sorted(
        f"pubmed_qa[{pmid}-{EXTRACTIVE}]" for pmid in medhelm.EXTRACTIVE_WRONG
    )


@pytest.mark.parametrize("flags", [("-x",), ("--maxfail=1",), ("-x", "-n", "2")])
def test_exitfirst_does_not_stop_on_wrong_answers(medhelm: Medhelm, flags: tuple[str, ...]) -> None:
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *flags)

    # 900002 and 900004 are wrong answers: findings about the model, so every item runs.
    result.assert_outcomes(passed=4, failed=2)
    assert "stopping after" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.OK
    assert medhelm.results().status == "complete"


@pytest.mark.parametrize("flags", [("-x",), ("-x", "-n", "2")])
def test_exitfirst_stops_on_the_first_error(medhelm: Medhelm, server: TestServer, flags: tuple[str, ...]) -> None:
    # 900003's request is rejected (400: not retried, not fatal): an error, which -x stops on.
    server.fail_matching(lambda body: "900003" in json.dumps(body), Fault.http(400))

    result = medhelm.run(f"--medhelm-model=local@{server.url}", *medhelm.ONLY_PUBMED, *flags)

    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", outcomes.get("error")) == 1
    assert sum(outcomes.get(key, 0) for key in ("passed", "failed")) < 5  # it stopped before the rest
    result.stdout.fnmatch_lines(["*stopping after 1 error*"])
    assert result.ret != pytest.ExitCode.OK
    results = medhelm.results()
    assert results.status == "interrupted"
    assert "stopping after 1 error" in (results.status_reason or "")


@pytest.mark.parametrize("cap", [5, 19])
def test_max_instances_selects_medhelms_seeded_subset(medhelm: Medhelm, cap: int) -> None:
    rows = [(str(700000 + i), ("yes", "no", "maybe")[i % 3], "yes") for i in range(20)]
    medhelm.write_pubmed(rows)

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", f"--medhelm-max-instances={cap}", "--collect-only", "-q")

    # MedHELM: the first N of numpy's RandomState(0) permutation over the file's order.
    expected = {rows[i][0] for i in np.random.RandomState(0).permutation(len(rows))[:cap]}
    names = medhelm.names(result)
    assert len(names) == cap
    assert {name.removeprefix("pubmed_qa[").split("-")[0] for name in names} == expected


def test_a_run_without_a_model_does_not_load_the_evaluation_machinery(medhelm: Medhelm) -> None:
    # Every pytest run in an environment with the plugin loads it: a plain test run must not pay
    # for the registry, the engine, the loaders or pydantic (a third of a second at start-up).
    medhelm.pytester.makepyfile(test_mine="def test_own():\n    assert 1 + 1 == 2\n")
    medhelm.pytester.makeconftest("""
import json, sys

HEAVY = ["pydantic", "sqlite3", "aiohttp", "httpx", "pytest_medhelm.engine", "pytest_medhelm.models",
         "pytest_medhelm.results", "pytest_medhelm.configurable", "pytest_medhelm.data",
         "pytest_medhelm.benchmark", "pytest_medhelm.plugin.items"]

def pytest_sessionfinish(session):
    with open("loaded.json", "w") as handle:
        json.dump([name for name in HEAVY if name in sys.modules], handle)
""")

    result = medhelm.run_subprocess()  # a fresh interpreter: nothing imported by an earlier session

    result.assert_outcomes(passed=1)
    assert json.loads((medhelm.path / "loaded.json").read_text()) == []
