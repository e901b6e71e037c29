"""Per-item results and their aggregation into benchmark, subcategory and category scores.

An item's results travel as flat ``medhelm.*`` name/value pairs in ``item.user_properties``:
JSON builtins only, so they cross xdist and land in JUnit as testcase properties. The controller
rebuilds :class:`InstanceRecord` rows from them and aggregates as MedHELM does: a benchmark's
score is the mean over its instances, or the unweighted mean of its runs' means for benchmarks
made of several HELM runs (spec 4.1). Category and subcategory means use scores normalised to
0-1 (jury scores are 1-5), as the paper's category summaries do.

Schema versions (``schema_version``; every change is additive, a reader of version 2 reads 1):

* 1 -- benchmarks, subcategories, categories, totals, instances, notes.
* 2 -- the leaderboard (``pytest_medhelm.leaderboard``): each benchmark's ``group`` (``medhelm``
  or ``custom``: user-defined benchmarks and ``medhelm_record`` scores, kept out of MedHELM's
  means and win rates), score ``interval``, ``scale`` and pairwise ``comparisons``; ``win_rates``,
  ``category_intervals``, ``subcategory_intervals``, ``custom``, ``uncertainty`` (method, level,
  resamples, seed), ``normalization``; per model ``benchmark_cost_usd``, ``jury_cost_usd``,
  ``usd_per_point``; the run's ``plugin_version``, ``command_line``, ``started``, ``finished``,
  ``shard``, ``budget`` (limit, spend, items not run), ``model_info`` (endpoint and prices; the one place a ``NAME@URL``
  model's URL is kept), ``data_files`` (sha256 per benchmark data file), ``skipped`` (benchmark ->
  reason); each instance's ``output`` and ``reference`` (patient text: this file
  only, never JUnit or the other reports).
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from statistics import fmean
from typing import Any, Literal

from pydantic import BaseModel, Field

SCHEMA_VERSION = 2
PREFIX = "medhelm."
METRIC_PREFIX = "medhelm.metric."
JURY_PROPERTY = "medhelm.jury"
SCALE_PROPERTY = "medhelm.scale"
# Item properties that the controller's reporter reads and removes before JUnit sees the report.
OUTPUT_PROPERTY = "medhelm.text.output"
REFERENCE_PROPERTY = "medhelm.text.reference"
DATA_FILES_PROPERTY = "medhelm.data_files"
NOT_RUN_PROPERTY = "medhelm.not_run"
# What a not-run item had paid before the budget refused it (its answer, when a judge was refused).
NOT_RUN_PAID_PROPERTY = "medhelm.not_run_paid_usd"
CONTROLLER_ONLY = frozenset(
    {OUTPUT_PROPERTY, REFERENCE_PROPERTY, DATA_FILES_PROPERTY, NOT_RUN_PROPERTY, NOT_RUN_PAID_PROPERTY}
)


def data_file_hashes(loaded: Any) -> dict[str, str]:
    """sha256 of each file a benchmark's instances were read from, by file name."""
    import hashlib

    hashes = {}
    for path in getattr(loaded, "source_files", ()):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        hashes[Path(path).name] = digest.hexdigest()
    return hashes


