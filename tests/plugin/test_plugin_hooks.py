"""pytest-medhelm's own hooks (plugin/hookspecs.py), implemented by a conftest in real sessions.

The conftest contributes three synthetic benchmarks (a ``Benchmark`` object it declares, and a
folder holding a suite module and a ``*.medhelm.yaml``), streams every scored instance to a JSONL
file of its own and adds an entry to results.json. ``baseline-extractive`` picks the option that
shares a word with the note, so each contributed benchmark gets one item right and one wrong.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from medhelm_sessions import Medhelm

EXTRACTIVE = "baseline-extractive"
SELECTION = ("-m", "pubmed_qa or ward_triage or clinic_triage or phone_triage")

# A hospital's own benchmark declared in Python: notes and options are synthetic.
WARD_MODULE = """\
import json
from pathlib import Path

from pytest_medhelm import Benchmark, Instance, Prompt, Source, scorers

ROWS = Path(__file__).with_name("{data}")


def read_local(folder):
    return [json.loads(line) for line in ROWS.read_text().splitlines()]


def to_instance(record):
    return Instance(id=record["id"], input=record["note"], choices=("urgent", "routine"),
                    correct=record["correct"])


{name} = Benchmark(
    id="{id}", name="{id} (synthetic)", category="custom", subcategory="Synthetic Triage", access="private",
    source=Source(upstream="synthetic", how_to_get="written by the test", read_local=read_local,
                  local_files=(ROWS,)),
    to_instance=to_instance,
    prompt=Prompt(instructions="Pick the option.", input_noun="Note", output_noun="Answer", multiple_choice=True),
    scorer=scorers.multiple_choice, main_metric="exact_match", max_tokens=1,
)
"""
# Both notes say "urgent": the first is right (option A), the second wrong (its gold is B).
TRIAGE_ROWS = [
    {"id": "n1", "note": "Crushing chest pain: urgent.", "correct": 0},
    {"id": "n2", "note": "Mild itch, seen as urgent.", "correct": 1},
]
PHONE_YAML = """\
name: phone_triage
category: custom
subcategory: Synthetic Triage
data: phone.csv
id_column: case_id
prompt: "{note}"
reference: answer
metrics: [exact_match]
max_tokens: 1
"""
PHONE_CSV = "case_id,note,answer\np1,Urgent. Chest pain.,Urgent.\np2,Routine. Rash.,Urgent.\n"

HOOKS = """
import os

from ward import WARD


def pytest_medhelm_benchmarks(config):
    return [WARD, "hospital"]


def pytest_medhelm_instance_scored(record, report, config):
    row = {"nodeid": report.nodeid, "in_worker": hasattr(config, "workerinput"), **record.model_dump()}
    with open(os.path.join(os.path.dirname(__file__), "stream.jsonl"), "a") as stream:
        stream.write(json.dumps(row) + "\\n")


def pytest_medhelm_results(results, path, config):
    results.extensions["hospital_store"] = {"rows": len(results.instances), "written_yet": path.exists()}
    results.notes.append("uploaded to the hospital store")
