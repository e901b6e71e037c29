"""Gates in a real session: each gate a test item in the terminal and JUnit, the exit status,
ids pasted back on the command line, and usage errors before anything is paid for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from junitparser import JUnitXml

from medhelm_sessions import Medhelm
from pytest_medhelm.results import ResultsFile

EXTRACTIVE = "baseline-extractive"
# 40 made-up PubMedQA records; baseline-extractive answers the hint, so it gets the first 20 right.
ROWS = [(str(800000 + i), "yes", "yes" if i < 20 else "no") for i in range(40)]


@pytest.fixture
def mirror(medhelm: Medhelm) -> Medhelm:
    medhelm.write_pubmed(ROWS)
    return medhelm


def baseline_file(medhelm: Medhelm, right: set[str], name: str = "baseline.json", model: str = "previous") -> Path:
    """A previous run's results.json scoring 1 on the ``right`` PubMedQA ids and 0 on the others."""
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED, f"--medhelm-output={name}.d")
    assert result.ret == pytest.ExitCode.OK
    current = medhelm.results(medhelm.path / f"{name}.d")
    rows = [
        row.model_copy(
            update={
                "model": model,
                "score": float(row.instance_id in right),
                "normalized": float(row.instance_id in right),
            }
        )
        for row in current.instances
    ]
    from pytest_medhelm.results import aggregate

    path = medhelm.path / name
    aggregate(rows, models=[model]).write(path)
    return path


def junit_cases(path: Path) -> dict[str, object]:
    return {f"{case.classname}::{case.name}": case for suite in JUnitXml.fromfile(str(path)) for case in suite}


def test_a_significant_drop_fails_its_gate_item_and_the_run(mirror: Medhelm) -> None:
    baseline = baseline_file(mirror, {pmid for pmid, _, _ in ROWS})  # all 40 right before; 20 now

    result = mirror.run(
        f"--medhelm-model={EXTRACTIVE}",
        *mirror.ONLY_PUBMED,
        f"--medhelm-baseline={baseline}",
        "--junitxml=junit.xml",
        "-rf",
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ gate pubmed_qa _*",
            "gate pubmed_qa (benchmark pubmed_qa, model baseline-extractive): FAILED",
            "  FAIL baseline: 1.000 -> 0.500 against previous: difference -0.500 (95% CI -0.* to -0.*), "
            "p = * (mcnemar_exact, 40 paired instances): the drop 0.500 exceeds the allowed 0.020 and is significant*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED medhelm::gate::pubmed_qa*", "*MedHELM results*", "gates: 0 passed, 1 failed: medhelm::gate::pubmed_qa"]
    )
    case = junit_cases(mirror.path / "junit.xml")["medhelm.gate::pubmed_qa"]
    assert not case.is_passed and case.result[0].message is not None
    # medhelm-summary.xml, the file a dashboard publishes: its only failure is the failed gate.
    summary = junit_cases(mirror.path / "medhelm-results" / "medhelm-summary.xml")
    assert [name for name, c in summary.items() if not c.is_passed] == ["medhelm.gate::pubmed_qa"]
    assert any(name.endswith(f"pubmed_qa[{EXTRACTIVE}]") and c.is_passed for name, c in summary.items())
    results = mirror.results()
    assert results.status == "complete"
    assert (results.counts.gates_passed, results.counts.gates_failed) == (0, 1)
    [gate] = results.gates
    assert gate.name == "pubmed_qa" and not gate.passed
    baseline_check = gate.checks[0]
    assert baseline_check["p_value"] < 1e-5 and baseline_check["difference"] == pytest.approx(-0.5)


def test_a_drop_within_noise_passes_and_the_run_is_green(mirror: Medhelm) -> None:
    # Before: the same 20 right plus 3 more; a drop of 3/40, three discordant pairs: noise.
    right = {pmid for pmid, _, hint in ROWS if hint == "yes"} | {"800020", "800021", "800022"}
    baseline = baseline_file(mirror, right)

    result = mirror.run(
        f"--medhelm-model={EXTRACTIVE}", *mirror.ONLY_PUBMED, f"--medhelm-baseline={baseline}", "--junitxml=junit.xml"
    )

    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["gates: 1 passed, 0 failed"])
    assert junit_cases(mirror.path / "junit.xml")["medhelm.gate::pubmed_qa"].is_passed
    [gate] = mirror.results().gates
    assert gate.passed and "within noise" in gate.message


@pytest.mark.parametrize(("floor", "status"), [(0.5, pytest.ExitCode.OK), (0.6, pytest.ExitCode.TESTS_FAILED)])
def test_floors_from_pyproject_toml(mirror: Medhelm, floor: float, status: pytest.ExitCode) -> None:
    mirror.pytester.makepyprojecttoml(
        f"[tool.medhelm.gates]\noverall = {{min_score = 0.1}}\n"
        f"[tool.medhelm.gates.benchmarks]\npubmed_qa = {{min_score = {floor}}}\n"
    )

    result = mirror.run(f"--medhelm-model={EXTRACTIVE}", *mirror.ONLY_PUBMED, "-v")

    assert result.ret == status
    result.stdout.fnmatch_lines(
        [f"medhelm::gate::pubmed_qa {'PASSED' if status == 0 else 'FAILED'}*", "medhelm::gate::overall PASSED*"]
    )


