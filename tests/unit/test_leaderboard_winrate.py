"""Mean win rate (spec 4.2) on tables computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_medhelm.leaderboard.winrate import column_win_rates, mean_win_rates, mean_win_rates_array


def test_two_models() -> None:
    table = {"b1": {"A": 0.8, "B": 0.6}, "b2": {"A": 0.5, "B": 0.7}, "b3": {"A": 0.9, "B": 0.1}}
    # A wins b1 and b3 (1, 0, 1), B wins b2.
    assert mean_win_rates(table) == {"A": pytest.approx(2 / 3), "B": pytest.approx(1 / 3)}


def test_ties_count_half_a_win() -> None:
    column = {"A": 0.5, "B": 0.5, "C": 0.2}
    # A: 1 worse + (2 equal - 1)/2 = 1.5 wins of 2; C: 0.
    assert column_win_rates(column) == {"A": 0.75, "B": 0.75, "C": 0.0}
    assert column_win_rates({"A": 0.3, "B": 0.3}) == {"A": 0.5, "B": 0.5}


def test_missing_cells_are_skipped_per_column() -> None:
    table = {
        "b1": {"A": 0.9, "B": 0.5, "C": 0.1},
        "b2": {"A": None, "B": 0.5, "C": 0.6},  # A missing: B and C compared out of 1
        "b3": {"A": 0.2},  # one value: column skipped
    }
    rates = mean_win_rates(table)
    # A: b1 only -> 1.0. B: b1 0.5, b2 0 -> 0.25. C: b1 0, b2 1 -> 0.5.
    assert rates == {"A": 1.0, "B": 0.25, "C": 0.5}


def test_a_model_with_no_comparable_column_has_none() -> None:
    rates = mean_win_rates({"b1": {"A": 0.5}, "b2": {"B": 0.4, "C": 0.3}}, models=["A", "B", "C", "D"])
    assert rates == {"A": None, "B": 1.0, "C": 0.0, "D": None}


def test_lower_is_better_flips_the_comparison() -> None:
    assert column_win_rates({"A": 1.0, "B": 2.0}, lower_is_better=True) == {"A": 1.0, "B": 0.0}


def test_nine_models_hand_computed() -> None:
    # Column 1: strictly ordered m1 > m2 > ... > m9 -> win rates (9-k)/8.
    # Column 2: m1..m3 tie on top, m4..m9 tie below -> top: (6 + 1)/8 = 0.875, bottom: (0 + 2.5)/8.
    # Column 3: m9 missing; m1..m8 reversed -> m_k wins k-1 of 7.
    models = [f"m{k}" for k in range(1, 10)]
    table = {
        "c1": {m: 1.0 - k / 10 for k, m in enumerate(models)},
        "c2": {m: (0.9 if k < 3 else 0.4) for k, m in enumerate(models)},
        "c3": {m: (k / 10 if k < 8 else None) for k, m in enumerate(models)},
    }
    expected = {}
    for k, model in enumerate(models, start=1):
        c1 = (9 - k) / 8
        c2 = 0.875 if k <= 3 else 2.5 / 8
        rates = [c1, c2] + ([(k - 1) / 7] if k <= 8 else [])
        expected[model] = sum(rates) / len(rates)
    assert mean_win_rates(table) == pytest.approx(expected)
    assert mean_win_rates(table)["m1"] == pytest.approx((1 + 0.875 + 0) / 3)


def test_vectorised_form_matches_the_reference() -> None:
    rng = np.random.default_rng(4)
    models = [f"m{k}" for k in range(6)]
    cells = np.round(rng.random((5, 7, 6)), 1)  # rounding makes ties
    cells[rng.random(cells.shape) < 0.2] = np.nan
    fast = mean_win_rates_array(cells)
    for r in range(cells.shape[0]):
        table = {
            f"c{c}": {m: (None if np.isnan(cells[r, c, i]) else cells[r, c, i]) for i, m in enumerate(models)}
            for c in range(cells.shape[1])
        }
        slow = mean_win_rates(table, models)
        for i, model in enumerate(models):
            if slow[model] is None:
                assert np.isnan(fast[r, i])
            else:
                assert fast[r, i] == pytest.approx(slow[model])
