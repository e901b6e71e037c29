"""From a run's cells to the leaderboard: intervals, paired tests and win rates.

Every benchmark is bootstrapped once: its instances (rows, in a canonical order so that merged
shards give the same numbers as one run) x models (columns) are resampled together, within each
run, with a seed derived from the benchmark id. The replicates give each cell its interval, and,
stacked over benchmarks, the intervals of category means and of mean win rates. Custom benchmarks
get their own intervals and tests but never enter MedHELM's means or win rates.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from pytest_medhelm.leaderboard.stats import bootstrap_replicates, derive_seed, paired_test, percentile_interval
from pytest_medhelm.leaderboard.winrate import mean_win_rates, mean_win_rates_array

if TYPE_CHECKING:
    from pytest_medhelm.results import InstanceRecord, ResultsFile

OVERALL = "overall"
NORMALIZATION = (
    "category and subcategory means, the macro average and the heatmap use scores normalised to "
    "0-1: (score - low) / (high - low) on the benchmark's scale, so accuracies (0-1) are unchanged "
    "and 1-5 jury scores become (score - 1) / 4; win rates are rank-based and do not depend on it"
)


def _matrix(rows: list[InstanceRecord], models: list[str]) -> tuple[np.ndarray, list[str]]:
    """instances x models (NaN where a model has no score), rows sorted by (run, instance id)."""
    keys = sorted({(r.run, r.instance_id) for r in rows})
    index = {key: i for i, key in enumerate(keys)}
    column = {model: j for j, model in enumerate(models)}
    matrix = np.full((len(keys), len(models)), np.nan)
    for r in rows:
        matrix[index[(r.run, r.instance_id)], column[r.model]] = r.score
    return matrix, [run for run, _ in keys]


def _interval(replicates: np.ndarray, level: float) -> tuple[float, float] | None:
    interval = percentile_interval(replicates, level)
    return None if np.isnan(interval.low) else (interval.low, interval.high)


def add_leaderboard(results: ResultsFile) -> ResultsFile:
    from pytest_medhelm.results import Comparison, WinRate

    settings = results.uncertainty
    by_benchmark: dict[str, list[InstanceRecord]] = defaultdict(list)
    for record in results.instances:
        by_benchmark[record.benchmark].append(record)

    normalized_replicates: dict[str, np.ndarray] = {}  # benchmark -> resamples x models (all models)
    models = results.models
    for benchmark_id, result in results.benchmarks.items():
        rows = by_benchmark[benchmark_id]
        present = [m for m in models if m in result.scores]
        seed = derive_seed(settings.seed, benchmark_id)
        scores, runs = _matrix(rows, present)
        run_labels = runs if len(set(runs)) > 1 else None
        score_reps = bootstrap_replicates(scores, run_labels, resamples=settings.resamples, seed=seed)
        low, high = result.scale  # normalisation is linear: the same draws, rescaled
        norm_reps = (score_reps - low) / (high - low)
        full = np.full((settings.resamples, len(models)), np.nan)
        for j, model in enumerate(present):
            result.scores[model].interval = _interval(score_reps[:, j], settings.level)
            full[:, models.index(model)] = norm_reps[:, j]
        normalized_replicates[benchmark_id] = full
        result.comparisons = []
        for (i, a), (j, b) in combinations(enumerate(present), 2):
            shared = ~np.isnan(scores[:, i]) & ~np.isnan(scores[:, j])
            if not shared.any():
                continue
            labels = [run for run, keep in zip(runs, shared) if keep] if run_labels else None
            test = paired_test(
                scores[shared, i],
                scores[shared, j],
                labels,
                resamples=settings.resamples,
                seed=derive_seed(settings.seed, benchmark_id, a, b),
            )
            result.comparisons.append(
                Comparison(
                    a=a,
                    b=b,
                    method=test.method,
                    difference=test.difference,
                    p_value=test.p_value,
                    significant=test.significant(settings.alpha),
                    n=test.n,
                )
            )

    medhelm = {b: r for b, r in results.benchmarks.items() if r.group == "medhelm"}
    groups: dict[str, list[str]] = {OVERALL: sorted(medhelm)}
    for benchmark_id, result in sorted(medhelm.items()):
        groups.setdefault(result.category, []).append(benchmark_id)
    results.win_rates = {}
    for group, benchmark_ids in groups.items():
        table = {b: {m: s.normalized for m, s in medhelm[b].scores.items()} for b in benchmark_ids}
        point = mean_win_rates(table, models)
        cells = np.stack([normalized_replicates[b] for b in benchmark_ids], axis=1) if benchmark_ids else None
        reps = mean_win_rates_array(cells) if cells is not None else None
        results.win_rates[group] = {
            m: WinRate(
                value=point[m],
                interval=(_interval(reps[:, j], settings.level) if reps is not None and point[m] is not None else None),
            )
            for j, m in enumerate(models)
        }

    def mean_intervals(key: str) -> dict[str, dict[str, tuple[float, float]]]:
        members: dict[str, list[str]] = defaultdict(list)
        for benchmark_id, result in medhelm.items():
            members[getattr(result, key)].append(benchmark_id)
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for name, benchmark_ids in members.items():
            stacked = np.stack([normalized_replicates[b] for b in benchmark_ids], axis=1)
            with warnings.catch_warnings():  # a model without any benchmark here: all-NaN, no mean
                warnings.simplefilter("ignore", RuntimeWarning)
                means = np.nanmean(stacked, axis=1)  # resamples x models
            out[name] = {m: iv for j, m in enumerate(models) if (iv := _interval(means[:, j], settings.level))}
        return out

    if medhelm:
        stacked = np.stack([normalized_replicates[b] for b in medhelm], axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            macro = np.nanmean(stacked, axis=1)
        for j, model in enumerate(models):
            if model in results.totals and results.totals[model].macro_average is not None:
                results.totals[model].macro_interval = _interval(macro[:, j], settings.level)
    results.category_intervals = mean_intervals("category")
    results.subcategory_intervals = mean_intervals("subcategory")
    results.normalization = NORMALIZATION
    return results
