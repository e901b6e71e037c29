"""``medhelm export-helm``: the run directories read back by HELM 0.5.16's own code.

HELM's summarizer reads a run as ``from_json(run_spec.json, RunSpec)`` and
``from_json(stats.json, List[Stat])`` (``presentation/summarize.py``, ``Summarizer.read_run``); its
display code reads ``per_instance_stats.json`` as ``List[PerInstanceStats]``. A separate Python with
crfm-helm (``$MEDHELM_HELM_PYTHON``, else ``/work/helm-venv/bin/python``) does exactly that here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pytest_medhelm import cli
from pytest_medhelm.results import InstanceRecord, aggregate

READ_WITH_HELM = r"""
import json, sys
from pathlib import Path
from typing import List
from helm.common.codec import from_json
from helm.benchmark.run_spec import RunSpec
from helm.benchmark.metrics.statistic import Stat
from helm.benchmark.metrics.metric import PerInstanceStats

out = {}
for run in sorted(Path(sys.argv[1]).iterdir()):
    spec = from_json((run / "run_spec.json").read_text(), RunSpec)
    stats = from_json((run / "stats.json").read_text(), List[Stat])
    per_instance = from_json((run / "per_instance_stats.json").read_text(), List[PerInstanceStats])
    out[run.name] = {
        "name": spec.name, "groups": spec.groups, "model": spec.adapter_spec.model,
        "stats": {s.name.name: [s.name.split, s.count, s.mean] for s in stats},
        "instances": {p.instance_id: {s.name.name: s.mean for s in p.stats} for p in per_instance},
        "trials": sorted({p.train_trial_index for p in per_instance}),
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def helm_python() -> str:
    for python in filter(None, [os.environ.get("MEDHELM_HELM_PYTHON", ""), "/work/helm-venv/bin/python"]):
        if (
            Path(python).exists()
            and subprocess.run([python, "-c", "import helm.benchmark.run_spec"], capture_output=True).returncode == 0
        ):
            return python
    pytest.skip("no Python with crfm-helm 0.5.16 (set MEDHELM_HELM_PYTHON to one)")


def row(benchmark: str, model: str, instance: str, em: float, run: str = "") -> InstanceRecord:
    return InstanceRecord(
        benchmark=benchmark,
        instance_id=instance,
        model=model,
        score=em,
        run=run,
        metrics={"exact_match": em, "quasi_exact_match": 1.0},
        passed=em == 1.0,
        category="medical_research",
        subcategory="x",
        normalized=em,
        metric="exact_match",
    )


def test_export_is_read_by_helms_own_reader(
    helm_python: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [row("pubmed_qa", "org/model-a", str(i), float(i % 2)) for i in range(4)]
    rows += [row("pubmed_qa", "model-b", str(i), 1.0) for i in range(4)]
    rows += [
        row("med_dialog", "model-b", str(i), float(i < 1), run=run) for run in ("icliniq", "hcm") for i in range(2)
    ]
    rows += [row("ehr_sql_private_lookalike", "model-b", "1", 1.0)]  # not a public MedHELM benchmark: not exported
    results = aggregate(rows, medhelm_ids=frozenset({"pubmed_qa", "med_dialog", "ehr_sql_private_lookalike"}))
    source = tmp_path / "results.json"
    results.write(source)
    suite = tmp_path / "benchmark_output" / "runs" / "mine"

    assert cli.main(["export-helm", str(source), "--to", str(suite)]) == 0
    capsys.readouterr()
    read = json.loads(
        subprocess.run(
            [helm_python, "-c", READ_WITH_HELM, str(suite)], capture_output=True, text=True, check=True
        ).stdout
    )

    assert set(read) == {
        "pubmed_qa:model=org_model-a",
        "pubmed_qa:model=model-b",
        "med_dialog:run=hcm,model=model-b",
        "med_dialog:run=icliniq,model=model-b",
    }
    a = read["pubmed_qa:model=org_model-a"]
    assert a["stats"]["exact_match"] == ["test", 1, 0.5]  # the run's mean as one stat (spec 4.1)
    assert a["instances"] == {str(i): {"exact_match": float(i % 2), "quasi_exact_match": 1.0} for i in range(4)}
    assert a["trials"] == [0] and a["groups"] == ["pubmed_qa"] and a["model"] == "org/model-a"
    # HELM's cell for a benchmark of several runs is the mean of the runs' stats: ours, exactly.
    runs = [read[f"med_dialog:run={r},model=model-b"]["stats"]["exact_match"][2] for r in ("hcm", "icliniq")]
    assert sum(runs) / 2 == results.benchmarks["med_dialog"].scores["model-b"].score


def test_export_of_a_file_without_public_benchmarks_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = aggregate([row("my_triage", "m", "1", 1.0)], medhelm_ids=frozenset())
    source = tmp_path / "results.json"
    results.write(source)
    assert cli.main(["export-helm", str(source), "--to", str(tmp_path / "out")]) == 1
    assert "no public MedHELM benchmark" in capsys.readouterr().err
    assert cli.main(["export-helm", str(tmp_path / "absent.json"), "--to", str(tmp_path / "out")]) == 2
