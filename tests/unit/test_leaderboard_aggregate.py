"""The leaderboard's aggregates from instance rows: custom scores kept out, cost arithmetic,
intervals and win rates on a small hand-made run."""

from __future__ import annotations

import pytest

from pytest_medhelm.results import InstanceRecord, aggregate

IDS = frozenset({"med_qa", "pubmed_qa", "aci_bench"})


def row(
    benchmark: str,
    model: str,
    instance: str,
    score: float,
    *,
    category: str = "clinical_decision_support",
    subcategory: str = "Supporting Diagnostic Decisions",
    scale: tuple[float, float] = (0.0, 1.0),
    run: str = "",
    **usage: float,
) -> InstanceRecord:
    return InstanceRecord(
        benchmark=benchmark,
        instance_id=instance,
        model=model,
        score=score,
        metrics={"m": score},
        passed=score >= 1,
        category=category,
        subcategory=subcategory,
        run=run,
        normalized=(score - scale[0]) / (scale[1] - scale[0]),
        scale=list(scale),
        **usage,
    )


def test_custom_scores_stay_out_of_medhelms_means_and_win_rates() -> None:
    rows = [
        row("med_qa", "A", "1", 1.0),
        row("med_qa", "B", "1", 0.0),
        # B wins a custom benchmark declared in a MedHELM category, and a medhelm_record score.
        row("ed_triage", "A", "t1", 0.0),
        row("ed_triage", "B", "t1", 1.0),
        row("triage_smoke", "A", "x", 0.0, category="custom", subcategory="custom"),
        row("triage_smoke", "B", "x", 1.0, category="custom", subcategory="custom"),
    ]
    results = aggregate(rows, medhelm_ids=IDS)
    assert results.benchmarks["ed_triage"].group == "custom" and results.benchmarks["triage_smoke"].group == "custom"
    assert results.benchmarks["med_qa"].group == "medhelm"
    assert results.categories == {"clinical_decision_support": {"A": 1.0, "B": 0.0}}
    assert results.subcategories == {"Supporting Diagnostic Decisions": {"A": 1.0, "B": 0.0}}
    assert (results.totals["A"].macro_average, results.totals["B"].macro_average) == (1.0, 0.0)
    assert {m: r.value for m, r in results.win_rates["overall"].items()} == {"A": 1.0, "B": 0.0}
    assert set(results.win_rates) == {"overall", "clinical_decision_support"}
    assert results.custom == {"A": 0.0, "B": 1.0}


def test_jury_scores_are_normalised_for_means_but_cells_keep_their_scale() -> None:
    rows = [
        row(
            "aci_bench",
            "A",
            str(i),
            s,
            category="clinical_note_generation",
            subcategory="Documenting Patient Visits",
            scale=(1.0, 5.0),
        )
        for i, s in enumerate([5.0, 3.0])
    ]
    rows += [row("med_qa", "A", "1", 1.0)]
    results = aggregate(rows, medhelm_ids=IDS)
    cell = results.benchmarks["aci_bench"].scores["A"]
    assert (cell.score, cell.normalized) == (4.0, 0.75) and list(results.benchmarks["aci_bench"].scale) == [1.0, 5.0]
    assert results.categories["clinical_note_generation"]["A"] == 0.75
    assert results.totals["A"].macro_average == pytest.approx((0.75 + 1.0) / 2)
    low, high = cell.interval
    assert 3.0 <= low <= 4.0 <= high <= 5.0  # on the jury's own 1-5 scale
    assert "(score - 1) / 4" in results.normalization


def test_cost_is_split_into_benchmark_and_jury_and_per_point() -> None:
    rows = [
        row("med_qa", "A", "1", 1.0, cost_usd=0.25, input_tokens=100, output_tokens=10),
        row("med_qa", "A", "2", 0.0, cost_usd=0.5, input_tokens=200, output_tokens=20),
    ]
    for record in rows:
        record.jury_cost_usd = 0.125  # the jury's share of the item's cost
    totals = aggregate(rows, medhelm_ids=IDS).totals["A"]
    assert (totals.input_tokens, totals.output_tokens) == (300, 30)
    assert totals.benchmark_cost_usd == 0.75 and totals.jury_cost_usd == 0.25 and totals.cost_usd == 1.0
    assert totals.macro_average == 0.5 and totals.usd_per_point == pytest.approx(1.0 / 50)


def test_multi_run_benchmark_cell_is_the_mean_of_run_means_and_intervals_are_seeded() -> None:
    rows = [row("med_qa", "A", str(i), 1.0, run="r1") for i in range(6)]
    rows += [row("med_qa", "A", str(i), float(i % 2), run="r2") for i in range(2)]
    first = aggregate(rows, medhelm_ids=IDS)
    cell = first.benchmarks["med_qa"].scores["A"]
    assert cell.score == 0.75 and cell.runs == {"r1": 1.0, "r2": 0.5}
    assert aggregate(list(reversed(rows)), medhelm_ids=IDS).benchmarks["med_qa"].scores["A"].interval == cell.interval
    # Run r1 is all 1: only r2's two instances vary, so the score stays within [0.5, 1].
    assert 0.5 <= cell.interval[0] <= cell.interval[1] <= 1.0


def test_the_severity_order_ranks_every_run_state_once() -> None:
    from typing import get_args

    from pytest_medhelm.leaderboard.status import SEVERITY
    from pytest_medhelm.results import RunState

    assert sorted(SEVERITY) == sorted(get_args(RunState))
