"""Bootstrap intervals and paired tests (pytest_medhelm.leaderboard.stats) on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from pytest_medhelm.leaderboard.stats import (
    bootstrap_ci,
    bootstrap_replicates,
    derive_seed,
    mcnemar_exact,
    paired_bootstrap,
    paired_test,
    score_of,
)


def test_bootstrap_interval_is_reproducible_by_seed_and_changes_with_it() -> None:
    scores = np.random.default_rng(7).random(80)
    first = bootstrap_ci(scores, seed=3)
    assert bootstrap_ci(scores, seed=3) == first
    assert bootstrap_ci(scores, seed=4) != first
    assert first.low < float(np.mean(scores)) < first.high


def test_bootstrap_interval_covers_the_true_mean_at_about_the_nominal_rate() -> None:
    # 400 samples of 60 Bernoulli(0.7) scores: a 95% interval should hold 0.7 about 95% of the time
    # (the percentile bootstrap runs a little narrow at this size: 0.90-0.99 is the honest band).
    rng = np.random.default_rng(2026)
    trials, covered = 400, 0
    for trial in range(trials):
        sample = (rng.random(60) < 0.7).astype(float)
        covered += 0.7 in bootstrap_ci(sample, resamples=1000, seed=trial)
    assert 0.90 <= covered / trials <= 0.99, covered / trials


def test_bootstrap_of_a_multi_run_benchmark_resamples_within_runs() -> None:
    # Run "a" always scores 1 and run "b" always 0: every resample keeps each run's mean, so the
    # score (the mean of run means, 0.5, although "a" has 3x the instances) has no spread at all.
    scores = [1.0] * 30 + [0.0] * 10
    runs = ["a"] * 30 + ["b"] * 10
    assert score_of(scores, runs) == 0.5
    interval = bootstrap_ci(scores, runs, seed=1)
    assert (interval.low, interval.high) == (0.5, 0.5)
    assert score_of(scores) == 0.75


def test_replicates_pair_models_and_skip_missing_cells() -> None:
    matrix = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, np.nan], [0.0, 0.0]])
    replicates = bootstrap_replicates(matrix, resamples=200, seed=5)
    assert replicates.shape == (200, 2)
    # Rows 0, 1 and 3 are the same for both models; row 2 is a 1 for model 1 and missing for
    # model 2. With the same draws, model 1's mean is (S + k) / n and model 2's S / (n - k) when
    # row 2 is drawn k times: never above model 1's, and equal exactly when row 2 was not drawn.
    assert np.isfinite(replicates).all()
    assert (replicates[:, 0] >= replicates[:, 1] - 1e-12).all()
    assert (np.isclose(replicates[:, 0], replicates[:, 1])).any()
    assert (replicates[:, 0] > replicates[:, 1] + 1e-9).any()


def test_mcnemar_exact_known_answers() -> None:
    # 10 discordant pairs all favouring A: p = 2 * 0.5**10.
    a = [1.0] * 10 + [1.0] * 5 + [0.0] * 5
    b = [0.0] * 10 + [1.0] * 5 + [0.0] * 5
    test = mcnemar_exact(a, b)
    assert test.discordant == (10, 0)
    assert test.p_value == pytest.approx(2 * 0.5**10)
    assert test.difference == pytest.approx(0.5)
    assert test.significant()
    # Balanced discordance (3 vs 3): p = 1; no discordance at all: p = 1.
    assert mcnemar_exact([1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]).p_value == pytest.approx(1.0)
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]).p_value == 1.0
    # 7 vs 1: the exact two-sided binomial p-value, 2 * P(X <= 1 | n=8) = 18/256.
    a = [1] * 7 + [0] * 1
    b = [0] * 7 + [1] * 1
    assert mcnemar_exact(a, b).p_value == pytest.approx(18 / 256)
    assert not mcnemar_exact(a, b).significant()


@pytest.mark.parametrize("a_only", range(0, 13, 3))
@pytest.mark.parametrize("b_only", range(0, 31, 5))
def test_mcnemar_exact_equals_scipys_binomial_test(a_only: int, b_only: int) -> None:
    a = [1.0] * a_only + [0.0] * b_only + [1.0, 0.0]
    b = [0.0] * a_only + [1.0] * b_only + [1.0, 0.0]
    expected = 1.0 if a_only + b_only == 0 else scipy_stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
    assert mcnemar_exact(a, b).p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_mcnemar_refuses_scores_other_than_0_or_1() -> None:
    with pytest.raises(ValueError, match="0/1"):
        mcnemar_exact([0.5, 1.0], [1.0, 0.0])


def test_paired_bootstrap_agrees_with_the_paired_t_test_on_a_large_sample() -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(0.6, 0.2, 400)
    b = a - 0.02 + rng.normal(0, 0.15, 400)
    test = paired_bootstrap(a, b, resamples=4000, seed=2)
    t_p = scipy_stats.ttest_rel(a, b).pvalue
    assert test.difference == pytest.approx(float(np.mean(a - b)))
    assert test.p_value == pytest.approx(t_p, abs=0.03)
    assert test.interval is not None and test.difference in test.interval


def test_paired_bootstrap_identical_and_clearly_different_models() -> None:
    a = np.linspace(0, 1, 50)
    same = paired_bootstrap(a, a.copy(), seed=0)
    assert same.difference == 0 and same.p_value == 1.0 and not same.significant()
    shifted = paired_bootstrap(np.clip(a + 0.3, 0, 1.3), a, seed=0)
    assert shifted.p_value < 0.001 and shifted.significant()
    noisy = np.random.default_rng(3)
    x = noisy.random(40)
    y = x + noisy.normal(0, 0.3, 40)  # no true difference
    assert not paired_bootstrap(x, y, seed=0).significant()


def test_paired_test_picks_mcnemar_for_binary_scores_only() -> None:
    assert paired_test([1, 0, 1, 1], [0, 0, 1, 0]).method == "mcnemar_exact"
    assert paired_test([0.5, 0, 1, 1], [0, 0, 1, 0]).method == "paired_bootstrap"


def test_paired_inputs_must_match() -> None:
    with pytest.raises(ValueError, match="one length"):
        paired_test([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="no paired scores"):
        paired_test([], [])


def test_derived_seeds_are_stable_and_distinct() -> None:
    assert derive_seed(0, "pubmed_qa") == derive_seed(0, "pubmed_qa")
    assert derive_seed(0, "pubmed_qa") != derive_seed(0, "med_qa")
    assert derive_seed(0, "pubmed_qa") != derive_seed(1, "pubmed_qa")
    assert 0 <= derive_seed(0, "x") < 2**64 and not math.isnan(derive_seed(0, "x"))
