"""``medhelm agreement RATINGS.csv``: clinician and jury ratings of the same (made-up) items, checked
against pingouin's ICC computed by hand from the same composites."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from pytest_medhelm.cli import main
from pytest_medhelm.jury.agreement import RatingsError, agreement, read_ratings
from pytest_medhelm.jury.stats import PINGOUIN_NAMES, zscore

pg = pytest.importorskip("pingouin", reason="pingouin is a test dependency ('.[test]')")
pd = pytest.importorskip("pandas")

CRITERIA = ("accuracy", "completeness", "clarity")


def write_ratings(path: Path, seed: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """Two datasets; clinicians c1, c2 (and c3 on some items) and three judges, per criterion.
    Returns dataset -> item -> rater -> composite."""
    rng = np.random.default_rng(seed)
    rows, composites = [], {}
    for dataset, n in (("aci_bench", 12), ("medi_qa", 9)):
        composites[dataset] = {}
        for item in range(n):
            quality = rng.uniform(1, 5)
            item_id = f"{dataset}-{item}"
            raters = ["c1", "c2"] + (["c3"] if item % 3 else []) + ["gpt", "llama", "claude"]
            composites[dataset][item_id] = {}
            for rater in raters:
                kind = "clinician" if rater.startswith("c") and rater != "claude" else "jury"
                scores = [float(np.clip(round(quality + rng.normal(0, 0.9)), 1, 5)) for _ in CRITERIA]
                composites[dataset][item_id][rater] = float(np.mean(scores))
                rows += [
                    {
                        "dataset": dataset,
                        "item_id": item_id,
                        "rater": rater,
                        "rater_kind": kind,
                        "criterion": c,
                        "score": s,
                    }
                    for c, s in zip(CRITERIA, scores)
                ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["dataset", "item_id", "rater", "rater_kind", "criterion", "score"])
        writer.writeheader()
        writer.writerows(rows)
    return composites


def pingouin(table: list[tuple[float, float]], form: str) -> tuple[float, tuple[float, float]]:
    long = pd.DataFrame(
        [(i, j, v) for i, row in enumerate(table) for j, v in enumerate(row)], columns=["item", "rater", "score"]
    )
    old = pg.options.get("round.column.CI95")
    pg.options["round.column.CI95"] = None
    try:
        row = pg.intraclass_corr(long, "item", "rater", "score").set_index("Type").loc[PINGOUIN_NAMES[form]]
    finally:
        pg.options["round.column.CI95"] = old
    return row["ICC"], tuple(row["CI95"])


def test_jury_and_clinician_agreement_equal_pingouin(tmp_path: Path) -> None:
    composites = write_ratings(tmp_path / "ratings.csv")
    result = agreement(read_ratings(tmp_path / "ratings.csv"))

    jury_pairs = {
        d: [
            (np.mean([r[c] for c in ("c1", "c2", "c3") if c in r]), np.mean([r[j] for j in ("gpt", "llama", "claude")]))
            for r in items.values()
        ]
        for d, items in composites.items()
    }
    raw = [p for pairs in jury_pairs.values() for p in pairs]
    section = result["jury_vs_clinicians"]
    assert section["items"] == 21
    for form in ("ICC(2,1)", "ICC(3,1)", "ICC(2,k)", "ICC(3,k)"):
        value, ci = pingouin(raw, form)
        assert section["plain"][form]["icc"] == pytest.approx(value, abs=1e-6)
        assert section["plain"][form]["ci95"] == pytest.approx(list(ci), abs=1e-6)
    # The paper's method: each rater z-scored within each dataset, pooled, ICC(3,k).
    z = [p for pairs in jury_pairs.values() for p in zip(zscore([a for a, _ in pairs]), zscore([b for _, b in pairs]))]
    value, ci = pingouin(z, "ICC(3,k)")
    assert section["paper_method"]["icc"] == pytest.approx(value, abs=1e-6)
    assert section["paper_method"]["ci95"] == pytest.approx(list(ci), abs=1e-6)

    clinicians = result["clinician_vs_clinician"]
    assert clinicians["pairs"] == {"aci_bench": ["c1", "c2"], "medi_qa": ["c1", "c2"]}  # the most items in common
    pairs = [(r["c1"], r["c2"]) for items in composites.values() for r in items.values()]
    value, _ = pingouin(pairs, "ICC(3,1)")
    assert clinicians["plain"]["ICC(3,1)"]["icc"] == pytest.approx(value, abs=1e-6)
    assert result["all_clinicians"]["items"] == sum(
        1 for items in composites.values() for r in items.values() if "c3" in r
    )


def test_the_command_prints_the_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_ratings(tmp_path / "ratings.csv")
    assert main(["agreement", str(tmp_path / "ratings.csv")]) == 0
    out = capsys.readouterr().out
    assert "jury vs clinicians" in out and "paper: z-scored ICC(3,k)" in out and "ICC(2,1)" in out
    assert main(["agreement", str(tmp_path / "ratings.csv"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["jury_vs_clinicians"]["paper_method"]["form"] == "ICC(3,k)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("item_id,rater,score\n1,c1,3\n", "line 1: missing column(s) rater_kind"),
        ("item_id,rater,rater_kind,score\n1,c1,nurse,3\n", "line 2, column rater_kind: 'nurse'"),
        ("item_id,rater,rater_kind,score\n1,c1,clinician,3\n2,c1,clinician,good\n", "line 3, column score: 'good'"),
        ("item_id,rater,rater_kind,score\n1,,clinician,3\n", "line 2, column rater: empty"),
    ],
)
def test_bad_ratings_name_the_file_line_and_column(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RatingsError, match="bad.csv"):
        read_ratings(path)
    assert main(["agreement", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err
