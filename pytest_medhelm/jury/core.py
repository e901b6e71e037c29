"""The jury: every judge asked about one answer at once, through the session's engine.

HELM asks its judges one after another; we send the three requests together as soon as the
answer is there (each judge is its own model in the engine, with its own request slots, cache
entries and retries), then read the replies exactly as HELM does (spec 3.3-3.4):

* an empty or whitespace-only answer is not judged: the score is the benchmark's default (1.0);
* a judge whose request failed, or whose reply HELM's parser rejects, is dropped;
* the score is the mean of every kept judge's criterion scores, ``int()`` of each; no judge kept
  gives the default.

Beside that faithful ``<benchmark>_accuracy`` we report, never instead of it: ``jury_score_normalized``
((s - low) / (high - low), 0-1), ``jury_score_repaired`` (a reply HELM rejects is read leniently,
else asked once more with a repair prompt; scores must be numbers on the scale) and
``jury_failed_judges``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import TYPE_CHECKING, Any

from pytest_medhelm.engine.budget import BudgetSpent
from pytest_medhelm.jury.parse import explanations_of, helm_scores, parse_helm, parse_lenient
from pytest_medhelm.jury.prompts import JUDGE_MAX_TOKENS, JUDGE_TEMPERATURE, JuryPrompt, repair_prompt

if TYPE_CHECKING:
    from pytest_medhelm.engine import Completion, Engine
    from pytest_medhelm.models import ModelConfig, ModelRequest


@dataclass(frozen=True)
class Judge:
    """A judge: its annotation key (HELM's short name: gpt, llama, claude) and its model."""

    key: str
    model: ModelConfig


@dataclass
class Verdict:
    """One judge's reading of one answer."""

    judge: str
    model: str
    usable: bool = False  # kept by HELM's parser and metric: counts in the faithful score
    scores: dict[str, float] = field(default_factory=dict)  # HELM's int() of every key
    explanations: dict[str, str] = field(default_factory=dict)
    error: str = ""  # why the judge was dropped from the faithful score
    repaired_scores: dict[str, float] | None = None  # our reading, when usable
    repaired_by: str = ""  # "" (as HELM), "lenient" or "repair prompt"
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    calls: int = 0

    def record(self, *, include_text: bool = True) -> dict[str, Any]:
        out = {
            "model": self.model,
            "usable": self.usable,
            "scores": self.scores,
            "error": self.error,
            "repaired_scores": self.repaired_scores,
            "repaired_by": self.repaired_by,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 8),
            "cached": self.cached,
            "calls": self.calls,
        }
        if include_text:
            out["explanations"] = self.explanations
        return out


@dataclass
class JuryResult:
    """The jury's scores for one answer."""

    score: float  # MedHELM's, on ``scale``
    score_repaired: float
    scale: tuple[float, float]
    judged: bool  # False: empty answer, no judge asked
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def normalized(self) -> float:
        low, high = self.scale
        return (self.score - low) / (high - low)

    @property
    def by_judge(self) -> dict[str, dict[str, float]]:
        """Judge -> criterion -> score, for the judges MedHELM's aggregate kept."""
        return {v.judge: dict(v.scores) for v in self.verdicts if v.usable}

    @property
    def failed_judges(self) -> int:
        return sum(not v.usable for v in self.verdicts)

    def metrics(self, metric: str) -> dict[str, float]:
        return {
            metric: self.score,
            "jury_score_normalized": self.normalized,
            "jury_score_repaired": self.score_repaired,
            "jury_failed_judges": float(self.failed_judges),
        }

    def detail(self, *, include_text: bool = True) -> dict[str, Any]:
        """The results.json record of this judgement (``InstanceRecord.jury``)."""
        return {
            "scale": list(self.scale),
            "judged": self.judged,
            "score": self.score,
            "score_repaired": self.score_repaired,
            "judges": {v.judge: v.record(include_text=include_text) for v in self.verdicts},
        }

    @property
    def input_tokens(self) -> int:
        return sum(v.input_tokens for v in self.verdicts)

    @property
    def output_tokens(self) -> int:
        return sum(v.output_tokens for v in self.verdicts)

    @property
    def cost_usd(self) -> float:
        return sum(v.cost_usd for v in self.verdicts)


