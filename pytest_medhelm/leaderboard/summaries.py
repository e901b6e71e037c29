"""``medhelm leaderboard`` over ``medhelm-summary.xml`` files: the leaderboard from the cells alone.

A summary holds one test case per (benchmark, model) with the cell's score, normalised score,
interval, n and place in the taxonomy (``junit.write_summary``), not the instances. From the cells
the leaderboard's point values are exactly a session's: category and subcategory means, the macro
average and the mean win rates (all computed from the normalised cells, as ``results.aggregate``
and ``build.add_leaderboard`` do). What needs the instances is not recomputed, and the result says
so: the benchmark intervals are the ones the runs recorded; the paired tests and the intervals of
means and win rates are left out; tokens and costs are not in a summary.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from junitparser import TestCase

    from pytest_medhelm.results import ModelScore, ResultsFile


# results.json's uncertainty.method for a leaderboard rebuilt from summaries (the reports say so).
FROM_SUMMARIES = "as recorded in medhelm-summary.xml (benchmark intervals only; no instances)"


@dataclass(frozen=True)
class SummaryCell:
    benchmark: str
    model: str
    group: str
    category: str
    subcategory: str
    metric: str
    scale: tuple[float, float]
    score: ModelScore
    level: float | None


def cell_of(case: TestCase, properties: dict[str, str], path: Path) -> SummaryCell:
    """One summary test case as a cell; a missing or unreadable property names the file and case."""
    from pytest_medhelm.leaderboard.junit import JUnitReadError
    from pytest_medhelm.results import ModelScore

    def value(name: str, kind: Any = str) -> Any:
        if name not in properties:
            raise JUnitReadError(f"{path}: test case {case.name!r}: no property {name!r}")
        try:
            return kind(properties[name])
        except ValueError:
            raise JUnitReadError(
                f"{path}: test case {case.name!r}: property {name!r} is {properties[name]!r}, not a number"
            ) from None

    interval = None
    if "ci_low" in properties or "ci_high" in properties:
        interval = (value("ci_low", float), value("ci_high", float))
    return SummaryCell(
        benchmark=value("benchmark"),
        model=value("model"),
        group=value("group"),
        category=value("category"),
        subcategory=value("subcategory"),
        metric=value("metric"),
        scale=(value("scale_low", float), value("scale_high", float)),
        score=ModelScore(
            score=value("score", float),
            n=value("n", int),
            normalized=value("normalized", float),
            errors=int(properties.get("errors", "0")),
            interval=interval,
        ),
        level=float(properties["ci_level"]) if "ci_level" in properties else None,
    )


def merge_summaries(
    cells_by_file: dict[Path, list[SummaryCell]], *, command_line: list[str] | None = None
) -> tuple[ResultsFile, list[str]]:
    """The leaderboard of the pooled cells, and the mismatches found (MergeError: a cell two ways)."""
    from datetime import datetime, timezone

    from pytest_medhelm import __version__
    from pytest_medhelm.leaderboard.build import NORMALIZATION, OVERALL
    from pytest_medhelm.leaderboard.merge import MergeError
    from pytest_medhelm.leaderboard.winrate import mean_win_rates
    from pytest_medhelm.results import BenchmarkResult, ModelTotals, ResultsFile, Uncertainty, WinRate

    cells: dict[tuple[str, str], SummaryCell] = {}
    origin: dict[tuple[str, str], Path] = {}
    models: list[str] = []
    levels: set[float] = set()
    for path, found in cells_by_file.items():
        for cell in found:
            key = (cell.benchmark, cell.model)
            known = cells.get(key)
            if known is not None and (known.score.score, known.score.n) != (cell.score.score, cell.score.n):
                raise MergeError(
                    f"{cell.benchmark} on {cell.model} scores {known.score.score:g} (n {known.score.n}) in "
                    f"{origin[key]} and {cell.score.score:g} (n {cell.score.n}) in {path}: these are not the same run"
                )
            if known is None:
                cells[key], origin[key] = cell, path
            if cell.model not in models:
                models.append(cell.model)
            if cell.level is not None:
                levels.add(cell.level)

    benchmarks: dict[str, BenchmarkResult] = {}
    for benchmark_id, model in sorted(cells, key=lambda key: (key[0], models.index(key[1]))):
        cell = cells[(benchmark_id, model)]
        result = benchmarks.setdefault(
            benchmark_id,
            BenchmarkResult(
                category=cell.category,
                subcategory=cell.subcategory,
                metric=cell.metric,
                scores={},
                group="custom" if cell.group == "custom" else "medhelm",
                scale=list(cell.scale),
            ),
        )
        result.scores[model] = cell.score.model_copy()

    sub_scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    cat_scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    model_scores: dict[str, list[float]] = defaultdict(list)
    custom_scores: dict[str, list[float]] = defaultdict(list)
    for result in benchmarks.values():
        for model, score in result.scores.items():
            if result.group == "custom":
                custom_scores[model].append(score.normalized)
                continue
            sub_scores[result.subcategory][model].append(score.normalized)
            cat_scores[result.category][model].append(score.normalized)
            model_scores[model].append(score.normalized)

    def means(table: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
        return {group: {m: fmean(values) for m, values in per_model.items()} for group, per_model in table.items()}

    totals = {}
    for model in models:
        own = [result.scores[model] for result in benchmarks.values() if model in result.scores]
        macro = fmean(model_scores[model]) if model_scores.get(model) else None
        totals[model] = ModelTotals(
            instances=sum(score.n for score in own),
            errors=sum(score.errors for score in own),
            input_tokens=0,
            output_tokens=0,
            cost_usd=0.0,
            cached=0,
            macro_average=macro,
        )

    medhelm = {b: r for b, r in benchmarks.items() if r.group == "medhelm"}
    groups: dict[str, list[str]] = {OVERALL: sorted(medhelm)}
    for benchmark_id, result in sorted(medhelm.items()):
        groups.setdefault(result.category, []).append(benchmark_id)
    win_rates = {}
    for group, benchmark_ids in groups.items():
        table = {b: {m: s.normalized for m, s in medhelm[b].scores.items()} for b in benchmark_ids}
        point = mean_win_rates(table, models)
        win_rates[group] = {m: WinRate(value=point[m]) for m in models}

    mismatches = []
    for benchmark_id, result in benchmarks.items():
        sizes = {model: score.n for model, score in result.scores.items()}
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{model} {n}" for model, n in sizes.items())
            mismatches.append(f"{benchmark_id}: the models were run on different numbers of instances ({listed})")
    if len(levels) > 1:
        mismatches.append(f"the summaries' intervals are at different levels ({', '.join(map(str, sorted(levels)))})")
    paths = list(cells_by_file)
    notes = [
        f"rebuilt from {len(paths)} medhelm-summary.xml file(s): {', '.join(str(p) for p in paths)}",
        "a summary holds each benchmark's score, interval and n, not the instances: the benchmark "
        "intervals are the ones the runs recorded; paired tests, intervals of means and win rates, "
        "tokens and costs cannot be computed from it",
        *(f"mismatch: {problem}" for problem in mismatches),
    ]
    results = ResultsFile(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        models=models,
        benchmarks=benchmarks,
        subcategories=means(sub_scores),
        categories=means(cat_scores),
        totals=totals,
        instances=[],
        notes=notes,
        custom={model: fmean(values) for model, values in custom_scores.items()},
        uncertainty=Uncertainty(
            method=FROM_SUMMARIES,
            level=levels.pop() if len(levels) == 1 else Uncertainty().level,
        ),
        plugin_version=__version__,
        command_line=command_line or [],
        win_rates=win_rates,
        normalization=NORMALIZATION,
    )
    return results, mismatches
