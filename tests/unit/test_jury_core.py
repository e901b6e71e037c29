"""The jury against the project's test server playing three judges with scripted replies.

Real engine, real HTTP on 127.0.0.1, real SQLite cache: what the judges are sent is read at the
server, and the aggregate is HELM's (spec 3.4). The judge prompt here is our own made-up template.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_medhelm.benchmark import Instance, ScoreContext
from pytest_medhelm.engine import Engine, ResponseCache, RetryPolicy
from pytest_medhelm.jury import Judge, Jury, JuryPrompt, JuryResult
from pytest_medhelm.jury.scoring import JuryScorer
from pytest_medhelm.models import ModelConfig
from pytest_medhelm.models.registry import Price, Retry
from pytest_medhelm.testserver import Fault, TestServer

PROMPT = JuryPrompt(
    template="Grade the answer.\n<q>\n{QUESTION}\n</q>\n<response>\n{RESPONSE}\n</response>\n"
    "<gold_response>\n{GOLD_RESPONSE}\n</gold_response>\nLiteral {braces} stay.",
    criteria={
        "accuracy": ("explanation", "score"),
        "completeness": ("explanation", "score"),
        "clarity": ("explanation", "score"),
    },
)


def verdict(accuracy: Any, completeness: Any, clarity: Any) -> str:
    return json.dumps(
        {
            name: {"score": score, "explanation": f"{name} reason"}
            for name, score in (("accuracy", accuracy), ("completeness", completeness), ("clarity", clarity))
        }
    )


class Judges:
    """One server; each judge model answers from its own script (a list consumed in order)."""

    def __init__(self, server_factory: Callable[..., TestServer]) -> None:
        self.scripts: dict[str, list[str]] = {}
        self.server = server_factory(latency=0.01, responder=self.respond)

    def respond(self, body: dict[str, Any]) -> str:
        script = self.scripts[body["model"]]
        return script.pop(0) if len(script) > 1 else script[0]

    def model(self, key: str, provider: str = "openai", **fields: Any) -> ModelConfig:
        values: dict[str, Any] = {
            "name": f"judge-{key}",
            "provider": provider,
            "model": f"judge-{key}-model",
            "base_url": self.server.url,
            "timeout_s": 10.0,
            **fields,
        }
        return ModelConfig(**values)

    def jury(self, **replies: str | list[str]) -> Jury:
        judges = []
        for key, script in replies.items():
            provider = "anthropic" if key == "claude" else "openai"
            judges.append(Judge(key, self.model(key, provider)))
            self.scripts[f"judge-{key}-model"] = [script] if isinstance(script, str) else list(script)
        return Jury(judges)


@pytest.fixture
def judges(medhelm_test_server: Callable[..., TestServer]) -> Judges:
    return Judges(medhelm_test_server)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine(concurrency=8, retry=RetryPolicy(max_attempts=2, base_delay_s=0.01))
    yield engine
    engine.close()


def run(engine: Engine, jury: Jury, answer: str = "The patient has asthma.") -> JuryResult:
    return engine.submit(
        jury.judge(engine, PROMPT, question="Visit transcript $X", answer=answer, gold="Asthma.")
    ).result()


def test_three_usable_judges_mean_of_nine_scores(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt=verdict(5, 4, 4), llama=verdict(3, 3, 3), claude=verdict(4, 5, 2))
    result = run(engine, jury)
    assert result.score == pytest.approx(33 / 9)
    assert result.normalized == pytest.approx((33 / 9 - 1) / 4)
    assert result.score_repaired == pytest.approx(33 / 9)
    assert [v.usable for v in result.verdicts] == [True, True, True]
    assert result.verdicts[0].explanations == {
        "accuracy": "accuracy reason",
        "completeness": "completeness reason",
        "clarity": "clarity reason",
    }
    metrics = result.metrics("aci_bench_accuracy")
    assert metrics["aci_bench_accuracy"] == pytest.approx(33 / 9) and metrics["jury_failed_judges"] == 0


def test_every_judge_is_sent_helms_request(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt=verdict(5, 5, 5), llama=verdict(5, 5, 5), claude=verdict(5, 5, 5))
    run(engine, jury)
    bodies = {body["model"]: body for body in judges.server.requests}
    expected = PROMPT.render("Visit transcript $X", "The patient has asthma.", "Asthma.")
    assert "Literal {braces} stay." in expected and "<q>\nVisit transcript $X\n</q>" in expected
    for model in ("judge-gpt-model", "judge-llama-model", "judge-claude-model"):
        body = bodies[model]
        assert body["messages"] == [{"role": "user", "content": expected}]
        assert body["max_tokens"] == 4096 and body["temperature"] == 0.0
        assert not body.get("stop") and not body.get("stop_sequences")  # none (OpenAI: null, as HELM sends)


def test_two_usable_judges_one_failed_reply_is_dropped(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt=verdict(5, 5, 5), llama="I refuse to grade this.", claude=verdict(2, 2, 2))
    judges.scripts["judge-llama-model"] = ["I refuse to grade this.", "Still no."]  # the repair fails too
    result = run(engine, jury)
    assert result.score == pytest.approx(21 / 6)  # mean of six numbers
    assert result.score_repaired == pytest.approx(21 / 6)
    llama = result.verdicts[1]
    assert not llama.usable and llama.repaired_scores is None and llama.calls == 2
    assert result.failed_judges == 1


def test_one_usable_judge(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt="{}", llama=verdict(2, 3, 4), claude="no json")
    result = run(engine, jury)
    assert result.score == pytest.approx(3.0)
    assert result.failed_judges == 2


def test_no_usable_judge_gives_helms_default(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt="nothing", llama="nothing", claude="nothing")
    result = run(engine, jury)
    assert result.judged and result.score == 1.0 and result.score_repaired == 1.0 and result.failed_judges == 3


def test_empty_answer_is_not_judged_and_scores_the_default(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt=verdict(5, 5, 5), llama=verdict(5, 5, 5), claude=verdict(5, 5, 5))
    result = run(engine, jury, answer="  \n ")
    assert not result.judged and result.score == 1.0 and result.normalized == 0.0
    assert judges.server.stats.requests == 0


def test_unparseable_reply_is_repaired_for_the_repaired_score_only(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(
        gpt=verdict(5, 5, 5),
        llama=["My scores: accuracy four.", verdict(1, 1, 1)],
        claude=verdict(5, 5, 5).replace("}}", "},}"),
    )  # trailing comma: read leniently
    result = run(engine, jury)
    assert result.score == pytest.approx(5.0)  # HELM keeps gpt only
    gpt, llama, claude = result.verdicts
    assert llama.repaired_by == "repair prompt" and llama.repaired_scores == {
        "accuracy": 1,
        "completeness": 1,
        "clarity": 1,
    }
    assert claude.repaired_by == "lenient" and claude.calls == 1
    assert result.score_repaired == pytest.approx((15 + 3 + 15) / 9)
    repair = [b for b in judges.server.requests if b["model"] == "judge-llama-model"][1]
    assert "My scores: accuracy four." in repair["messages"][0]["content"]


def test_out_of_range_score_counts_for_helm_and_is_repaired_for_ours(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt=[verdict(0, 0, 0), verdict(3, 3, 3)], llama=verdict(4, 4, 4), claude=verdict(4, 4, 4))
    result = run(engine, jury)
    assert result.score == pytest.approx(24 / 9)  # the copied 0 placeholder counts, as in HELM
    assert result.score_repaired == pytest.approx(33 / 9)


def test_a_judge_that_times_out_is_dropped(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt=verdict(4, 4, 4), llama=verdict(2, 2, 2), claude=verdict(3, 3, 3))
    slow = judges.model("llama", timeout_s=0.3, retry=Retry(max_attempts=1))
    jury = Jury([jury.judges[0], Judge("llama", slow), jury.judges[2]])
    judges.server.fail_matching(lambda body: body.get("model") == "judge-llama-model", Fault.hang(5))
    result = run(engine, jury)
    llama = result.verdicts[1]
    assert not llama.usable and "timed out" in llama.error and llama.calls == 0
    assert result.score == pytest.approx(3.5)


def test_judge_calls_are_cached_and_a_rerun_sends_nothing(judges: Judges, tmp_path: Path) -> None:
    jury = judges.jury(gpt=verdict(5, 4, 4), llama=verdict(3, 3, 3), claude=verdict(4, 5, 2))
    for attempt in range(2):
        engine = Engine(concurrency=8, cache=ResponseCache(tmp_path / "cache.sqlite"))
        try:
            result = run(engine, jury)
        finally:
            engine.close()
        assert result.score == pytest.approx(33 / 9)
        assert all(v.cached == (attempt == 1) for v in result.verdicts)
    assert judges.server.stats.requests == 3


def test_jury_tokens_and_cost_are_counted_per_judge(judges: Judges, engine: Engine) -> None:
    price = Price(input_per_mtok=1_000_000.0, output_per_mtok=0.0, as_of="2026-12-01")
    jury = judges.jury(gpt=verdict(5, 5, 5))
    jury = Jury([Judge("gpt", judges.model("gpt", price=price))])
    result = run(engine, jury)
    assert result.input_tokens > 0 and result.cost_usd == pytest.approx(result.input_tokens)


def test_the_judges_are_asked_while_the_base_metric_is_computed(judges: Judges, engine: Engine) -> None:
    """A jury benchmark keeps its own metric (ROUGE) beside the jury's: the judge calls are under
    way while it is computed, not queued behind it."""
    jury = judges.jury(gpt=verdict(5, 5, 5), llama=verdict(4, 4, 4), claude=verdict(3, 3, 3))
    judged_during_base: list[int] = []

    def slow_base_metric(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
        deadline = time.monotonic() + 5
        while judges.server.stats.requests < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        judged_during_base.append(judges.server.stats.requests)
        return {"rouge_l": 0.25}

    scorer = JuryScorer(slow_base_metric, jury, PROMPT, "notes_accuracy")
    ctx = ScoreContext(engine=engine)
    instance = Instance(id="n1", input="Visit transcript", reference="Asthma.")
    metrics = engine.submit(scorer(instance, "The patient has asthma.", ctx)).result()

    assert judged_during_base == [3]
    assert metrics["rouge_l"] == 0.25 and metrics["notes_accuracy"] == pytest.approx(4.0)
    assert ctx.extras["jury"].score == pytest.approx(4.0)


def test_a_failing_base_metric_fails_the_item_and_stops_its_judges(judges: Judges, engine: Engine) -> None:
    jury = judges.jury(gpt=verdict(5, 5, 5), llama=verdict(4, 4, 4), claude=verdict(3, 3, 3))

    def broken_base_metric(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
        raise ValueError("reference missing")

    scorer = JuryScorer(broken_base_metric, jury, PROMPT, "notes_accuracy")
    ctx = ScoreContext(engine=engine)
    with pytest.raises(ValueError, match="reference missing"):
        engine.submit(scorer(Instance(id="n1", input="Visit", reference="A."), "Answer.", ctx)).result()
    assert "jury" not in ctx.extras
