"""The fast path is a plugin of its own (``medhelm_fastpath``): off with ``-p no:medhelm_fastpath``
or when a pytest internal it relies on is missing, and the results are the same either way."""

from __future__ import annotations

import json
import sys
import types

import pytest

from medhelm_sessions import Medhelm
from pytest_medhelm.results import ResultsFile

EXTRACTIVE = "baseline-extractive"

# A plugin (-p probe) that writes, per process, whether the fast path is registered and whether
# pytest's own phase wrappers ran around instance items (they set PYTEST_CURRENT_TEST).
PROBE = """
import json, os
wrapped = {}

def pytest_runtest_logreport(report):
    if "pubmed_qa[" in report.nodeid:
        current = os.environ.get("PYTEST_CURRENT_TEST", "").startswith(report.nodeid)
        wrapped[report.nodeid] = wrapped.get(report.nodeid, False) or current

def pytest_sessionfinish(session):
    config = session.config
    who = getattr(config, "workerinput", {}).get("workerid", "main")
    with open(f"probe-{who}.json", "w") as handle:
        json.dump({"fastpath": config.pluginmanager.has_plugin("medhelm_fastpath"), "wrapped": sorted(wrapped.values())}, handle)
"""


def probe(medhelm: Medhelm) -> tuple[str, str]:
    medhelm.pytester.makepyfile(probe=PROBE)
    medhelm.pytester.syspathinsert()
    return ("-p", "probe")


def probed(medhelm: Medhelm) -> dict[str, dict[str, object]]:
    found = {path.stem.removeprefix("probe-"): json.loads(path.read_text()) for path in medhelm.path.glob("probe-*")}
    for path in medhelm.path.glob("probe-*"):
        path.unlink()
    return found


def aggregates(results: ResultsFile) -> tuple[object, ...]:
    rows = sorted(
        (row.model_dump(exclude={"latency_s", "cached"}) for row in results.instances),
        key=lambda row: (row["benchmark"], row["model"], row["instance_id"]),
    )
    return results.models, results.benchmarks, results.subcategories, results.categories, results.totals, rows


def test_without_the_fast_path_items_take_pytests_plain_protocol_with_the_same_results(medhelm: Medhelm) -> None:
    common = (f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *probe(medhelm))

    fast = medhelm.run(*common, "--medhelm-output=fast")
    fast_probe = probed(medhelm)
    plain = medhelm.run(*common, "--medhelm-output=plain", "-p", "no:medhelm_fastpath")
    plain_probe = probed(medhelm)

    fast.assert_outcomes(passed=4, failed=2)
    plain.assert_outcomes(passed=4, failed=2)
    assert fast_probe["main"] == {"fastpath": True, "wrapped": [False] * 6}
    assert plain_probe["main"] == {"fastpath": False, "wrapped": [True] * 6}
    assert aggregates(medhelm.results(medhelm.path / "plain")) == aggregates(medhelm.results(medhelm.path / "fast"))
    assert "medhelm_fastpath" not in plain.stdout.str()  # off by request: no warning


def test_a_missing_pytest_internal_turns_the_fast_path_off_with_one_warning(
    medhelm: Medhelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = (f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *probe(medhelm))
    fast = medhelm.run(*common, "--medhelm-output=fast")
    probed(medhelm)
    # pytest's runner module as a release that renamed the function would have it (pytest's own
    # code keeps the real one: it is already bound there).
    runner = sys.modules["_pytest.runner"]
    renamed = types.ModuleType(runner.__name__)
    renamed.__dict__.update({k: v for k, v in vars(runner).items() if k != "check_interactive_exception"})
    monkeypatch.setitem(sys.modules, "_pytest.runner", renamed)

    result = medhelm.run(*common, "--medhelm-output=fallback")

    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*MedhelmFastpathWarning: medhelm_fastpath: not found in pytest *: "
            "_pytest.runner.check_interactive_exception; the run takes pytest's plain path*"
        ]
    )
    assert result.stdout.str().count("MedhelmFastpathWarning: ") == 1
    # One warning more than the same run with every internal in place (in-process pytester runs
    # carry warnings of their own).
    assert result.parseoutcomes()["warnings"] == fast.parseoutcomes().get("warnings", 0) + 1
    assert probed(medhelm)["main"]["wrapped"] == [True] * 6  # pytest's own protocol ran every item
    assert aggregates(medhelm.results(medhelm.path / "fallback")) == aggregates(medhelm.results(medhelm.path / "fast"))
    fast.assert_outcomes(passed=4, failed=2)


