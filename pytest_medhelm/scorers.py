"""Scorers: the metric functions of :mod:`pytest_medhelm.metrics` applied to an instance.

A scorer is ``(instance, output, ctx) -> {metric: value}``; a benchmark names one of these.
"""

from __future__ import annotations

from functools import cache

from pytest_medhelm.benchmark import Instance, ScoreContext
from pytest_medhelm.metrics import exact_match as em


def multiple_choice(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    """HELM's multiple-choice exact match: the bare letter, mapped to its option (spec 2.1)."""
    if instance.correct is None:
        raise ValueError(f"instance {instance.id} has choices but no correct option")
    return em.multiple_choice(instance.choices, instance.correct, output)


def exact(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    """Exact-match family against the reference text (MedHallu's strict 0/1)."""
    return em.generation_exact_match(instance.reference, output)


def rouge_l(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    """ROUGE-1/2/L F-measures against the reference: the open-ended benchmarks' score until the
    LLM jury is configured (HELM reports the same ROUGE stats beside the jury)."""
    scores = _rouge().score(instance.reference, output)
    return {
        "rouge_1": scores["rouge1"].fmeasure,
        "rouge_2": scores["rouge2"].fmeasure,
        "rouge_l": scores["rougeL"].fmeasure,
    }


@cache
def _rouge():  # type: ignore[no-untyped-def]
    from rouge_score import rouge_scorer  # imported on first use: it pulls in nltk

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
