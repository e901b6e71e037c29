"""A benchmark scored by the jury: its scorer wrapped, its main metric the jury's.

:func:`with_jury` turns an open-ended benchmark (``jury_metric`` set, or a user benchmark whose
YAML lists the ``jury`` metric) into one whose scorer asks the judges as soon as the answer is
there; the benchmark's own metrics (ROUGE) are kept beside the jury's. The judgement itself is left
on the score context (``ctx.extras["jury"]``) for the results row.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pytest_medhelm.jury.core import Jury
from pytest_medhelm.jury.prompts import JuryPrompt

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark, Instance, Scorer, ScoreContext

# An item passes at 4 ("good") on MedHELM's 1-5 scale.
JURY_PASS_AT = 4.0


@dataclass(frozen=True)
class JuryScorer:
    base: Scorer | None
    jury: Jury
    prompt: JuryPrompt
    metric: str

    async def __call__(self, instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if self.base is not None:
            result = self.base(instance, output, ctx)
            if inspect.isawaitable(result):
                result = await result
            metrics.update(result)
        if ctx.engine is None:
            raise RuntimeError("the jury needs the session's engine (ScoreContext.engine)")
        verdict = await self.jury.judge(
            ctx.engine, self.prompt, question=instance.input, answer=output, gold=instance.reference
        )
        ctx.extras["jury"] = verdict
        metrics.update(verdict.metrics(self.metric))
        return metrics


def with_jury(benchmark: Benchmark, jury: Jury, prompt: JuryPrompt, *, metric: str, main: bool) -> Benchmark:
    """``benchmark`` scored by ``jury``; ``main``: the jury's score becomes the main metric."""
    base = None if benchmark.requires_jury else benchmark.scorer
    scorer = JuryScorer(base, jury, prompt, metric)
    if not main:
        return replace(benchmark, scorer=scorer)
    pass_at = (
        benchmark.pass_at if benchmark.scale == prompt.scale or hasattr(benchmark, "definition_file") else JURY_PASS_AT
    )
    return replace(benchmark, scorer=scorer, main_metric=metric, scale=prompt.scale, pass_at=pass_at)