def runner_with_renamed_setup_state() -> types.ModuleType:
    """pytest's runner module as a release that renamed ``Session._setupstate`` would have it:
    the same SetupState, kept under another attribute by pytest's own hooks."""
    runner = sys.modules["_pytest.runner"]
    renamed = types.ModuleType(runner.__name__)
    renamed.__dict__.update(vars(runner))

    def pytest_sessionstart(session: pytest.Session) -> None:
        session.setup_state_renamed = runner.SetupState()  # type: ignore[attr-defined]

    def pytest_sessionfinish(session: pytest.Session) -> None:
        session.setup_state_renamed.teardown_exact(None)  # type: ignore[attr-defined]

    def pytest_runtest_setup(item: pytest.Item) -> None:
        runner._update_current_test_var(item, "setup")
        item.session.setup_state_renamed.setup(item)  # type: ignore[attr-defined]

    def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
        runner._update_current_test_var(item, "teardown")
        item.session.setup_state_renamed.teardown_exact(nextitem)  # type: ignore[attr-defined]
        runner._update_current_test_var(item, None)

    for hook in (pytest_sessionstart, pytest_sessionfinish, pytest_runtest_setup, pytest_runtest_teardown):
        setattr(renamed, hook.__name__, hook)
    return renamed


def test_a_session_without_its_setup_state_attribute_takes_the_plain_path_with_one_warning(
    medhelm: Medhelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = (f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *probe(medhelm))
    fast = medhelm.run(*common, "--medhelm-output=fast")
    probed(medhelm)
    monkeypatch.setitem(sys.modules, "_pytest.runner", runner_with_renamed_setup_state())

    result = medhelm.run(*common, "--medhelm-output=fallback")

    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(
        ["*MedhelmFastpathWarning: medhelm_fastpath: not found in pytest *: Session._setupstate; the run takes*"]
    )
    assert result.stdout.str().count("MedhelmFastpathWarning: ") == 1
    assert result.parseoutcomes()["warnings"] == fast.parseoutcomes().get("warnings", 0) + 1
    assert probed(medhelm)["main"]["wrapped"] == [True] * 6  # pytest's own protocol ran every item
    assert aggregates(medhelm.results(medhelm.path / "fallback")) == aggregates(medhelm.results(medhelm.path / "fast"))


def test_the_fast_path_is_off_in_every_xdist_worker_too(medhelm: Medhelm) -> None:
    result = medhelm.run_subprocess(
        f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *probe(medhelm), "-n", "2", "-p", "no:medhelm_fastpath"
    )

    result.assert_outcomes(passed=4, failed=2)
    found = probed(medhelm)
    assert set(found) == {"main", "gw0", "gw1"}
    assert not any(entry["fastpath"] for entry in found.values())
    # xdist's own load schedule shared the items out; each ran on pytest's protocol.
    assert sorted(found["gw0"]["wrapped"] + found["gw1"]["wrapped"]) == [True] * 6


# A plugin (-p renamed_runner) that makes every process of the session see pytest's runner module as
# a release without check_interactive_exception would have it.
RENAMED_RUNNER = """
import sys, types
runner = sys.modules["_pytest.runner"]
renamed = types.ModuleType(runner.__name__)
renamed.__dict__.update({k: v for k, v in vars(runner).items() if k != "check_interactive_exception"})
sys.modules["_pytest.runner"] = renamed
"""


def test_under_xdist_a_missing_internal_is_warned_once_for_the_session(medhelm: Medhelm) -> None:
    medhelm.pytester.makepyfile(renamed_runner=RENAMED_RUNNER)
    common = (f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *probe(medhelm), "-n", "2")
    fast = medhelm.run_subprocess(*common, "--medhelm-output=fast")
    probed(medhelm)

    result = medhelm.run_subprocess(*common, "-p", "renamed_runner", "--medhelm-output=fallback")

    result.assert_outcomes(passed=4, failed=2)
    # The controller and both workers miss it; the session says so once, not once per process.
    assert result.stdout.str().count("MedhelmFastpathWarning: ") == 1
    assert result.parseoutcomes()["warnings"] == fast.parseoutcomes().get("warnings", 0) + 1
    found = probed(medhelm)
    assert sorted(found["gw0"]["wrapped"] + found["gw1"]["wrapped"]) == [True] * 6  # pytest's protocol
    assert aggregates(medhelm.results(medhelm.path / "fallback")) == aggregates(medhelm.results(medhelm.path / "fast"))


def test_a_pytest_without_the_rootdir_internals_keeps_its_own_rootdir_with_one_warning(
    medhelm: Medhelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    findpaths = sys.modules["_pytest.config.findpaths"]
    renamed = types.ModuleType(findpaths.__name__)
    renamed.__dict__.update({k: v for k, v in vars(findpaths).items() if k != "determine_setup"})
    monkeypatch.setitem(sys.modules, "_pytest.config.findpaths", renamed)

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED)

    result.assert_outcomes(passed=4, failed=2)  # the run itself is not affected
    result.stdout.fnmatch_lines(
        [
            "*MedhelmFastpathWarning: medhelm_fastpath: not found in pytest *: "
            "_pytest.config.findpaths.determine_setup; an option of ours given with a space may move the rootdir*"
        ]
    )
    assert result.stdout.str().count("MedhelmFastpathWarning: ") == 1
