"""Per-item results and their aggregation into benchmark, subcategory and category scores.

An item's results travel as flat ``medhelm.*`` name/value pairs in ``item.user_properties``:
JSON builtins only, so they cross xdist and land in JUnit as testcase properties. The controller
rebuilds :class:`InstanceRecord` rows from them and aggregates as MedHELM does: a benchmark's
score is the mean over its instances, or the unweighted mean of its runs' means for benchmarks
made of several HELM runs (spec 4.1). Category and subcategory means use scores normalised to
0-1 (jury scores are 1-5), as the paper's category summaries do.
"""

from __future__ import annotations

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

SCHEMA_VERSION = 1
PREFIX = "medhelm."
METRIC_PREFIX = "medhelm.metric."
JURY_PROPERTY = "medhelm.jury"
SCALE_PROPERTY = "medhelm.scale"


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

    def to_properties(self) -> list[tuple[str, Any]]:
        # The fields are scalars already: read them directly (model_dump costs more, per item).
        pairs = [(PREFIX + name, getattr(self, name)) for name in type(self).model_fields
                 if name not in ("metrics", "jury", "scale")]
        pairs.append((SCALE_PROPERTY, json.dumps(list(self.scale))))
        pairs += [(METRIC_PREFIX + name, value) for name, value in self.metrics.items()]
        if self.jury is not None:
            pairs.append((JURY_PROPERTY, json.dumps(self.jury, ensure_ascii=False)))
        return pairs

    @classmethod
    def from_properties(cls, properties: Iterable[tuple[str, Any]]) -> InstanceRecord | None:
        fields: dict[str, Any] = {}
        metrics: dict[str, float] = {}
        for name, value in properties:
            if name.startswith(METRIC_PREFIX):
                metrics[name[len(METRIC_PREFIX):]] = float(value)
            elif name == JURY_PROPERTY:
                fields["jury"] = json.loads(value)
            elif name == SCALE_PROPERTY:
                fields["scale"] = json.loads(value)
            elif name.startswith(PREFIX):
                fields[name[len(PREFIX):]] = value
        if "score" not in fields or "benchmark" not in fields:
            return None
        # The pairs come from to_properties of a record that was built from typed values or
        # validated (medhelm_record), through xdist's type-preserving serialisation: no need to
        # validate them again, once per item, on the controller's hot path.
        return cls.model_construct(metrics=metrics, **fields)


class ModelScore(BaseModel):
    score: float
    n: int
    normalized: float
    runs: dict[str, float] = Field(default_factory=dict)
    errors: int = 0


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


class ModelTotals(BaseModel):
    instances: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cached: int
    macro_average: float | None = Field(description="mean of the normalised benchmark scores")
    # The LLM jury's calls, apart from the evaluated model's tokens and cost above.
    jury_input_tokens: int = 0
    jury_output_tokens: int = 0
    jury_cost_usd: float = 0.0


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
    schema_version: Literal[1] = SCHEMA_VERSION
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
        default_factory=dict, description="added by pytest_medhelm_results hooks, each under its own key")

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


def aggregate(records: Sequence[InstanceRecord], errors: dict[tuple[str, str], int] | None = None,
              models: Sequence[str] = (), notes: Sequence[str] = ()) -> ResultsFile:
    """Benchmark, subcategory and category scores per model from the instance rows."""
    errors = errors or {}
    grouped: dict[str, dict[str, list[InstanceRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        grouped[record.benchmark][record.model].append(record)
    all_models = list(dict.fromkeys([*models, *(r.model for r in records)]))

    benchmarks: dict[str, BenchmarkResult] = {}
    sub_scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    cat_scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    model_scores: dict[str, list[float]] = defaultdict(list)
    for benchmark_id in sorted(grouped):
        per_model = grouped[benchmark_id]
        first = next(iter(per_model.values()))[0]
        scores: dict[str, ModelScore] = {}
        for model, rows in per_model.items():
            score, runs = _benchmark_score(rows)
            normalized, _ = _benchmark_score(rows, normalized=True)
            scores[model] = ModelScore(score=score, n=len(rows), normalized=normalized, runs=runs,
                                       errors=errors.get((benchmark_id, model), 0))
            sub_scores[first.subcategory][model].append(normalized)
            cat_scores[first.category][model].append(normalized)
            model_scores[model].append(normalized)
        judged = {model: rows for model, rows in per_model.items() if any(r.jury is not None for r in rows)}
        jury = None
        if judged:
            from pytest_medhelm.jury.stats import benchmark_jury_stats

            jury = {model: benchmark_jury_stats(rows) for model, rows in judged.items()}
        sources = sorted({r.prompt_source for rows in per_model.values() for r in rows})
        benchmarks[benchmark_id] = BenchmarkResult(category=first.category, subcategory=first.subcategory,
                                                   metric=first.metric, scores=scores,
                                                   prompt_source=" + ".join(s for s in sources if s),
                                                   scale=list(first.scale or [0.0, 1.0]), jury=jury)

    totals = {}
    for model in all_models:
        rows = [r for r in records if r.model == model]
        totals[model] = ModelTotals(
            instances=len(rows),
            errors=sum(n for (_, m), n in errors.items() if m == model),
            input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows),
            cost_usd=round(sum(r.cost_usd for r in rows), 6),
            cached=sum(r.cached for r in rows),
            macro_average=fmean(model_scores[model]) if model_scores.get(model) else None,
            jury_input_tokens=sum(r.jury_input_tokens for r in rows),
            jury_output_tokens=sum(r.jury_output_tokens for r in rows),
            jury_cost_usd=round(sum(r.jury_cost_usd for r in rows), 6),
        )

    def means(table: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
        return {group: {model: fmean(values) for model, values in per_model.items()}
                for group, per_model in table.items()}

    own = sorted(b for b, result in benchmarks.items() if "own" in result.prompt_source.split(" + "))
    if own:
        notes = [*notes, f"HELM's package (crfm-helm wheel) not found: {len(own)} benchmark(s) asked in our own "
                         f"wording, not MedHELM's ({', '.join(own)}); their scores are not comparable to MedHELM's. "
                         f"Put the wheel in DIR/helm/ of --medhelm-data-dir or run `medhelm download`"]
    return ResultsFile(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        models=all_models,
        benchmarks=benchmarks,
        subcategories=means(sub_scores),
        categories=means(cat_scores),
        totals=totals,
        instances=sorted(records, key=lambda r: (r.benchmark, r.model, r.instance_id)),
        notes=list(notes),
    )