class InstanceRecord(BaseModel):
    benchmark: str
    instance_id: str
    model: str
    score: float
    metrics: dict[str, float]
    passed: bool
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    latency_s: float = 0.0
    run: str = ""
    category: str = "custom"
    subcategory: str = "custom"
    metric: str = "score"
    normalized: float = 0.0
    open_ended: bool = False
    # Whose words were sent: ``helm-0.5.16`` (read from HELM's package), ``own`` (our fallback
    # wording: not comparable to MedHELM's scores), ``user`` (a *.medhelm.yaml benchmark); "" for
    # scores recorded by the user's own tests.
    prompt_source: str = ""
    # The main metric's scale, [low, high]: [1, 5] for MedHELM's jury, [0, 1] for accuracies.
    scale: list[float] = Field(default_factory=lambda: [0.0, 1.0])
    # The LLM jury's calls for this item, counted apart from the evaluated model's.
    jury_input_tokens: int = 0
    jury_output_tokens: int = 0
    jury_cost_usd: float = 0.0
    # The jury's judgement: {scale, judged, score, score_repaired, judges: {key: {model, usable,
    # scores, explanations, error, repaired_scores, repaired_by, tokens, cost, cached, calls}}}.
    # Judge explanations may quote patient text: results.json keeps them, JUnit only with
    # --medhelm-include-text (the reporter drops the property otherwise).
    jury: dict[str, Any] | None = None
    # Patient text: kept in results.json only. It travels from a worker on the report itself
    # (plugin/report.py), never in user_properties, which JUnit writes out.
    output: str | None = None
    reference: str | None = None

    def to_properties(self) -> list[tuple[str, Any]]:
        # The fields are scalars already: read them directly (model_dump costs more, per item).
        pairs = [
            (PREFIX + name, getattr(self, name)) for name in type(self).model_fields if name not in _NOT_PROPERTIES
        ]
        pairs.append((SCALE_PROPERTY, _scale_json(*self.scale)))
        pairs += [(METRIC_PREFIX + name, value) for name, value in self.metrics.items()]
        if self.jury is not None:
            pairs.append((JURY_PROPERTY, json.dumps(self.jury, ensure_ascii=False)))
        return pairs

    @classmethod
    def from_properties(cls, properties: Iterable[tuple[str, Any]]) -> InstanceRecord | None:
        fields: dict[str, Any] = {}
        metrics: dict[str, float] = {}
        for name, value in properties:
            if name in CONTROLLER_ONLY:
                continue
            if name.startswith(METRIC_PREFIX):
                metrics[name[len(METRIC_PREFIX) :]] = float(value)
            elif name == JURY_PROPERTY:
                fields["jury"] = json.loads(value)
            elif name == SCALE_PROPERTY:
                fields["scale"] = json.loads(value)
            elif name.startswith(PREFIX):
                fields[name[len(PREFIX) :]] = value
        if "score" not in fields or "benchmark" not in fields:
            return None
        # The pairs come from to_properties of a record that was built from typed values or
        # validated (medhelm_record), through xdist's type-preserving serialisation: no need to
        # validate them again, once per item, on the controller's hot path.
        return cls.model_construct(metrics=metrics, **fields)


_NOT_PROPERTIES = frozenset({"metrics", "output", "reference", "jury", "scale"})


@functools.lru_cache(maxsize=16)
def _scale_json(*scale: float) -> str:
    # A benchmark has one scale and an item costs more to encode it than to score: encode once.
    return json.dumps(list(scale))


class ModelScore(BaseModel):
    score: float
    n: int
    normalized: float
    runs: dict[str, float] = Field(default_factory=dict)
    errors: int = 0
    interval: tuple[float, float] | None = Field(default=None, description="bootstrap interval of score")


class Comparison(BaseModel):
    """Two models on the benchmark's shared instances; difference = score(a) - score(b)."""

    a: str
    b: str
    method: str = Field(description="mcnemar_exact (0/1 scores) or paired_bootstrap")
    difference: float
    p_value: float
    significant: bool
    n: int


class BenchmarkResult(BaseModel):
    category: str
    subcategory: str
    metric: str
    scores: dict[str, ModelScore]
    prompt_source: str = Field(default="", description="helm-0.5.16 | own | user: whose prompt wording was sent")
    # The scale of ``score`` ([1, 5] for the jury); ``normalized`` is always 0-1.
    scale: list[float] = Field(default_factory=lambda: [0.0, 1.0])
    # Per model, when the jury scored this benchmark: see pytest_medhelm.jury.stats.benchmark_jury_stats.
    jury: dict[str, dict[str, Any]] | None = None
    group: Literal["medhelm", "custom"] = "medhelm"
    comparisons: list[Comparison] = Field(default_factory=list)


class WinRate(BaseModel):
    value: float | None
    interval: tuple[float, float] | None = None


class ModelInfo(BaseModel):
    """Where a model was called and at what price (a NAME@URL model's URL lives only here)."""

    provider: str = ""
    model: str = ""
    base_url: str | None = None
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None


class Uncertainty(BaseModel):
    method: str = "percentile bootstrap over instances (within runs), paired across models"
    level: float = 0.95
    resamples: int = 1000
    seed: int = 0
    alpha: float = Field(default=0.05, description="paired tests: differences with p >= alpha are not significant")


class ModelTotals(BaseModel):
    instances: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cached: int
    macro_average: float | None = Field(description="mean of the normalised MedHELM benchmark scores")
    macro_interval: tuple[float, float] | None = None
    # The LLM jury's calls, apart from the evaluated model's tokens and cost above.
    jury_input_tokens: int = 0
    jury_output_tokens: int = 0
    benchmark_cost_usd: float = 0.0
    jury_cost_usd: float = 0.0
    usd_per_point: float | None = Field(default=None, description="cost_usd / (100 x macro_average)")


RunState = Literal["complete", "interrupted", "failed", "nothing_run"]


class RunCounts(BaseModel):
    """What happened to the selected items (each item counted once, by its worst phase)."""

    selected: int = 0
    passed: int = 0
    wrong: int = Field(0, description="scored below the benchmark's pass rule")
    failed: int = Field(0, description="plain tests that failed (not scores)")
    errors: int = 0
    skipped: int = 0
    not_run: int = Field(0, description="selected but never reported (the run stopped before them)")
    gates_passed: int = 0
    gates_failed: int = 0


