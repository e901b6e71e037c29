"""MedHELM's instance subset (spec 7.4): the first N of ``RandomState(0).permutation`` per run,
over the loader's order; MedQA pools valid and test before sampling and scores test only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_medhelm import Instance
from pytest_medhelm.data import DataSettings, load, sample
from pytest_medhelm.suites.clinical_decision_support import test_med_qa


def synthetic(n: int, run: str = "", split: str = "test") -> list[Instance]:
    return [Instance(id=f"{run or 'x'}-{i}", input=f"synthetic {i}", run=run, split=split) for i in range(n)]


def test_sample_is_the_first_cap_of_a_seed_0_permutation() -> None:
    instances = synthetic(40)
    expected = [instances[i] for i in np.random.RandomState(0).permutation(40)[:7]]
    assert sample(instances, 7) == expected
    assert sample(instances, 7) == expected, "the same subset every time (every model sees the same items)"


def test_sample_matches_numpy_choice_with_seed_0_as_helm_calls_it() -> None:
    instances = synthetic(25)
    state = np.random.get_state()
    try:
        np.random.seed(0)
        helm = list(np.random.choice(np.array(instances, dtype=object), 10, replace=False))
    finally:
        np.random.set_state(state)
    assert sample(instances, 10) == helm


def test_each_run_is_sampled_on_its_own_with_a_fresh_seed() -> None:
    first, second = synthetic(30, run="healthcaremagic"), synthetic(12, run="icliniq")
    chosen = sample(first + second, 10)
    assert chosen[:10] == [first[i] for i in np.random.RandomState(0).permutation(30)[:10]]
    assert chosen[10:] == [second[i] for i in np.random.RandomState(0).permutation(12)[:10]]


@pytest.mark.parametrize("cap", [9, 10, 1000])
def test_a_cap_at_or_above_the_size_keeps_everything_in_loader_order(cap: int) -> None:
    instances = synthetic(9)
    assert sample(instances, cap) == instances


def test_a_cap_of_n_minus_one_already_reorders() -> None:
    instances = synthetic(9)
    assert sample(instances, 8) == [instances[i] for i in np.random.RandomState(0).permutation(9)[:8]]


def medqa_mirror(root: Path, n_valid: int, n_test: int) -> list[dict[str, object]]:
    rows = [
        {
            "question": f"Synthetic {split} question {i}?",
            "answer_idx": "A",
            "_split": split,
            "_row_index": i,
            "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
        }
        for split, n in (("valid", n_valid), ("test", n_test))
        for i in range(n)
    ]
    folder = root / "med_qa"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return rows


def test_med_qa_samples_valid_and_test_together_then_keeps_test_only(tmp_path: Path) -> None:
    rows = medqa_mirror(tmp_path, n_valid=12, n_test=13)
    loaded = load(test_med_qa.BENCHMARK, DataSettings(data_dir=tmp_path, use_instance_cache=False), cap=10)
    pooled_ids = [f"{row['_split']}-{row['_row_index']}" for row in rows]
    sampled = [pooled_ids[i] for i in np.random.RandomState(0).permutation(25)[:10]]
    expected = [instance_id for instance_id in sampled if instance_id.startswith("test-")]
    assert [i.id for i in loaded.instances] == expected
    assert 0 < len(expected) < 10, "the synthetic pool must mix both splits in the sample"
    assert {i.split for i in loaded.instances} == {"test"}
    assert loaded.total == 25


def test_med_qa_under_the_cap_keeps_every_test_row_in_order(tmp_path: Path) -> None:
    medqa_mirror(tmp_path, n_valid=3, n_test=4)
    loaded = load(test_med_qa.BENCHMARK, DataSettings(data_dir=tmp_path, use_instance_cache=False), cap=1000)
    assert [i.id for i in loaded.instances] == ["test-0", "test-1", "test-2", "test-3"]