"""


def write_hospital(medhelm: Medhelm, hooks: str = HOOKS) -> None:
    rows = "".join(json.dumps(row) + "\n" for row in TRIAGE_ROWS)
    (medhelm.path / "ward.jsonl").write_text(rows)
    (medhelm.path / "ward.py").write_text(WARD_MODULE.format(data="ward.jsonl", name="WARD", id="ward_triage"))
    hospital = medhelm.path / "hospital"
    hospital.mkdir()
    (hospital / "clinic.jsonl").write_text(rows)
    (hospital / "test_clinic.py").write_text(
        WARD_MODULE.format(data="clinic.jsonl", name="BENCHMARK", id="clinic_triage")
    )
    (hospital / "phone.medhelm.yaml").write_text(PHONE_YAML)
    (hospital / "phone.csv").write_text(PHONE_CSV)
    medhelm.pytester.makeconftest("import json\n" + hooks)


def streamed(medhelm: Medhelm) -> list[dict[str, object]]:
    return [json.loads(line) for line in (medhelm.path / "stream.jsonl").read_text().splitlines()]


def check_session(medhelm: Medhelm, result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=4 + 3, failed=2 + 3)  # PubMedQA: 4 right, 2 wrong
    assert result.ret == pytest.ExitCode.OK
    results = medhelm.results()
    assert set(results.benchmarks) == {"pubmed_qa", "ward_triage", "clinic_triage", "phone_triage"}
    for benchmark in ("ward_triage", "clinic_triage", "phone_triage"):
        score = results.benchmarks[benchmark].scores[EXTRACTIVE]
        assert (score.score, score.n) == (0.5, 2), benchmark
        assert results.benchmarks[benchmark].subcategory == "Synthetic Triage"
    # Every scored instance was streamed once, with the same row results.json keeps.
    rows = streamed(medhelm)
    assert len(rows) == len(results.instances) == 12
    assert len({row["nodeid"] for row in rows}) == 12
    by_key = {(row["benchmark"], row["instance_id"]): row for row in rows}
    for record in results.instances:
        row = by_key[(record.benchmark, record.instance_id)]
        assert (row["score"], row["passed"], row["metrics"]) == (record.score, record.passed, record.metrics)
    ward_ids = sorted(row["nodeid"] for row in rows if row["benchmark"] == "ward_triage")
    assert ward_ids == [
        f"ward.py::ward_triage::ward_triage[n1-{EXTRACTIVE}]",
        f"ward.py::ward_triage::ward_triage[n2-{EXTRACTIVE}]",
    ]
    assert any(str(row["nodeid"]).startswith("hospital/test_clinic.py::clinic_triage[") for row in rows)
    assert any(str(row["nodeid"]).startswith("hospital/phone.medhelm.yaml::phone_triage[") for row in rows)
    # The results hook ran before the file was written, and what it added was written.
    assert results.extensions == {"hospital_store": {"rows": 12, "written_yet": False}}
    assert results.notes[-1] == "uploaded to the hospital store"
    result.stdout.fnmatch_lines(["note: uploaded to the hospital store"])


def test_a_conftest_contributes_benchmarks_and_sees_every_scored_instance_and_the_results(medhelm) -> None:
    write_hospital(medhelm)

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *SELECTION, "--strict-markers", "-rA")

    check_session(medhelm, result)
    assert {row["in_worker"] for row in streamed(medhelm)} == {False}


def test_under_xdist_the_hooks_run_on_the_controller_only(medhelm) -> None:
    write_hospital(medhelm)

    result = medhelm.run_subprocess(f"--medhelm-model={EXTRACTIVE}", *SELECTION, "-n", "2", "-v")

    check_session(medhelm, result)
    # The workers ran the contributed items; every row was streamed by the controller.
    assert any(line.startswith("[gw1]") and "ward_triage[" in line for line in result.outlines) or any(
        line.startswith("[gw0]") and "ward_triage[" in line for line in result.outlines
    )
    assert {row["in_worker"] for row in streamed(medhelm)} == {False}


def test_without_a_model_nothing_is_contributed_or_called(medhelm) -> None:
    write_hospital(medhelm)
    medhelm.pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")

    result = medhelm.pytester.runpytest("-rs")

    # The folder's own *.medhelm.yaml is found as any such file is, and waits for a model.
    result.assert_outcomes(passed=1, skipped=1)
    assert "ward_triage" not in result.stdout.str() and "clinic_triage" not in result.stdout.str()
    assert not (medhelm.path / "stream.jsonl").exists()
    assert not (medhelm.path / "medhelm-results").exists()


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("[42]", "*pytest_medhelm_benchmarks returned 42: expected a Benchmark, or the path of*"),
        ("['no_such_folder']", "*pytest_medhelm_benchmarks contributed no_such_folder, which does not exist*"),
        ("[WARD, WARD]", "*contributed benchmark id 'ward_triage' twice, or a built-in benchmark's id*"),
        ("[replace(WARD, id='pubmed_qa')]", "*contributed benchmark id 'pubmed_qa' twice, or a built-in*"),
        ("['ward.jsonl']", "*contributed ward.jsonl: expected a suite module (.py defining BENCHMARK)*"),
    ],
)
def test_a_bad_contribution_is_a_usage_error_naming_it(medhelm, returned: str, message: str) -> None:
    write_hospital(
        medhelm,
        hooks=textwrap.dedent(f"""
        from dataclasses import replace

        from ward import WARD


        def pytest_medhelm_benchmarks(config):
            return {returned}
    """),
    )

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_failing_results_hook_still_leaves_results_json(medhelm) -> None:
    write_hospital(
        medhelm,
        hooks=textwrap.dedent("""
        def pytest_medhelm_results(results):
            raise ConnectionError("the hospital store is down")
    """),
    )

    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", *medhelm.ONLY_PUBMED)

    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    assert "the hospital store is down" in result.stdout.str() + result.stderr.str()
    assert medhelm.results().benchmarks["pubmed_qa"].scores[EXTRACTIVE].n == 6


def test_the_hooks_are_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for hook in ("pytest_medhelm_benchmarks", "pytest_medhelm_instance_scored", "pytest_medhelm_results"):
        assert f"def {hook}(" in readme, hook
