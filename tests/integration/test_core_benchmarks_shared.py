"""The six core benchmarks on the real public samples in ../shared/data.

Every row must parse into a sane instance; every gold answer, given back as the model's output,
must score 1 except where MedHELM's faithful metric has a documented defect (MedCalc-Bench "lab
test" rows: 0 faithful, 1 corrected); and the offline baselines must run end to end.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from shared_samples import load_sample, score_all

from pytest_medhelm import Instance, ScoreContext
from pytest_medhelm.data import LoadedBenchmark
from pytest_medhelm.engine import Engine
from pytest_medhelm.evaluate import evaluate
from pytest_medhelm.models import ModelRegistry
from pytest_medhelm.suites.clinical_decision_support import (
    test_head_qa,
    test_med_qa,
    test_medbullets,
    test_medcalc_bench,
    test_medec,
)
from pytest_medhelm.suites.medical_research import test_pubmed_qa

pytestmark = pytest.mark.needs_shared_data

BENCHMARKS = {
    b.id: b
    for b in (
        test_medcalc_bench.BENCHMARK,
        test_medec.BENCHMARK,
        test_head_qa.BENCHMARK,
        test_medbullets.BENCHMARK,
        test_med_qa.BENCHMARK,
        test_pubmed_qa.BENCHMARK,
    )
}
IDS = sorted(BENCHMARKS)
OPTION_COUNTS = {"head_qa": 4, "medbullets": 5, "med_qa": 4, "pubmed_qa": 3}


def loaded(shared_data: Path, benchmark_id: str) -> LoadedBenchmark:
    return load_sample(BENCHMARKS[benchmark_id], shared_data, cap=1000)


def rows_in(shared_data: Path, benchmark_id: str) -> int:
    text = (shared_data / benchmark_id / "test.jsonl").read_text(encoding="utf-8")
    return sum(1 for line in text.splitlines() if line.strip())


def gold_output(instance: Instance) -> str:
    """What a perfect model replies: the bare option letter, or the reference text."""
    if instance.choices:
        assert instance.correct is not None
        return instance.letters[instance.correct]
    return instance.reference


@pytest.mark.parametrize("benchmark_id", IDS)
def test_every_sample_row_parses_into_a_sane_instance(shared_data: Path, benchmark_id: str) -> None:
    data = loaded(shared_data, benchmark_id)
    instances = data.instances
    # The samples hold no image questions (HEAD-QA) and no empty rows (MedEC): nothing is dropped.
    assert len(instances) == data.total == rows_in(shared_data, benchmark_id)
    assert len({i.id for i in instances}) == len(instances)
    assert not any("~" in i.id for i in instances), "ids come from the data, not from de-duplication"
    for instance in instances:
        assert instance.input.strip() and instance.split == "test"
        if benchmark_id in OPTION_COUNTS:
            assert len(instance.choices) == OPTION_COUNTS[benchmark_id], instance.id
            assert all(choice.strip() for choice in instance.choices), instance.id
            assert instance.correct is not None and 0 <= instance.correct < len(instance.choices)
        else:
            assert not instance.choices and instance.reference.strip(), instance.id


def test_gold_letters_are_spread_over_the_options(shared_data: Path) -> None:
    # A loader that always picked option A (an off-by-one on aid or answer_idx) would fail this.
    for benchmark_id in OPTION_COUNTS:
        letters = Counter(gold_output(i) for i in loaded(shared_data, benchmark_id).instances)
        assert len(letters) == OPTION_COUNTS[benchmark_id], (benchmark_id, letters)


@pytest.mark.parametrize("benchmark_id", ["head_qa", "medbullets", "med_qa", "pubmed_qa"])
def test_gold_letter_scores_1_and_a_dotted_letter_only_under_corrected(shared_data: Path, benchmark_id: str) -> None:
    benchmark = BENCHMARKS[benchmark_id]
    instances = loaded(shared_data, benchmark_id).instances
    for instance, scores in zip(instances, score_all(benchmark, [(i, gold_output(i)) for i in instances])):
        assert scores["exact_match"] == scores["exact_match_corrected"] == 1.0, instance.id
    dotted = score_all(benchmark, [(i, gold_output(i) + ".") for i in instances])
    assert {s["exact_match"] for s in dotted} == {0.0}, "MedHELM wants the bare letter"
    assert {s["exact_match_corrected"] for s in dotted} == {1.0}


def test_medcalc_gold_scores_1_except_lab_test_under_the_faithful_metric(shared_data: Path) -> None:
    benchmark = BENCHMARKS["medcalc_bench"]
    instances = loaded(shared_data, "medcalc_bench").instances
    outcome: Counter[tuple[bool, float, float]] = Counter()
    for instance, scores in zip(instances, score_all(benchmark, [(i, i.reference) for i in instances])):
        lab = instance.extra["category"] == "lab test"
        faithful, corrected = scores["medcalc_bench_accuracy"], scores["medcalc_bench_accuracy_corrected"]
        assert (faithful, corrected) == ((0.0, 1.0) if lab else (1.0, 1.0)), (instance.id, instance.extra)
        outcome[(lab, faithful, corrected)] += 1
    assert outcome[(True, 0.0, 1.0)] > 0 and outcome[(False, 1.0, 1.0)] > 0


def test_medec_gold_reference_scores_1_on_flag_and_corrected_sentence_accuracy(shared_data: Path) -> None:
    benchmark = BENCHMARKS["medec"]
    instances = loaded(shared_data, "medec").instances
    references = Counter("CORRECT" if i.reference == "CORRECT" else "error" for i in instances)
    assert references["CORRECT"] > 0 and references["error"] > 0
    for instance, scores in zip(instances, score_all(benchmark, [(i, i.reference) for i in instances])):
        assert scores["medec_error_flag_accuracy"] == scores["medec_error_sentence_accuracy_corrected"] == 1.0
        # Faithful defect: the gold sentence id is never parsed, so only CORRECT references score.
        assert scores["medec_error_sentence_accuracy"] == float(instance.reference == "CORRECT"), instance.id


@pytest.mark.parametrize("model_name", ["baseline-random", "baseline-extractive"])
@pytest.mark.parametrize("benchmark_id", IDS)
def test_baselines_run_end_to_end(shared_data: Path, engine: Engine, benchmark_id: str, model_name: str) -> None:
    benchmark = BENCHMARKS[benchmark_id]
    model = ModelRegistry.load().resolve(model_name)
    instances = loaded(shared_data, benchmark_id).instances[:5]
    ctx = ScoreContext(data_dir=shared_data / benchmark_id)
    outcomes = [engine.submit(evaluate(benchmark, i, model, engine, ctx)).result(timeout=60) for i in instances]
    again = engine.submit(evaluate(benchmark, instances[0], model, engine, ctx)).result(timeout=60)
    assert again.completion.text == outcomes[0].completion.text, "baselines are deterministic"
    for outcome in outcomes:
        assert outcome.completion.model == model_name and not outcome.completion.cached
        assert 0.0 <= outcome.score <= 1.0 and outcome.passed == (outcome.score >= 1.0)
        if outcome.instance.choices:
            assert outcome.completion.text in outcome.instance.letters  # a bare letter, so HELM maps it
            assert outcome.metrics["exact_match"] == float(
                outcome.completion.text == outcome.instance.letters[outcome.instance.correct or 0]
            )
        else:
            assert outcome.completion.text.strip()
