"""A benchmark scored by the jury: its scorer wrapped, its main metric the jury's.

:func:`with_jury` turns an open-ended benchmark (``jury_metric`` set, or a user benchmark whose
YAML lists the ``jury`` metric) into one whose scorer asks the judges as soon as the answer is
there; the benchmark's own metrics (ROUGE) are kept beside the jury's. The judgement itself is left
on the score context (``ctx.extras["jury"]``) for the results row.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pytest_medhelm.jury.core import Jury
from pytest_medhelm.jury.prompts import JuryPrompt

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark, Instance, Metrics, Scorer, ScoreContext

# An item passes at 4 ("good") on MedHELM's 1-5 scale.
JURY_PASS_AT = 4.0


@dataclass(frozen=True)
class JuryScorer:
    base: Scorer | None
    jury: Jury
    prompt: JuryPrompt
    metric: str

    async def __call__(self, instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
        if ctx.engine is None:
            raise RuntimeError("the jury needs the session's engine (ScoreContext.engine)")
        # The judges are asked first: their calls are under way while the base metric is computed
        # (off the event loop, so ROUGE's CPU time does not hold back other items' requests).
        judging = asyncio.ensure_future(
            self.jury.judge(
                ctx.engine, self.prompt, question=instance.input, answer=output, gold=instance.reference, budgeted=True
            )
        )
        metrics: dict[str, float] = {}
        try:
            if self.base is not None:
                metrics.update(await _base_metrics(self.base, instance, output, ctx))
            verdict = await judging
        finally:
            judging.cancel()  # a no-op once done; stops the judges when the base metric failed
        ctx.extras["jury"] = verdict
        metrics.update(verdict.metrics(self.metric))
        return metrics


async def _base_metrics(base: Scorer, instance: Instance, output: str, ctx: ScoreContext) -> Metrics:
    if inspect.iscoroutinefunction(base) or inspect.iscoroutinefunction(type(base).__call__):
        result = base(instance, output, ctx)
    else:
        result = await asyncio.to_thread(base, instance, output, ctx)
    return await result if inspect.isawaitable(result) else result


def with_jury(benchmark: Benchmark, jury: Jury, prompt: JuryPrompt, *, metric: str, main: bool) -> Benchmark:
    """``benchmark`` scored by ``jury``; ``main``: the jury's score becomes the main metric."""
    base = None if benchmark.requires_jury else benchmark.scorer
    beside_jury = getattr(base, "beside_jury", None)  # a user benchmark's own metrics, without the stand-in
    if beside_jury is not None:
        base = beside_jury()
    scorer = JuryScorer(base, jury, prompt, metric)
    if not main:
        return replace(benchmark, scorer=scorer)
    pass_at = (
        benchmark.pass_at if benchmark.scale == prompt.scale or hasattr(benchmark, "definition_file") else JURY_PASS_AT
    )
    return replace(benchmark, scorer=scorer, main_metric=metric, scale=prompt.scale, pass_at=pass_at)