@pytest.mark.parametrize("fastpath", [(), ("-p", "no:medhelm_fastpath")], ids=["fastpath", "plain"])
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_gate_items_end_the_progress_at_100_percent_once(
    mirror: Medhelm, workers: tuple[str, ...], fastpath: tuple[str, ...]
) -> None:
    """The gates were reported after pytest had written its final [100%]: a second [100%] followed
    (one process), or the gate's letter and a [116%] (xdist)."""
    mirror.pytester.makepyprojecttoml(
        "[tool.medhelm.gates]\noverall = {min_score = 0.1}\n[tool.medhelm.gates.benchmarks]\npubmed_qa = {min_score = 0.6}\n"
    )

    result = mirror.run(f"--medhelm-model={EXTRACTIVE}", *mirror.ONLY_PUBMED, *workers, *fastpath)

    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the pubmed_qa gate: 0.5 < 0.6
    output = result.stdout.str()
    assert output.count("[100%]") == 1, output
    assert all(int(percent) <= 100 for percent in re.findall(r"\[\s*(\d+)%\]", output)), output
    # The 40 PubMedQA items' letters and the 2 gates' all come before the one [100%].
    letters = "".join(
        re.sub(r"^(\S+/\S+|medhelm) ", "", line.split("[")[0]).strip() for line in output.splitlines() if "%]" in line
    )
    assert len(letters) == 42 and set(letters) == {".", "F"}, output
    assert mirror.results().counts.selected == 40 and mirror.results().counts.gates_failed == 1


def test_gates_from_medhelm_yaml_under_xdist_see_every_workers_scores(mirror: Medhelm) -> None:
    (mirror.path / "medhelm.yaml").write_text("gates:\n  benchmarks:\n    pubmed_qa: {min_score: 0.5}\n")
    baseline = baseline_file(mirror, {pmid for pmid, _, _ in ROWS})

    result = mirror.run(
        f"--medhelm-model={EXTRACTIVE}", *mirror.ONLY_PUBMED, f"--medhelm-baseline={baseline}", "-n", "2"
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    [gate] = mirror.results().gates
    assert [check["kind"] for check in gate.checks] == ["min_score", "baseline"]
    assert gate.checks[0]["passed"] and gate.checks[0]["score"] == 0.5  # all 40 items, from both workers
    assert not gate.checks[1]["passed"] and gate.checks[1]["paired"] == 40


def test_a_pasted_gate_id_reruns_its_benchmark_and_that_gate(mirror: Medhelm) -> None:
    mirror.pytester.makepyprojecttoml(
        "[tool.medhelm.gates.benchmarks]\npubmed_qa = {min_score = 0.9}\nmed_qa = {min_score = 0.9}\n"
    )

    result = mirror.run(f"--medhelm-model={EXTRACTIVE}", "medhelm::gate::pubmed_qa", "-rf")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=20, failed=21)  # 20 wrong answers and the gate
    assert [gate.name for gate in mirror.results().gates] == ["pubmed_qa"]
    result.stdout.fnmatch_lines(["FAILED medhelm::gate::pubmed_qa*"])


def test_an_unknown_pasted_gate_fails_rather_than_passing(mirror: Medhelm) -> None:
    result = mirror.run(f"--medhelm-model={EXTRACTIVE}", "medhelm::gate::pubmed_qa")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    [gate] = mirror.results().gates
    assert not gate.passed and "no gate pubmed_qa in this run" in gate.message


def test_printed_instance_ids_can_be_pasted_back_from_another_directory(
    mirror: Medhelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = mirror.run(f"--medhelm-model={EXTRACTIVE}", *mirror.ONLY_PUBMED, "-rf")
    failed = [line.split()[1] for line in first.outlines if line.startswith("FAILED ")]
    assert len(failed) == 20 and failed[0].startswith("medical_research/test_pubmed_qa.py::pubmed_qa[")
    elsewhere = mirror.path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    again = mirror.pytester.runpytest(*mirror.args(f"--medhelm-model={EXTRACTIVE}", failed[0], failed[1], "-rf"))

    assert again.ret == pytest.ExitCode.OK
    again.assert_outcomes(failed=2)
    # pytest prints ids relative to the current directory: pasted again from here, they work too.
    printed = [line.split()[1] for line in again.outlines if line.startswith("FAILED ")]
    assert [p.split("::", 1)[1] for p in printed] == [f.split("::", 1)[1] for f in failed[:2]]
    third = mirror.pytester.runpytest(*mirror.args(f"--medhelm-model={EXTRACTIVE}", *printed, "-rf"))
    third.assert_outcomes(failed=2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--medhelm-baseline=missing.json"], "--medhelm-baseline * no such file"),
        (["--medhelm-baseline=pyproject.toml"], "--medhelm-baseline *pyproject.toml: not a results.json*"),
        (["--medhelm-strict"], "*--medhelm-strict (ini medhelm_strict) was removed*gates*"),
        (["--medhelm-max-drop=2"], "*--medhelm-max-drop must be between 0 and 1*"),
        (
            ["--medhelm-gates=gates.yaml"],
            "*medhelm gates: *gates.yaml (gates:): benchmarks.pubmed_qa.floor: Extra inputs*",
        ),
    ],
)
def test_bad_gate_settings_are_usage_errors_before_any_call(mirror: Medhelm, args: list[str], message: str) -> None:
    (mirror.path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (mirror.path / "gates.yaml").write_text("gates:\n  benchmarks:\n    pubmed_qa: {floor: 0.2}\n")

    result = mirror.run(f"--medhelm-model={EXTRACTIVE}", *mirror.ONLY_PUBMED, *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])
    assert not (mirror.path / "medhelm-results").exists()


def test_an_incomplete_baseline_is_refused(mirror: Medhelm) -> None:
    baseline = baseline_file(mirror, set())
    data = ResultsFile.read(baseline)
    data.status, data.status_reason = "interrupted", "interrupted (Ctrl-C)"
    data.write(baseline)

    result = mirror.run(f"--medhelm-model={EXTRACTIVE}", f"--medhelm-baseline={baseline}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*that run is interrupted (interrupted (Ctrl-C)); a baseline must be a complete run*"])
