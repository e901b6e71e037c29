"""Public fixtures: a user's own test module can call the session's models and record scores
exactly as the built-in suites do.

    def test_triage_note(medhelm_model, medhelm_record):
        answer = medhelm_model.complete("Is chest pain with diaphoresis urgent? Answer yes or no.", max_tokens=5)
        medhelm_record(float(answer.text.strip().lower().startswith("yes")),
                       benchmark="triage_smoke", completion=answer, pass_at=1.0)

``medhelm_test_server`` starts the project's local OpenAI/Anthropic-compatible server, for testing
harness code (retries, timeouts, concurrency) without a network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from pytest_medhelm.plugin.session import plugin_key

if TYPE_CHECKING:
    from pytest_medhelm.engine import Completion, Engine
    from pytest_medhelm.models import ModelConfig, ModelRequest
    from pytest_medhelm.results import InstanceRecord
    from pytest_medhelm.testserver import TestServer


class ModelClient:
    """The session's client for one model; every call goes through the shared engine and cache."""

    def __init__(self, engine: Engine, model: ModelConfig) -> None:
        self._engine = engine
        self.config = model

    @property
    def name(self) -> str:
        return self.config.name

    def _request(self, prompt: str, max_tokens: int, temperature: float, stop: tuple[str, ...]) -> ModelRequest:
        from pytest_medhelm.models import ModelRequest

        return ModelRequest(prompt=prompt, max_tokens=max_tokens, temperature=temperature, stop=tuple(stop))

    def complete(
        self, prompt: str, *, max_tokens: int = 512, temperature: float = 0.0, stop: tuple[str, ...] = ()
    ) -> Completion:
        return self._engine.complete_sync(self.config, self._request(prompt, max_tokens, temperature, stop))

    async def acomplete(
        self, prompt: str, *, max_tokens: int = 512, temperature: float = 0.0, stop: tuple[str, ...] = ()
    ) -> Completion:
        import asyncio

        request = self._request(prompt, max_tokens, temperature, stop)
        return await asyncio.wrap_future(self._engine.submit(self._engine.complete(self.config, request)))


@pytest.fixture
def medhelm_model(request: pytest.FixtureRequest) -> ModelClient:
    """The model under evaluation; the test runs once per ``--medhelm-model``."""
    name = getattr(request, "param", None)
    if name is None:
        pytest.skip("no model given: pass --medhelm-model NAME")
    plugin = request.config.stash[plugin_key]
    model = next(m for m in plugin.models if m.name == name)
    return ModelClient(plugin.engine, model)


Recorder = Callable[..., "InstanceRecord"]


@pytest.fixture
def medhelm_record(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Record one scored instance; it is aggregated and written like a built-in item's."""

    def record(
        score: float,
        *,
        benchmark: str,
        completion: Completion | None = None,
        metric: str = "score",
        metrics: Mapping[str, float] | None = None,
        pass_at: float | None = None,
        instance_id: str | None = None,
        model: str | None = None,
        category: str = "custom",
        subcategory: str = "custom",
        scale: tuple[float, float] = (0.0, 1.0),
    ) -> InstanceRecord:
        # A low score points at the user's test, not at this frame, whose arguments hold the
        # model's output.
        __tracebackhide__ = True
        from pytest_medhelm.plugin.items import below_pass_rule, usage_fields
        from pytest_medhelm.results import InstanceRecord

        passed = pass_at is None or score >= pass_at
        usage = usage_fields(completion) if completion else {"model": "unknown"}
        if model:
            usage["model"] = model
        row = InstanceRecord(
            benchmark=benchmark,
            instance_id=instance_id or request.node.name,
            score=score,
            metrics={metric: score, **(metrics or {})},
            passed=passed,
            category=category,
            subcategory=subcategory,
            metric=metric,
            normalized=(score - scale[0]) / (scale[1] - scale[0]),
            scale=list(scale),
            **usage,
        )
        request.node.user_properties.extend(row.to_properties())
        if not passed:
            raise below_pass_rule(benchmark, metric, score, pass_at)
        return row

    yield record


ServerFactory = Callable[..., "TestServer"]


@pytest.fixture
def medhelm_test_server() -> Iterator[ServerFactory]:
    """Start local test servers: ``medhelm_test_server(latency=0.0, slots=64, **kwargs)``.

    Each call starts a :class:`~pytest_medhelm.testserver.TestServer` on 127.0.0.1 (``kwargs``
    as its constructor takes them: ``api_key``, ``responder``, ``known_models``...) and returns it
    running; every server started is stopped when the test ends.
    """
    from pytest_medhelm.testserver import TestServer  # only tests use it: not at plugin load

    servers: list[TestServer] = []

    def start(latency: float = 0.0, slots: int = 64, **kwargs: Any) -> TestServer:
        server = TestServer(latency=latency, slots=slots, **kwargs).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


class JuryClient:
    """The session's LLM jury for a user's own tests (``medhelm_jury``): the same judges, engine,
    cache and HELM reading as the built-in open-ended benchmarks."""

    def __init__(self, plugin: Any) -> None:
        self._plugin = plugin

    def score(
        self,
        question: str,
        answer: str,
        gold: str = "",
        *,
        rubric: Mapping[str, str],
        scale: tuple[float, float] = (1.0, 5.0),
        default_score: float | None = None,
    ) -> Any:
        """Judge ``answer``; the rubric maps each criterion to its guiding question. Returns a
        :class:`~pytest_medhelm.jury.JuryResult`: ``score`` (MedHELM's aggregate), ``score_repaired``,
        ``normalized``, ``by_judge`` (judge -> criterion -> score) and ``verdicts`` (the details)."""
        from pytest_medhelm.jury.prompts import rubric_prompt

        jury = self._plugin.jury
        prompt = rubric_prompt(
            rubric, scale, default_score=scale[0] if default_score is None else default_score, source="medhelm_jury"
        )
        engine = self._plugin.engine
        return engine.submit(jury.jury.judge(engine, prompt, question=question, answer=answer, gold=gold)).result()


@pytest.fixture
def medhelm_jury(request: pytest.FixtureRequest) -> JuryClient:
    """The session's LLM jury (``--medhelm-jury``): ``medhelm_jury.score(question, answer, gold,
    rubric={...})``. Skipped without a model (no registry) or with ``--medhelm-jury none``."""
    plugin = request.config.stash[plugin_key]
    if plugin.jury is None:
        pytest.skip("the LLM jury is off: pass --medhelm-model NAME, and not --medhelm-jury none")
    return JuryClient(plugin)
