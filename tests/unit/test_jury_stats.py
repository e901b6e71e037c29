"""Agreement statistics against the reference implementations (test-only oracles): pingouin's ICC and
the krippendorff package's alpha, to 1e-6, on published example data and on random data."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_medhelm.jury.stats import ICC_FORMS, PINGOUIN_NAMES, icc, jury_agreement, krippendorff_alpha

pg = pytest.importorskip("pingouin", reason="pingouin is a test dependency ('.[test]')")
pd = pytest.importorskip("pandas")
krippendorff = pytest.importorskip("krippendorff", reason="krippendorff is a test dependency ('.[test]')")

# Shrout & Fleiss (1979), Table 2: six targets rated by four judges (the ICC paper's own example).
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
# Their published values: ICC(1,1) .17, ICC(2,1) .29, ICC(3,1) .71, ICC(1,k) .44, ICC(2,k) .62, ICC(3,k) .91.
SHROUT_FLEISS_PUBLISHED = {
    "ICC(1,1)": 0.17,
    "ICC(2,1)": 0.29,
    "ICC(3,1)": 0.71,
    "ICC(1,k)": 0.44,
    "ICC(2,k)": 0.62,
    "ICC(3,k)": 0.91,
}


def pingouin_icc(table: np.ndarray) -> pd.DataFrame:
    n, k = table.shape
    long = pd.DataFrame([(i, j, table[i, j]) for i in range(n) for j in range(k)], columns=["item", "rater", "score"])
    old = pg.options.get("round.column.CI95")
    pg.options["round.column.CI95"] = None  # pingouin rounds its intervals to 2 decimals by default
    try:
        return pg.intraclass_corr(data=long, targets="item", raters="rater", ratings="score").set_index("Type")
    finally:
        pg.options["round.column.CI95"] = old


def assert_same_as_pingouin(table: np.ndarray) -> None:
    ours = icc(table)
    theirs = pingouin_icc(np.asarray(table, dtype=float))
    for form in ICC_FORMS:
        row = theirs.loc[PINGOUIN_NAMES[form]]
        assert ours[form].value == pytest.approx(row["ICC"], abs=1e-6), form
        assert ours[form].ci95 == pytest.approx(tuple(row["CI95"]), abs=1e-6), form
        assert ours[form].f == pytest.approx(row["F"], abs=1e-6) and ours[form].df2 == row["df2"], form
        assert ours[form].p == pytest.approx(row["pval"], abs=1e-6), form


def test_icc_on_shrout_and_fleiss_matches_pingouin_and_the_paper() -> None:
    assert_same_as_pingouin(np.array(SHROUT_FLEISS, dtype=float))
    ours = icc(SHROUT_FLEISS)
    for form, published in SHROUT_FLEISS_PUBLISHED.items():
        assert round(ours[form].value, 2) == published, form


def test_icc_on_pingouins_wine_dataset() -> None:
    wine = pg.read_dataset("icc").pivot_table(index="Wine", columns="Judge", values="Scores")
    assert_same_as_pingouin(wine.to_numpy())


@pytest.mark.parametrize("seed", range(5))
def test_icc_on_random_tables(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = rng.integers(5, 60), rng.integers(2, 6)
    truth = rng.normal(3, 1, size=(n, 1))
    table = np.clip(np.rint(truth + rng.normal(0, 0.8, size=(n, k)) + rng.normal(0, 0.5, size=(1, k))), 1, 5)
    assert_same_as_pingouin(table)


def test_icc_refuses_an_incomplete_or_tiny_table() -> None:
    with pytest.raises(ValueError, match="complete"):
        icc([[1, 2], [3, float("nan")]])
    with pytest.raises(ValueError, match="at least 2"):
        icc([[1, 2, 3]])


@pytest.mark.parametrize("seed", range(5))
def test_krippendorff_alpha_interval_with_missing_ratings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    table = rng.integers(1, 6, size=(40, 3)).astype(float)
    table[:, 1] = np.clip(table[:, 0] + rng.integers(-1, 2, size=40), 1, 5)
    table[rng.random(table.shape) < 0.15] = np.nan
    units = [[None if np.isnan(v) else v for v in row] for row in table]
    expected = krippendorff.alpha(reliability_data=table.T, level_of_measurement="interval")
    assert krippendorff_alpha(units) == pytest.approx(expected, abs=1e-6)


def test_jury_agreement_offsets_show_a_drifting_judge() -> None:
    items = [{"gpt": s, "llama": s, "claude": s - 1.5} for s in (5.0, 4.0, 4.5, 3.0, 5.0, 4.0)]
    stats = jury_agreement(items)
    assert stats["judge_offsets"]["claude"] == pytest.approx(-1.0)
    assert stats["judge_offsets"]["gpt"] == pytest.approx(0.5)
    assert stats["icc"]["ICC(3,1)"] == pytest.approx(1.0)  # consistent ranking...
    assert stats["icc"]["ICC(2,1)"] < 0.8  # ...but not absolute agreement
    assert jury_agreement([{"gpt": 3.0, "llama": 3.0}] * 3)["icc"] is None  # no variance: undefined
