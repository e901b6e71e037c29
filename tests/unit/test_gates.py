"""Gate logic: floors, and baseline comparisons that fail only on a significant drop beyond the
allowance. Scores are made up; the paired tests are the leaderboard's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_medhelm.gates import GateConfig, GateConfigError, TargetThresholds, evaluate, load_gate_config
from pytest_medhelm.results import InstanceRecord, ResultsFile, aggregate

CANDIDATE, PREVIOUS = "candidate", "previous"


def run(
    model: str, scores: dict[str, Sequence[float]], *, first_id: int = 0, categories: dict[str, str] | None = None
) -> ResultsFile:
    """A run of ``model``: per benchmark, instance i (from ``first_id``) scored ``scores[i]``."""
    categories = categories or {}
    rows = [
        InstanceRecord(
            benchmark=benchmark,
            instance_id=f"i{first_id + i:04d}",
            model=model,
            score=score,
            metrics={"exact_match": score},
            passed=score >= 1,
            normalized=score,
            category=categories.get(benchmark, "clinical_decision_support"),
        )
        for benchmark, values in scores.items()
        for i, score in enumerate(values)
    ]
    return aggregate(rows, models=[model])


def ones(n: int, right: int) -> list[float]:
    """n 0/1 scores, the first ``right`` of them 1."""
    return [1.0] * right + [0.0] * (n - right)


def only(verdicts: list, name: str = "med_qa"):
    [verdict] = [v for v in verdicts if v.name == name]
    return verdict


def test_a_significant_drop_beyond_the_allowance_fails_with_the_numbers() -> None:
    # 200 items: 160 right before, 120 right now (40 items lost, none gained).
    old, new = run(PREVIOUS, {"med_qa": ones(200, 160)}), run(CANDIDATE, {"med_qa": ones(200, 120)})

    verdict = only(evaluate(new, GateConfig(), baseline=old))

    assert not verdict.passed
    [check] = verdict.checks
    assert check.kind == "baseline"
    assert check.numbers["old"] == pytest.approx(0.8) and check.numbers["new"] == pytest.approx(0.6)
    assert check.numbers["difference"] == pytest.approx(-0.2)
    assert check.numbers["method"] == "mcnemar_exact"
    assert check.numbers["p_value"] < 1e-9  # 40 discordant pairs, all one way: 2 * 0.5**40
    assert check.numbers["ci_low"] < -0.2 < check.numbers["ci_high"] < 0
    message = verdict.message()
    for text in ("0.800 -> 0.600", "difference -0.200", "95% CI", "p = ", "exceeds the allowed 0.020", "significant"):
        assert text in message
    assert verdict.nodeid == "medhelm::gate::med_qa"


def test_a_drop_within_noise_passes() -> None:
    # 20 items, 12 right before and 8 now (six lost, two gained): a drop of 0.2, ten times the
    # allowance, but McNemar's p (2 of 8 discordant pairs) is 0.29.
    before = ones(20, 12)
    after = [0.0, 0.0, 1.0, 1.0] + before[4:]
    after[4:8] = [0.0, 0.0, 0.0, 0.0]
    after[12:14] = [1.0, 1.0]
    old, new = run(PREVIOUS, {"med_qa": before}), run(CANDIDATE, {"med_qa": after})

    verdict = only(evaluate(new, GateConfig(), baseline=old))

    [check] = verdict.checks
    assert check.numbers["new"] < check.numbers["old"] - 0.02
    assert check.numbers["p_value"] > 0.05
    assert verdict.passed, verdict.message()
    assert "within noise" in check.text


def test_a_significant_drop_within_the_allowance_passes() -> None:
    # 2,000 items, 15 of them lost: a significant drop (p = 2 * 0.5**15) of only 0.0075.
    old, new = run(PREVIOUS, {"med_qa": ones(2000, 1500)}), run(CANDIDATE, {"med_qa": ones(2000, 1485)})

    verdict = only(evaluate(new, GateConfig(), baseline=old))

    [check] = verdict.checks
    assert check.numbers["p_value"] < 0.001
    assert verdict.passed
    assert "within the allowed 0.020" in check.text
    # The same drop fails once the allowance is tighter than it.
    assert not only(evaluate(new, GateConfig(), baseline=old, max_drop=0.005)).passed


def test_an_improvement_passes() -> None:
    old, new = run(PREVIOUS, {"med_qa": ones(200, 100)}), run(CANDIDATE, {"med_qa": ones(200, 180)})

    verdict = only(evaluate(new, GateConfig(), baseline=old))

    assert verdict.passed
    assert verdict.checks[0].numbers["difference"] == pytest.approx(0.4)
    assert verdict.checks[0].numbers["p_value"] < 0.05


def test_instances_in_one_run_only_are_excluded_and_reported() -> None:
    # The baseline scored i0000-i0099, the candidate i0010-i0109: 90 shared instances.
    old = run(PREVIOUS, {"med_qa": [1.0] * 100})
    new = run(CANDIDATE, {"med_qa": [1.0] * 90 + [0.0] * 10}, first_id=10)

    verdict = only(evaluate(new, GateConfig(), baseline=old))

    [check] = verdict.checks
    assert check.numbers["paired"] == 90
    assert len(check.numbers["excluded"]) == 20
    assert "med_qa/i0000" in check.numbers["excluded"] and "med_qa/i0109" in check.numbers["excluded"]
    # Compared on the shared instances only, there is no drop at all (the new zeros are unpaired).
    assert check.numbers["old"] == check.numbers["new"] == 1.0
    assert verdict.passed
    assert "20 instance(s) scored in one run only, excluded: med_qa/i0000" in check.text


def test_a_benchmark_without_shared_instances_fails_rather_than_passing() -> None:
    old = run(PREVIOUS, {"med_qa": [1.0] * 10})
    new = run(CANDIDATE, {"med_qa": [1.0] * 10}, first_id=100)

    verdict = only(evaluate(new, GateConfig(), baseline=old))

    assert not verdict.passed
    assert "nothing to compare" in verdict.checks[0].text


def test_non_binary_scores_use_the_paired_bootstrap() -> None:
    before = [0.5 + 0.4 * ((i * 7) % 10) / 10 for i in range(300)]
    old = run(PREVIOUS, {"aci_bench": before})
    new = run(CANDIDATE, {"aci_bench": [score - 0.1 for score in before]})

    verdict = only(evaluate(new, GateConfig(), baseline=old), "aci_bench")

    check = verdict.checks[0]
    assert check.numbers["method"] == "paired_bootstrap"
    assert check.numbers["difference"] == pytest.approx(-0.1)
    assert not verdict.passed  # a constant drop of 0.1 on every instance is no noise


def test_floors_per_benchmark_category_and_overall() -> None:
    categories = {"med_qa": "clinical_decision_support", "pubmed_qa": "medical_research"}
    new = run(CANDIDATE, {"med_qa": ones(10, 7), "pubmed_qa": ones(10, 3)}, categories=categories)
    config = GateConfig(
        benchmarks={"med_qa": TargetThresholds(min_score=0.7), "pubmed_qa": TargetThresholds(min_score=0.5)},
        categories={"medical_research": TargetThresholds(min_score=0.2)},
        overall=TargetThresholds(min_score=0.6),
    )

    verdicts = {v.name: v for v in evaluate(new, config)}

    assert list(verdicts) == ["med_qa", "pubmed_qa", "medical_research", "overall"]
    assert verdicts["med_qa"].passed  # 0.7 >= 0.7
    assert not verdicts["pubmed_qa"].passed and "0.300 < 0.500" in verdicts["pubmed_qa"].message()
    assert verdicts["medical_research"].passed
    assert not verdicts["overall"].passed and "0.500 < 0.600" in verdicts["overall"].message()


def test_a_floor_on_a_selected_benchmark_without_scores_fails_and_an_unselected_one_is_not_judged() -> None:
    new = run(CANDIDATE, {"med_qa": ones(10, 10)})
    config = GateConfig(
        benchmarks={"medcalc_bench": TargetThresholds(min_score=0.1), "ehr_sql": TargetThresholds(min_score=0.1)}
    )

    verdicts = evaluate(
        new,
        config,
        selected={"med_qa": "clinical_decision_support", "medcalc_bench": "clinical_decision_support"},
        unscored={"medcalc_bench": "medcalc_bench: data not found"},
    )

    assert [v.name for v in verdicts] == ["medcalc_bench"]  # ehr_sql was not selected (-k, -m)
    assert not verdicts[0].passed and "not scored: medcalc_bench: data not found" in verdicts[0].message()


def test_a_category_gate_compares_the_mean_of_its_benchmarks() -> None:
    before = {"med_qa": ones(200, 150), "medcalc_bench": ones(200, 100)}
    after = {"med_qa": ones(200, 110), "medcalc_bench": ones(200, 60)}
    config = GateConfig(categories={"clinical_decision_support": TargetThresholds()})

    verdicts = {v.name: v for v in evaluate(run(CANDIDATE, after), config, baseline=run(PREVIOUS, before))}

    category = verdicts["clinical_decision_support"]
    check = category.checks[0]
    assert check.numbers["old"] == pytest.approx(0.625) and check.numbers["new"] == pytest.approx(0.425)
    assert check.numbers["method"] == "paired_bootstrap" and check.numbers["paired"] == 400
    assert not category.passed
    assert set(verdicts) == {"med_qa", "medcalc_bench", "clinical_decision_support"}


def test_thresholds_precedence_target_then_command_line_then_file() -> None:
    old, new = run(PREVIOUS, {"med_qa": ones(2000, 1500)}), run(CANDIDATE, {"med_qa": ones(2000, 1400)})
    file_default = GateConfig(max_drop=0.1)
    with_target = GateConfig(max_drop=0.01, benchmarks={"med_qa": TargetThresholds(max_drop=0.2)})

    assert only(evaluate(new, file_default, baseline=old)).passed  # a drop of 0.05 within 0.1
    assert not only(evaluate(new, file_default, baseline=old, max_drop=0.02)).passed  # the flag wins
    assert only(evaluate(new, with_target, baseline=old, max_drop=0.02)).passed  # the target's own wins


def test_several_models_get_one_gate_each_against_a_single_model_baseline() -> None:
    old = run(PREVIOUS, {"med_qa": ones(200, 150)})
    rows = run("a", {"med_qa": ones(200, 150)}).instances + run("b", {"med_qa": ones(200, 50)}).instances
    new = aggregate(rows, models=["a", "b"])

    verdicts = {v.name: v for v in evaluate(new, GateConfig(), baseline=old)}

    assert set(verdicts) == {"med_qa[a]", "med_qa[b]"}
    assert verdicts["med_qa[a]"].passed and not verdicts["med_qa[b]"].passed
    assert verdicts["med_qa[b]"].nodeid == "medhelm::gate::med_qa[b]"


# -- configuration files -------------------------------------------------------------------------


def test_gates_from_pyproject_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n\n[tool.medhelm.gates]\nmax_drop = 0.05\nalpha = 0.01\n"
        "overall = {min_score = 0.5}\n[tool.medhelm.gates.benchmarks]\nmedcalc_bench = {min_score = 0.3}\n"
    )

    config, source = load_gate_config(tmp_path)

    assert source is not None and "pyproject.toml" in source
    assert (config.max_drop, config.alpha) == (0.05, 0.01)
    assert config.overall == TargetThresholds(min_score=0.5)
    assert config.benchmarks["medcalc_bench"].min_score == 0.3


def test_gates_from_medhelm_yaml_when_pyproject_has_none(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "medhelm.yaml").write_text(
        "gates:\n  categories:\n    clinical_decision_support:\n      min_score: 0.4\n      baseline: false\n"
    )

    config, source = load_gate_config(tmp_path)

    assert source is not None and "medhelm.yaml" in source
    assert config.categories["clinical_decision_support"] == TargetThresholds(min_score=0.4, baseline=False)


def test_no_gates_file_means_no_gates(tmp_path: Path) -> None:
    assert load_gate_config(tmp_path) == (GateConfig(), None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gates:\n  benchmarks:\n    med_qa: {min_scor: 0.3}\n", "benchmarks.med_qa.min_scor: Extra inputs"),
        ("gates:\n  overall: {min_score: 3}\n", "overall.min_score: Input should be less than or equal to 1"),
        ("gates:\n  alpha: 0\n", "alpha: Input should be greater than 0"),
        ("gates: [\n", "medhelm.yaml"),
    ],
)
def test_a_bad_gates_file_names_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "medhelm.yaml").write_text(text)

    with pytest.raises(GateConfigError) as error:
        load_gate_config(tmp_path)

    assert str(tmp_path / "medhelm.yaml") in str(error.value)
    assert expected in str(error.value)


def test_reading_a_projects_gates_does_not_import_numpy(tmp_path: Path) -> None:
    """Every session reads its gates at start; numpy (a few tenths of a second in every process,
    every xdist worker included) is imported only when a baseline is compared."""
    (tmp_path / "pyproject.toml").write_text("[tool.medhelm.gates]\noverall = {min_score = 0.5}\n", encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from pytest_medhelm.gates import load_gate_config; "
        f"load_gate_config(Path({str(tmp_path)!r})); print(sorted(m for m in sys.modules if m.startswith('numpy'))[:1])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
