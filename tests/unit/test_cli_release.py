"""``medhelm gate``, ``medhelm schema`` and ``medhelm --version``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import jsonschema
import pytest
from junitparser import JUnitXml

from pytest_medhelm.results import InstanceRecord, aggregate

REPO = Path(__file__).resolve().parents[2]
MEDHELM = Path(sys.executable).parent / "medhelm"


def medhelm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MEDHELM), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def write_run(path: Path, model: str, right: int, n: int = 200, status: str = "complete") -> Path:
    rows = [
        InstanceRecord(
            benchmark="med_qa",
            instance_id=f"q{i:03d}",
            model=model,
            score=float(i < right),
            metrics={"exact_match": float(i < right)},
            passed=i < right,
            normalized=float(i < right),
            category="clinical_decision_support",
        )
        for i in range(n)
    ]
    results = aggregate(rows, models=[model])
    results.status = status  # type: ignore[assignment]
    results.status_reason = None if status == "complete" else "interrupted (Ctrl-C)"
    results.write(path)
    return path


def test_version_is_the_installed_packages() -> None:
    result = medhelm("--version", cwd=REPO)

    assert result.returncode == 0
    assert result.stdout.strip() == f"medhelm (pytest-medhelm) {version('pytest-medhelm')}"


def test_schema_is_a_json_schema_that_real_results_files_meet(tmp_path: Path) -> None:
    result = medhelm("schema", cwd=tmp_path)

    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads(write_run(tmp_path / "results.json", "m", 150).read_text())
    jsonschema.validate(data, schema)
    assert {"status", "counts", "gates", "instances"} <= set(schema["properties"])
    with pytest.raises(jsonschema.ValidationError, match="'finished' is not one of"):
        jsonschema.validate({**data, "status": "finished"}, schema)


def test_gate_fails_on_a_significant_drop_and_writes_junit(tmp_path: Path) -> None:
    old, new = write_run(tmp_path / "old.json", "previous", 160), write_run(tmp_path / "new.json", "candidate", 120)

    result = medhelm("gate", str(new), "--baseline", str(old), "--junitxml", "gates.xml", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    assert "gate med_qa (benchmark med_qa, model candidate): FAILED" in result.stdout
    assert "0.800 -> 0.600 against previous: difference -0.200 (95% CI" in result.stdout
    assert result.stdout.strip().endswith("gates: 0 passed, 1 failed")
    [case] = [case for suite in JUnitXml.fromfile(str(tmp_path / "gates.xml")) for case in suite]
    assert (case.classname, case.name, case.is_passed) == ("medhelm.gate", "med_qa", False)


def test_gate_passes_within_the_allowance_given_on_the_command_line(tmp_path: Path) -> None:
    old, new = write_run(tmp_path / "old.json", "previous", 160), write_run(tmp_path / "new.json", "candidate", 120)

    result = medhelm("gate", str(new), "--baseline", str(old), "--max-drop", "0.25", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "within the allowed 0.250" in result.stdout


def test_gate_floors_from_the_projects_pyproject(tmp_path: Path) -> None:
    new = write_run(tmp_path / "new.json", "candidate", 120)
    (tmp_path / "pyproject.toml").write_text("[tool.medhelm.gates.benchmarks]\nmed_qa = {min_score = 0.7}\n")

    result = medhelm("gate", str(new), cwd=tmp_path)

    assert result.returncode == 1
    assert "FAIL min_score: 0.600 < 0.700" in result.stdout


def test_gate_never_passes_an_incomplete_run(tmp_path: Path) -> None:
    old = write_run(tmp_path / "old.json", "previous", 120)
    new = write_run(tmp_path / "new.json", "candidate", 120, status="interrupted")

    result = medhelm("gate", str(new), "--baseline", str(old), cwd=tmp_path)

    assert result.returncode == 1
    assert "not judged:" in result.stdout and "is interrupted" in result.stdout


def test_gate_with_nothing_to_judge_says_so(tmp_path: Path) -> None:
    new = write_run(tmp_path / "new.json", "candidate", 120)

    result = medhelm("gate", str(new), cwd=tmp_path)

    assert result.returncode == 5
    assert "no gate to judge" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json"], "missing.json: no such file"),
        (["new.json", "--baseline", "new.json", "--alpha", "1.5"], "--alpha must be between 0 and 1"),
        (["new.json", "--baseline", "interrupted.json"], "that run is interrupted"),
        (["new.json", "--gates", "bad.yaml"], "bad.yaml (gates:): overall.min_score"),
    ],
)
def test_gate_usage_errors_name_the_file_or_flag(tmp_path: Path, args: list[str], message: str) -> None:
    write_run(tmp_path / "new.json", "candidate", 120)
    write_run(tmp_path / "interrupted.json", "previous", 120, status="interrupted")
    (tmp_path / "bad.yaml").write_text("gates:\n  overall: {min_score: 7}\n")

    result = medhelm("gate", *args, cwd=tmp_path)

    assert result.returncode == 2
    assert message in result.stderr