class GateResultRecord(BaseModel):
    """One gate of the run (``pytest_medhelm.gates``): its verdict and the numbers behind it."""

    name: str
    target: str
    model: str
    passed: bool
    message: str
    checks: list[dict[str, Any]] = Field(default_factory=list)


class ResultsFile(BaseModel):
    schema_version: Literal[1, 2] = SCHEMA_VERSION
    created: str
    # A dashboard must never show a green over stale or partial results: every run that starts
    # says how it ended. Files written before the field existed were complete runs.
    status: RunState = "complete"
    status_reason: str | None = Field(None, description="why the run is not complete")
    counts: RunCounts = Field(default_factory=RunCounts)
    gates: list[GateResultRecord] = Field(default_factory=list)
    models: list[str]
    benchmarks: dict[str, BenchmarkResult]
    subcategories: dict[str, dict[str, float]] = Field(description="subcategory -> model -> normalised mean")
    categories: dict[str, dict[str, float]] = Field(description="category -> model -> normalised mean")
    totals: dict[str, ModelTotals]
    instances: list[InstanceRecord]
    notes: list[str] = Field(default_factory=list)
    extensions: dict[str, Any] = Field(
        default_factory=dict, description="added by pytest_medhelm_results hooks, each under its own key"
    )
    # schema 2: the leaderboard
    win_rates: dict[str, dict[str, WinRate]] = Field(
        default_factory=dict, description="'overall' or a category id -> model -> mean win rate"
    )
    category_intervals: dict[str, dict[str, tuple[float, float]]] = Field(default_factory=dict)
    subcategory_intervals: dict[str, dict[str, tuple[float, float]]] = Field(default_factory=dict)
    custom: dict[str, float] = Field(
        default_factory=dict, description="model -> normalised mean of the custom benchmarks"
    )
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    normalization: str = ""
    # schema 2: the run
    plugin_version: str = ""
    command_line: list[str] = Field(default_factory=list)
    started: str | None = None
    finished: str | None = None
    shard: str | None = Field(default=None, description="I/N when the run was one shard of N")
    budget: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "budget_usd, spent_usd, stopped, not_run (items not run: budget spent), scope ('session': one "
            "budget for the whole run; 'per worker': each xdist worker stopped at an equal share)"
        ),
    )
    model_info: dict[str, ModelInfo] = Field(default_factory=dict)
    data_files: dict[str, dict[str, str]] = Field(default_factory=dict, description="benchmark -> file -> sha256")
    skipped: dict[str, str] = Field(default_factory=dict, description="benchmark -> reason")

    def write(self, path: Path) -> None:
        """Atomically: a reader sees the previous file or this one, never half of either."""
        write_atomic(path, self.model_dump_json(indent=2))

    @classmethod
    def read(cls, path: Path) -> ResultsFile:
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a uniquely named temporary file in the same folder,
    flushed to disk before it replaces ``path`` (two runs sharing an output folder never mix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _benchmark_score(records: Sequence[InstanceRecord], *, normalized: bool = False) -> tuple[float, dict[str, float]]:
    by_run: dict[str, list[float]] = defaultdict(list)
    for record in records:
        by_run[record.run].append(record.normalized if normalized else record.score)
    runs = {run: fmean(scores) for run, scores in by_run.items()}
    if len(runs) == 1:
        return next(iter(runs.values())), {}
    return fmean(runs.values()), runs


def medhelm_benchmark_ids() -> frozenset[str]:
    """The benchmarks of MedHELM's taxonomy: only these enter its category means and win rates."""
    from pytest_medhelm.taxonomy import load_taxonomy

    return frozenset(b for c in load_taxonomy().categories for s in c.subcategories for b in s.benchmarks)


def _scale(rows: Sequence[InstanceRecord]) -> tuple[float, float]:
    """The main metric's scale, read back from the rows' (score, normalized) pairs (a linear map)."""
    declared = getattr(rows[0], "scale", None)
    if declared:
        return (float(declared[0]), float(declared[1]))
    points = {(r.score, r.normalized) for r in rows}
    if all(abs(score - norm) < 1e-12 for score, norm in points):
        return (0.0, 1.0)
    (s1, n1), (s2, n2) = sorted(points)[0], sorted(points)[-1]
    if s1 == s2 or n1 == n2:
        return (0.0, 1.0)
    width = (s2 - s1) / (n2 - n1)
    return (s1 - n1 * width, s1 - n1 * width + width)


def aggregate(
    records: Sequence[InstanceRecord],
    errors: dict[tuple[str, str], int] | None = None,
    models: Sequence[str] = (),
    notes: Sequence[str] = (),
    *,
    uncertainty: Uncertainty | None = None,
    medhelm_ids: frozenset[str] | None = None,
    **run: Any,
) -> ResultsFile:
    """Benchmark, subcategory and category scores per model from the instance rows, with the
    leaderboard's win rates, intervals, paired tests and costs; ``run`` sets the run's metadata
    fields (command_line, started, model_info, ...)."""
    errors = errors or {}
    medhelm_ids = medhelm_benchmark_ids() if medhelm_ids is None else medhelm_ids
    grouped: dict[str, dict[str, list[InstanceRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        grouped[record.benchmark][record.model].append(record)
    all_models = list(dict.fromkeys([*models, *(r.model for r in records)]))

    benchmarks: dict[str, BenchmarkResult] = {}
    sub_scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    cat_scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    model_scores: dict[str, list[float]] = defaultdict(list)
    custom_scores: dict[str, list[float]] = defaultdict(list)
    for benchmark_id in sorted(grouped):
        per_model = grouped[benchmark_id]
        first = next(iter(per_model.values()))[0]
        group = "medhelm" if benchmark_id in medhelm_ids and first.category != "custom" else "custom"
        scores: dict[str, ModelScore] = {}
        for model in [m for m in all_models if m in per_model]:
            rows = per_model[model]
            score, runs = _benchmark_score(rows)
            normalized, _ = _benchmark_score(rows, normalized=True)
            scores[model] = ModelScore(
                score=score, n=len(rows), normalized=normalized, runs=runs, errors=errors.get((benchmark_id, model), 0)
            )
            if group == "custom":
                custom_scores[model].append(normalized)
                continue
            sub_scores[first.subcategory][model].append(normalized)
            cat_scores[first.category][model].append(normalized)
            model_scores[model].append(normalized)
        judged = {model: rows for model, rows in per_model.items() if any(r.jury is not None for r in rows)}
        jury = None
        if judged:
            from pytest_medhelm.jury.stats import benchmark_jury_stats

            jury = {model: benchmark_jury_stats(rows) for model, rows in judged.items()}
        sources = sorted({r.prompt_source for rows in per_model.values() for r in rows})
        benchmarks[benchmark_id] = BenchmarkResult(
            category=first.category,
            subcategory=first.subcategory,
            metric=first.metric,
            scores=scores,
            group=group,
            prompt_source=" + ".join(s for s in sources if s),
            scale=list(first.scale or [0.0, 1.0]),
            jury=jury,
        )

    totals = {}
    for model in all_models:
        rows = [r for r in records if r.model == model]
        benchmark_cost = sum(r.cost_usd for r in rows)
        jury_cost = sum(getattr(r, "jury_cost_usd", 0.0) or 0.0 for r in rows)
        macro = fmean(model_scores[model]) if model_scores.get(model) else None
        totals[model] = ModelTotals(
            instances=len(rows),
            errors=sum(n for (_, m), n in errors.items() if m == model),
            input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows),
            cost_usd=round(benchmark_cost + jury_cost, 6),
            cached=sum(r.cached for r in rows),
            macro_average=macro,
            jury_input_tokens=sum(r.jury_input_tokens for r in rows),
            jury_output_tokens=sum(r.jury_output_tokens for r in rows),
            benchmark_cost_usd=round(benchmark_cost, 6),
            jury_cost_usd=round(jury_cost, 6),
            usd_per_point=(round((benchmark_cost + jury_cost) / (100 * macro), 6) if macro else None),
        )

    def means(table: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
        return {
            group: {model: fmean(values) for model, values in per_model.items()} for group, per_model in table.items()
        }

    own = sorted(b for b, result in benchmarks.items() if "own" in result.prompt_source.split(" + "))
    if own:
        notes = [
            *notes,
            f"HELM's package (crfm-helm wheel) not found: {len(own)} benchmark(s) asked in our own "
            f"wording, not MedHELM's ({', '.join(own)}); their scores are not comparable to MedHELM's. "
            f"Put the wheel in DIR/helm/ of --medhelm-data-dir or run `medhelm download`",
        ]
    results = ResultsFile(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        models=all_models,
        benchmarks=benchmarks,
        subcategories=means(sub_scores),
        categories=means(cat_scores),
        totals=totals,
        instances=sorted(records, key=lambda r: (r.benchmark, r.model, r.run, r.instance_id)),
        notes=list(notes),
        custom={model: fmean(values) for model, values in custom_scores.items()},
        uncertainty=uncertainty or Uncertainty(),
        **run,
    )
    from pytest_medhelm.leaderboard.build import add_leaderboard

    return add_leaderboard(results)
