"""``medhelm export-helm``: per-run ``stats.json`` and ``per_instance_stats.json`` in HELM's layout.

HELM writes one directory per run under ``benchmark_output/runs/<suite>/<run name>/``; its
summarizer reads ``run_spec.json`` and ``stats.json`` there (``presentation/summarize.py``), its
display code ``per_instance_stats.json``. Each file holds HELM's ``Stat`` records: a metric name
with its split, and count, sum, sum of squares, min, max, mean, (population) variance and
standard deviation. As in HELM, a run's ``stats.json`` holds each metric's mean over the run's
instances as a stat of count 1 (spec 4.1), and ``per_instance_stats.json`` one stat of count 1
per instance, metric and train trial 0. Only MedHELM's public benchmarks are exported, so that
the results can sit beside the public MedHELM leaderboard.

Run names are HELM's own: the name MedHELM's run-spec function gives its ``RunSpec`` (read from
HELM's package, ``medhelm_run_specs.py``: ``pubmed_qa``, ``med_qa``, ``med_dialog,subset=icliniq``),
then the model as HELM's model run expander adds it (``pubmed_qa:model=openai_gpt-4o``; see
:func:`pytest_medhelm.helm.runspecs.model_run_name`). The minimal ``run_spec.json`` written beside
them (name, model, groups) is what HELM's summarizer needs to read the run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_medhelm.helm import HelmPackage
    from pytest_medhelm.results import InstanceRecord, ResultsFile

SPLIT = "test"


def stat(metric: str, values: Iterable[float]) -> dict[str, Any]:
    values = list(values)
    count = len(values)
    total = sum(values)
    squares = sum(v * v for v in values)
    mean = total / count
    variance = max(0.0, squares / count - mean * mean)
    return {
        "name": {"name": metric, "split": SPLIT},
        "count": count,
        "sum": total,
        "sum_squared": squares,
        "min": min(values),
        "max": max(values),
        "mean": mean,
        "variance": variance,
        "stddev": variance**0.5,
    }


def run_name(package: HelmPackage, run_spec: str, run: str, model: str) -> str:
    """HELM's directory name for one run of a benchmark on a model."""
    from pytest_medhelm.helm.runspecs import model_run_name, run_entry_name

    return model_run_name(run_entry_name(package, run_spec, run), model)


def public_benchmarks() -> dict[str, str]:
    """MedHELM's public benchmarks: id -> HELM's run-spec key."""
    from pytest_medhelm.suites import load_benchmark, suite_files

    public = {}
    for path in suite_files():
        try:
            benchmark = load_benchmark(path)
        except Exception:  # noqa: BLE001, S112  (a broken module is reported by `medhelm benchmarks`)
            continue
        if benchmark.access == "public" and benchmark.helm_prompt:
            public[benchmark.id] = benchmark.helm_prompt
    return public


def export(
    results: ResultsFile, suite_dir: Path, package: HelmPackage, *, benchmarks: dict[str, str] | None = None
) -> list[Path]:
    """Write one HELM run directory per (benchmark, run, model); returns the directories.
    ``benchmarks``: the benchmarks to export (id -> HELM run-spec key), MedHELM's public ones by default."""
    allowed = public_benchmarks() if benchmarks is None else benchmarks
    runs: dict[tuple[str, str, str], list[InstanceRecord]] = defaultdict(list)
    for record in results.instances:
        if (
            record.benchmark in allowed
            and results.benchmarks.get(record.benchmark) is not None
            and results.benchmarks[record.benchmark].group == "medhelm"
        ):
            runs[(record.benchmark, record.run, record.model)].append(record)
    written = []
    for (benchmark, run, model), rows in sorted(runs.items()):
        rows = sorted(rows, key=lambda r: r.instance_id)
        name = run_name(package, allowed[benchmark], run, model)
        directory = suite_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        metrics = list(dict.fromkeys(name for r in rows for name in r.metrics))
        run_stats = [stat(m, [fmean([r.metrics[m] for r in rows if m in r.metrics])]) for m in metrics]
        per_instance = [
            {
                "instance_id": r.instance_id,
                "train_trial_index": 0,
                "stats": [stat(m, [v]) for m, v in r.metrics.items()],
            }
            for r in rows
        ]
        info = results.model_info.get(model)
        run_spec = {
            "name": name,
            "scenario_spec": {"class_name": f"pytest_medhelm.suites.{benchmark}", "args": {}},
            "adapter_spec": {"model": info.model if info and info.model else model, "model_deployment": model},
            "metric_specs": [],
            "groups": [benchmark],
        }
        for name, data in (
            ("stats.json", run_stats),
            ("per_instance_stats.json", per_instance),
            ("run_spec.json", run_spec),
        ):
            (directory / name).write_text(json.dumps(data, indent=2), encoding="utf-8")
        written.append(directory)
    return written


def fmean(values: list[float]) -> float:
    return sum(values) / len(values)
