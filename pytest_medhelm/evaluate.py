"""One evaluation, outside pytest: instance -> prompt -> model -> scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_medhelm.benchmark import Benchmark, Instance, ScoreContext
from pytest_medhelm.engine import Completion, Engine
from pytest_medhelm.engine.budget import BudgetSpent
from pytest_medhelm.models import ModelConfig, ModelRequest


@dataclass(frozen=True, slots=True)
class Outcome:
    benchmark: Benchmark
    instance: Instance
    completion: Completion
    metrics: dict[str, float]
    # The jury's judgement (pytest_medhelm.jury.JuryResult) when the jury scored this answer.
    jury: Any = None

    @property
    def score(self) -> float:
        return self.metrics[self.benchmark.main_metric]

    @property
    def passed(self) -> bool:
        return self.score >= self.benchmark.pass_at


def request_for(benchmark: Benchmark, instance: Instance) -> ModelRequest:
    plan = benchmark.plan()
    return ModelRequest(
        prompt=plan.render(instance),
        max_tokens=plan.max_tokens,
        temperature=plan.temperature,
        stop=plan.stop,
        choices=instance.choices,
        context=instance.input,
    )


async def evaluate(
    benchmark: Benchmark, instance: Instance, model: ModelConfig, engine: Engine, ctx: ScoreContext
) -> Outcome:
    # The item's own request: refused once --medhelm-budget is spent (so are its judges', if any).
    completion = await engine.complete(model, request_for(benchmark, instance), budgeted=True)
    try:
        metrics = await benchmark.score(instance, completion.text, ctx)
    except BudgetSpent as exc:  # a judge was refused: the item is not run, but its answer was paid
        exc.paid_usd += 0.0 if completion.cached else completion.cost_usd
        raise
    return Outcome(benchmark, instance, completion, metrics, ctx.extras.get("jury"))
