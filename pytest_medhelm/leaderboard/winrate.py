"""MedHELM's mean win rate (spec 4.2, HELM's ``presentation/summarize.py``), exactly.

For each column (benchmark), over the models that have a value in it: a model's wins are the
models strictly worse than it plus half of the others it ties with (exact float equality); its
win rate is wins / (n - 1). A column with fewer than two values is skipped. A model's mean win
rate is the plain mean of its win rates over the columns where it has one; a model that has none
gets None. A model missing from a column is left out of it (not a loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Table = Mapping[str, Mapping[str, float | None]]  # column -> model -> value (None: missing)


def column_win_rates(values: Mapping[str, float | None], *, lower_is_better: bool = False) -> dict[str, float]:
    """Win rate of each model present in one column; empty when fewer than two are present."""
    present = {model: value for model, value in values.items() if value is not None and not np.isnan(value)}
    n = len(present)
    if n < 2:
        return {}
    rates = {}
    for model, value in present.items():
        worse = sum(1 for other in present.values() if (other > value if lower_is_better else other < value))
        ties = sum(1 for other in present.values() if other == value) - 1
        rates[model] = (worse + ties / 2) / (n - 1)
    return rates


def mean_win_rates(
    table: Table, models: Sequence[str] = (), *, lower_is_better: bool = False
) -> dict[str, float | None]:
    """Mean win rate of every model (those in ``models`` first, then any other in the table)."""
    per_model: dict[str, list[float]] = {model: [] for model in models}
    for column in table.values():
        for model in column:
            per_model.setdefault(model, [])
        for model, rate in column_win_rates(column, lower_is_better=lower_is_better).items():
            per_model[model].append(rate)
    return {model: (float(np.mean(rates)) if rates else None) for model, rates in per_model.items()}


def mean_win_rates_array(cells: np.ndarray) -> np.ndarray:
    """Vectorised :func:`mean_win_rates` for bootstrap replicates (higher is better).

    ``cells`` is replicates x columns x models, NaN for a missing cell. Returns replicates x
    models of mean win rates (NaN where a model has no comparable column in that replicate).
    """
    cells = np.asarray(cells, dtype=float)
    present = ~np.isnan(cells)
    filled = np.where(present, cells, 0.0)
    # pairwise[r, c, i, j]: model j present and strictly below / equal to model i in column c
    both = present[..., :, None] & present[..., None, :]
    below = both & (filled[..., None, :] < filled[..., :, None])
    equal = both & (filled[..., None, :] == filled[..., :, None])
    n = present.sum(axis=-1)  # replicates x columns
    wins = below.sum(axis=-1) + (equal.sum(axis=-1) - 1) / 2.0
    usable = present & (n[..., None] >= 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(usable, wins / np.maximum(n[..., None] - 1, 1), 0.0)
        counts = usable.sum(axis=1)
        return np.where(counts > 0, rates.sum(axis=1) / np.maximum(counts, 1), np.nan)
