"""How an instance item runs: pytest's reports and hooks as usual, without the per-phase wrappers
unless something outside pytest hooks a phase or the item carries a skip/xfail marker."""

from __future__ import annotations

import gc
import json

import pytest

from medhelm_sessions import Medhelm
from pytest_medhelm.plugin.fastpath.memory import freeze_session, release_frozen_session

EXTRACTIVE = "baseline-extractive"

# A plugin (``-p recorder``: the suites live outside this directory, so a conftest here would not
# see their items) that records, per item, the reports pytest published and whether pytest's own phase
# wrappers ran (they set PYTEST_CURRENT_TEST to "<nodeid> (<phase>)"), into seen.json at the end.
RECORDER = """
import json, os
seen = {}

def pytest_runtest_logreport(report):
    entry = seen.setdefault(report.nodeid.split("::")[-1], {"phases": [], "wrapped": False})
    entry["phases"].append([report.when, report.outcome])
    entry["wrapped"] |= os.environ.get("PYTEST_CURRENT_TEST", "").startswith(report.nodeid)

def pytest_sessionfinish(session):
    with open("seen.json", "w") as handle:
        json.dump(seen, handle)
"""


def _with_plugin(medhelm: Medhelm, source: str) -> tuple[str, str]:
    medhelm.pytester.makepyfile(recorder=source)
    medhelm.pytester.syspathinsert()
    return ("-p", "recorder")


def _seen(medhelm: Medhelm) -> dict[str, dict[str, object]]:
    return json.loads((medhelm.path / "seen.json").read_text())


def test_instance_items_publish_every_phase_report_without_the_phase_wrappers(medhelm: Medhelm) -> None:
    plugin = _with_plugin(medhelm, RECORDER)

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *plugin, "--junitxml=junit.xml")

    result.assert_outcomes(passed=4, failed=2)
    seen = _seen(medhelm)
    for pmid in medhelm.IDS:
        entry = seen[f"pubmed_qa[{pmid}-{EXTRACTIVE}]"]
        call = "failed" if pmid in medhelm.EXTRACTIVE_WRONG else "passed"
        assert entry["phases"] == [["setup", "passed"], ["call", call], ["teardown", "passed"]]
        assert entry["wrapped"] is False
    junit = (medhelm.path / "junit.xml").read_text()
    assert junit.count("<testcase ") == 6 and junit.count("<failure ") == 2


def test_a_plugin_hooking_a_phase_gets_pytests_full_protocol(medhelm: Medhelm) -> None:
    plugin = _with_plugin(
        medhelm,
        RECORDER
        + """
import pytest

def pytest_runtest_setup(item):
    if item.name.startswith("pubmed_qa[900003"):
        pytest.skip("skipped by the user's plugin")
""",
    )

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *plugin, "-rs")

    result.assert_outcomes(passed=3, failed=2, skipped=1)
    result.stdout.fnmatch_lines(["*skipped by the user's plugin*"])
    # (The skipped one stops in the plugin's own setup hook, before pytest's sets the variable.)
    ran = {name: entry for name, entry in _seen(medhelm).items() if "900003" not in name}
    assert len(ran) == 5 and all(entry["wrapped"] for entry in ran.values())


@pytest.mark.parametrize(
    ("marker", "outcomes"),
    [
        ("pytest.mark.skip(reason='not today')", {"skipped": 6}),
        ("pytest.mark.xfail(reason='known weak')", {"xfailed": 2, "xpassed": 4}),
    ],
)
def test_skip_and_xfail_markers_added_to_instance_items_are_honoured(
    medhelm: Medhelm, marker: str, outcomes: dict[str, int]
) -> None:
    plugin = _with_plugin(
        medhelm,
        f"""
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker({marker})
""",
    )

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *plugin)

    result.assert_outcomes(**outcomes)


def test_a_sessions_frozen_objects_return_to_the_gc_when_the_next_session_starts() -> None:
    release_frozen_session()
    baseline = gc.get_freeze_count()
    freeze_session()
    assert gc.get_freeze_count() > baseline
    release_frozen_session()
    assert gc.get_freeze_count() == 0


def test_passed_silent_phase_reports_are_dropped_in_the_controller_and_every_worker(medhelm: Medhelm) -> None:
    # pytest scans these once per failure to print teardown output: quadratic at thousands of
    # low scores. Each process writes how many are left when its terminal summary starts.
    plugin = _with_plugin(
        medhelm,
        """
import json

def pytest_terminal_summary(terminalreporter):
    who = getattr(terminalreporter.config, "workerinput", {}).get("workerid", "controller")
    with open(f"silent-{who}.json", "w") as handle:
        json.dump(len(terminalreporter.stats.get("", [])), handle)
""",
    )

    result = medhelm.run_subprocess(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, *plugin, "-n", "2")

    result.assert_outcomes(passed=4, failed=2)
    left = {path.stem: json.loads(path.read_text()) for path in medhelm.path.glob("silent-*.json")}
    assert left == {"silent-controller": 0, "silent-gw0": 0, "silent-gw1": 0}
