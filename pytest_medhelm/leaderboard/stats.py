"""Uncertainty of leaderboard numbers: bootstrap intervals and paired tests between models.

A small, reusable API over plain sequences of per-instance scores (no pytest, no results files):

* :func:`bootstrap_ci` -- percentile interval of a benchmark score, resampling instances (within
  each run for benchmarks made of several runs, whose score is the mean of the run means);
* :func:`bootstrap_replicates` -- the replicate scores themselves, for statistics built on several
  benchmarks at once (category means, win rates) that must resample every benchmark together;
* :func:`paired_bootstrap` -- two models on the same instances: interval and two-sided p-value of
  the difference of their scores;
* :func:`mcnemar_exact` -- the same question for 0/1 scores, answered exactly from the discordant
  pairs (the exact binomial test);
* :func:`paired_test` -- picks one of the two, as the leaderboard does.

Everything is seeded: the same inputs and seed give the same numbers on any machine. A caller
that bootstraps many benchmarks derives one seed per benchmark with :func:`derive_seed`, so that
adding a benchmark to a run leaves the other benchmarks' intervals unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_LEVEL = 0.95
DEFAULT_SEED = 0
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float = DEFAULT_LEVEL

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class PairedTest:
    """Model A against model B on the same instances: ``difference`` is score(A) - score(B)."""

    method: str  # "mcnemar_exact" or "paired_bootstrap"
    difference: float
    p_value: float
    n: int
    interval: Interval | None = None  # of the difference (paired bootstrap only)
    discordant: tuple[int, int] | None = None  # (A right & B wrong, A wrong & B right) (McNemar only)

    def significant(self, alpha: float = DEFAULT_ALPHA) -> bool:
        return self.p_value < alpha


def derive_seed(seed: int, *parts: str) -> int:
    """A stable seed for one sub-problem (e.g. one benchmark), independent of Python's hash salt."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _groups(scores: Sequence[float], runs: Sequence[str] | None) -> list[np.ndarray]:
    """Indices of the instances of each run (one group when there are no runs), in run order."""
    if runs is None:
        return [np.arange(len(scores))]
    if len(runs) != len(scores):
        raise ValueError(f"{len(runs)} run labels for {len(scores)} scores")
    labels = np.asarray(runs, dtype=object)
    return [np.flatnonzero(labels == run) for run in dict.fromkeys(runs)]