def judge_request(prompt: str) -> ModelRequest:
    from pytest_medhelm.models import ModelRequest

    return ModelRequest(prompt=prompt, max_tokens=JUDGE_MAX_TOKENS, temperature=JUDGE_TEMPERATURE)


def _mean(values: Sequence[float], default: float) -> float:
    return fmean(values) if values else default


def _count(verdict: Verdict, completion: Completion) -> None:
    verdict.calls += 1
    verdict.input_tokens += completion.input_tokens
    verdict.output_tokens += completion.output_tokens
    verdict.cost_usd += completion.cost_usd
    verdict.cached = completion.cached if verdict.calls == 1 else verdict.cached and completion.cached


class Jury:
    """Judges plus HELM's reading of their replies; one :meth:`judge` call per answer."""

    def __init__(self, judges: Sequence[Judge], *, repair: bool = True) -> None:
        if not judges:
            raise ValueError("a jury needs at least one judge")
        self.judges = tuple(judges)
        self.repair = repair

    @property
    def names(self) -> list[str]:
        return [j.model.name for j in self.judges]

    async def judge(
        self, engine: Engine, prompt: JuryPrompt, *, question: str, answer: str, gold: str, budgeted: bool = False
    ) -> JuryResult:
        """``budgeted``: a benchmark item's judgement, refused once --medhelm-budget is spent
        (:class:`~pytest_medhelm.engine.budget.BudgetSpent`, carrying what the other judges cost)."""
        if not answer.strip():
            return JuryResult(prompt.default_score, prompt.default_score, prompt.scale, judged=False)
        text = prompt.render(question, answer, gold)
        replies = await asyncio.gather(
            *(self._one(engine, judge, prompt, text, budgeted) for judge in self.judges), return_exceptions=True
        )
        verdicts = [reply for reply in replies if isinstance(reply, Verdict)]
        for reply in replies:
            if isinstance(reply, BaseException):
                if isinstance(reply, BudgetSpent):
                    reply.paid_usd += sum(v.cost_usd for v in verdicts if not v.cached)
                raise reply
        faithful = [s for v in verdicts if v.usable for s in v.scores.values()]
        repaired = [s for v in verdicts if v.repaired_scores is not None for s in v.repaired_scores.values()]
        return JuryResult(
            _mean(faithful, prompt.default_score),
            _mean(repaired, prompt.default_score),
            prompt.scale,
            judged=True,
            verdicts=list(verdicts),
        )

    async def _one(self, engine: Engine, judge: Judge, prompt: JuryPrompt, text: str, budgeted: bool) -> Verdict:
        from pytest_medhelm.engine import FatalModelError, ModelError

        verdict = Verdict(judge.key, judge.model.name)
        try:
            completion = await engine.complete(judge.model, judge_request(text), budgeted=budgeted)
        except FatalModelError:
            raise  # a bad key or endpoint stops the session, as for the evaluated model
        except ModelError as exc:
            verdict.error = f"request failed: {exc}"
            return verdict
        _count(verdict, completion)
        reply = completion.text
        parsed = parse_helm(reply, prompt.criteria)
        if parsed.annotation is not None:
            ints, problem = helm_scores(parsed.annotation)
            if problem:
                verdict.error = problem
            else:
                verdict.usable = True
                verdict.scores = {key: float(n) for key, n in zip(parsed.annotation, ints)}
                verdict.explanations = explanations_of(parsed.annotation)
        else:
            verdict.error = parsed.problem
        criteria = list(prompt.criteria)
        lenient = parse_lenient(reply, criteria, prompt.scale)
        if lenient.scores is not None:
            verdict.repaired_scores = lenient.scores
            if not verdict.usable:
                verdict.repaired_by = "lenient"
                verdict.explanations = verdict.explanations or lenient.explanations
            return verdict
        if not self.repair:
            return verdict
        try:
            again = await engine.complete(
                judge.model, judge_request(repair_prompt(criteria, prompt.scale, lenient.problem, reply))
            )
        except FatalModelError:
            raise
        except ModelError:
            return verdict
        _count(verdict, again)
        second = parse_lenient(again.text, criteria, prompt.scale)
        if second.scores is not None:
            verdict.repaired_scores = second.scores
            verdict.repaired_by = "repair prompt"
            verdict.explanations = verdict.explanations or second.explanations
        return verdict
