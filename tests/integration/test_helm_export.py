"""``medhelm export-helm``: the run directories read back by HELM 0.5.16's own code.

HELM's summarizer reads a run as ``from_json(run_spec.json, RunSpec)`` and
``from_json(stats.json, List[Stat])`` (``presentation/summarize.py``, ``Summarizer.read_run``); its
display code reads ``per_instance_stats.json`` as ``List[PerInstanceStats]``. HELM's own code in
its environment (the ``helm_oracle`` fixture) does exactly that here, and names the runs as HELM
would: the run-spec function's ``RunSpec`` through HELM's model run expander.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_medhelm import cli
from pytest_medhelm.results import InstanceRecord, aggregate

READ_WITH_HELM = r"""
import json, sys
from pathlib import Path
from typing import List
from unittest import mock

# HELM's codec imports every perturbation, and two of those import NLP packages (nltk, spacy) that
# the oracle environment leaves out; only perturbations use them, so stand-ins do here.
for name in ("nltk", "nltk.corpus", "spacy"):
    sys.modules[name] = mock.MagicMock(name=name)
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

# The names HELM gives these runs: its run-spec function, then its model run expander.
# get_med_dialog_spec imports torch only to name a GPU device: not what is tested here.
sys.modules["helm.common.gpu_utils"] = mock.Mock(get_torch_device_name=lambda: "cpu")
import helm.benchmark.run_specs.medhelm_run_specs
from helm.benchmark.run_spec import get_run_spec_function
from helm.benchmark.run_expander import ModelRunExpander

names = []
for key, args, model in json.loads(sys.argv[2]):
    (spec,) = ModelRunExpander(model).expand(get_run_spec_function(key)(**args))
    names.append(spec.name)
print(json.dumps({"runs": out, "helm_names": names}))
"""


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


def test_export_is_read_by_helms_own_reader_under_helms_run_names(
    helm_oracle: Any, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [row("pubmed_qa", "org/model-a", str(i), float(i % 2)) for i in range(4)]
    rows += [row("pubmed_qa", "model-b", str(i), 1.0) for i in range(4)]
    rows += [
        row("med_dialog", "model-b", str(i), float(i < 1), run=run)
        for run in ("icliniq", "healthcaremagic")
        for i in range(2)
    ]
    rows += [row("med_qa", "model-b", "1", 1.0), row("head_qa", "a/b/model-c", "1", 0.0)]
    rows += [row("shc_sei_med", "model-b", "1", 1.0)]  # private: not exported
    results = aggregate(rows, medhelm_ids=frozenset({"pubmed_qa", "med_dialog", "med_qa", "head_qa", "shc_sei_med"}))
    source = tmp_path / "results.json"
    results.write(source)
    suite = tmp_path / "benchmark_output" / "runs" / "mine"

    assert cli.main(["export-helm", str(source), "--to", str(suite), "--data-dir", str(shared_data)]) == 0
    capsys.readouterr()
    # (run-spec key, arguments, model) of each run, as HELM's run entries would give them.
    expected = [
        ("pubmed_qa", {}, "org/model-a"),
        ("pubmed_qa", {}, "model-b"),
        ("med_dialog", {"subset": "healthcaremagic"}, "model-b"),
        ("med_dialog", {"subset": "icliniq"}, "model-b"),
        ("medhelm_med_qa", {}, "model-b"),
        ("head_qa", {}, "a/b/model-c"),
    ]
    done = subprocess.run(
        [str(helm_oracle.python), "-c", READ_WITH_HELM, str(suite), json.dumps(expected)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    oracle = json.loads(done.stdout)
    read = oracle["runs"]

    assert sorted(read) == sorted(oracle["helm_names"])  # HELM's own names, and nothing else
    assert "med_qa:model=model-b" in read and "med_dialog,subset=icliniq:model=model-b" in read
    assert all(read[name]["name"] == name for name in read)
    a = read["pubmed_qa:model=org_model-a"]
    assert a["stats"]["exact_match"] == ["test", 1, 0.5]  # the run's mean as one stat (spec 4.1)
    assert a["instances"] == {str(i): {"exact_match": float(i % 2), "quasi_exact_match": 1.0} for i in range(4)}
    assert a["trials"] == [0] and a["groups"] == ["pubmed_qa"] and a["model"] == "org/model-a"
    # HELM's cell for a benchmark of several runs is the mean of the runs' stats: ours, exactly.
    runs = [
        read[f"med_dialog,subset={r}:model=model-b"]["stats"]["exact_match"][2] for r in ("healthcaremagic", "icliniq")
    ]
    assert sum(runs) / 2 == results.benchmarks["med_dialog"].scores["model-b"].score


def test_export_without_helms_package_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = aggregate([row("pubmed_qa", "m", "1", 1.0)], medhelm_ids=frozenset({"pubmed_qa"}))
    source = tmp_path / "results.json"
    results.write(source)
    empty = tmp_path / "mirror"
    empty.mkdir()
    assert cli.main(["export-helm", str(source), "--to", str(tmp_path / "out"), "--data-dir", str(empty)]) == 2
    assert f"HELM's package (its run specs name the runs) is not in {empty}/helm/" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_export_of_a_file_without_public_benchmarks_says_so(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = aggregate([row("my_triage", "m", "1", 1.0)], medhelm_ids=frozenset())
    source = tmp_path / "results.json"
    results.write(source)
    assert cli.main(["export-helm", str(source), "--to", str(tmp_path / "out"), "--data-dir", str(shared_data)]) == 1
    assert "no public MedHELM benchmark" in capsys.readouterr().err
    assert cli.main(["export-helm", str(tmp_path / "absent.json"), "--to", str(tmp_path / "out")]) == 2