def _resample_counts(size: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """resamples x size: how often each instance is drawn in each resample (drawing ``size`` with
    replacement is a multinomial draw of the counts; the replicate means are then one matrix product)."""
    drawn = rng.integers(0, size, size=(resamples, size)) + (np.arange(resamples) * size)[:, None]
    return np.bincount(drawn.ravel(), minlength=resamples * size).reshape(resamples, size).astype(float)


def score_of(scores: Sequence[float], runs: Sequence[str] | None = None) -> float:
    """A benchmark's score as MedHELM computes it: the mean, or the unweighted mean of run means."""
    values = np.asarray(scores, dtype=float)
    return float(np.mean([values[g].mean() for g in _groups(values, runs)]))


def bootstrap_replicates(
    matrix: np.ndarray,
    runs: Sequence[str] | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> np.ndarray:
    """Bootstrap replicates of the scores of several models on shared instances.

    ``matrix`` is instances x models (NaN where a model has no score for an instance, e.g. an
    error). Instances are resampled (within each run), the SAME draws for every model, so the
    replicates keep the pairing between models. Returns resamples x models: each row the
    benchmark score of every model (mean of run means, ignoring NaN); NaN where a model had no
    score in a resample.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    rng = np.random.default_rng(seed)
    present = ~np.isnan(matrix)
    values = np.where(present, matrix, 0.0)
    run_means = []
    for group in _groups(matrix[:, 0], runs):
        counts = _resample_counts(len(group), resamples, rng)
        sums, drawn = counts @ values[group], counts @ present[group]
        with np.errstate(invalid="ignore", divide="ignore"):
            run_means.append(np.where(drawn > 0, sums / np.maximum(drawn, 1), np.nan))
    return np.mean(run_means, axis=0)


def percentile_interval(replicates: np.ndarray, level: float = DEFAULT_LEVEL) -> Interval:
    values = np.asarray(replicates, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return Interval(float("nan"), float("nan"), level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Interval(float(low), float(high), level)


def bootstrap_ci(
    scores: Sequence[float],
    runs: Sequence[str] | None = None,
    *,
    level: float = DEFAULT_LEVEL,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap interval of a benchmark score (mean, or mean of run means)."""
    if len(scores) == 0:
        raise ValueError("no scores to bootstrap")
    replicates = bootstrap_replicates(np.asarray(scores, dtype=float), runs, resamples=resamples, seed=seed)
    return percentile_interval(replicates[:, 0], level)


def mcnemar_exact(a: Sequence[float], b: Sequence[float], runs: Sequence[str] | None = None) -> PairedTest:
    """McNemar's exact test for two models' 0/1 scores on the same instances.

    Only the discordant pairs carry information: under the null hypothesis (equal accuracy) each
    is equally likely to favour either model, so the count favouring A is Binomial(b + c, 1/2).
    The p-value is the exact two-sided binomial test's; with no discordant pair it is 1.
    ``runs`` only shapes the reported difference (mean of run means); the test pools the runs.
    """
    left, right = _paired_arrays(a, b)
    if not np.isin(left, (0.0, 1.0)).all() or not np.isin(right, (0.0, 1.0)).all():
        raise ValueError("McNemar's test needs 0/1 scores")
    a_only = int(np.sum((left == 1) & (right == 0)))
    b_only = int(np.sum((left == 0) & (right == 1)))
    if a_only + b_only == 0:
        p_value = 1.0
    else:
        # Binomial(n, 1/2) is symmetric: the exact two-sided p-value is twice the smaller tail
        # (scipy's binomtest gives the same; scipy.special spares importing scipy.stats).
        from scipy.special import bdtr

        p_value = 2 * float(bdtr(min(a_only, b_only), a_only + b_only, 0.5))
    return PairedTest(
        "mcnemar_exact", score_of(left - right, runs), min(1.0, p_value), len(left), discordant=(a_only, b_only)
    )


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    runs: Sequence[str] | None = None,
    *,
    level: float = DEFAULT_LEVEL,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedTest:
    """Paired bootstrap of score(A) - score(B) on the same instances.

    The p-value is two-sided, from the replicates centred on the observed difference (the
    bootstrap's picture of the null distribution): the share of |d* - d| at least |d|, with the
    usual +1 correction so it is never 0.
    """
    left, right = _paired_arrays(a, b)
    differences = left - right
    observed = score_of(differences, runs)
    replicates = bootstrap_replicates(differences, runs, resamples=resamples, seed=seed)[:, 0]
    extreme = int(np.sum(np.abs(replicates - observed) >= abs(observed) - 1e-12))
    p_value = (extreme + 1) / (resamples + 1)
    if np.allclose(differences, differences[0]):  # no variation: a constant difference
        p_value = 1.0 if observed == 0 else 0.0
    return PairedTest(
        "paired_bootstrap", observed, float(p_value), len(left), interval=percentile_interval(replicates, level)
    )


def paired_test(
    a: Sequence[float],
    b: Sequence[float],
    runs: Sequence[str] | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedTest:
    """McNemar's exact test when both models' scores are all 0 or 1, else the paired bootstrap."""
    left, right = _paired_arrays(a, b)
    if np.isin(left, (0.0, 1.0)).all() and np.isin(right, (0.0, 1.0)).all():
        return mcnemar_exact(left, right, runs)
    return paired_bootstrap(left, right, runs, resamples=resamples, seed=seed)


def _paired_arrays(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    left, right = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if left.shape != right.shape or left.ndim != 1:
        raise ValueError(f"paired scores must be two sequences of one length, got {left.shape} and {right.shape}")
    if left.size == 0:
        raise ValueError("no paired scores")
    return left, right
