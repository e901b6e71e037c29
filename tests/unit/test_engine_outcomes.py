"""What the engine does with each transport outcome besides 429/500/hang/malformed (issue 15):
an empty ``choices``, a ``content_filter`` finish, a ``length`` finish, a provider error body that
quotes the prompt, an endpoint nothing listens on; and where a registry model's key may go.
Real local servers (``TestServer`` on 127.0.0.1), counts read at the server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_medhelm.engine import Engine, FatalModelError, ModelError, RetryPolicy
from pytest_medhelm.engine.core import CONNECT_FAILURES_BEFORE_ANY_ANSWER
from pytest_medhelm.models import ModelConfig, ModelRegistry, ModelRequest
from pytest_medhelm.models.registry import REASONING_TIMEOUT_S, RegistryError
from pytest_medhelm.plugin.fixtures import ServerFactory
from pytest_medhelm.testserver import Fault

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01)
PROMPT = "Synthetic patient, 54, chest pain radiating to the left arm: next step?"


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = Engine(retry=FAST)
    yield made
    made.close()


def model_at(url: str, **fields: Any) -> ModelConfig:
    return ModelConfig(
        **{
            "name": "local",
            "provider": "openai",
            "model": "medhelm-test-model",
            "base_url": url,
            "timeout_s": 10.0,
            **fields,
        }
    )


def ask(engine: Engine, model: ModelConfig, prompt: str = PROMPT) -> Any:
    return engine.submit(engine.complete(model, ModelRequest(prompt=prompt, max_tokens=5))).result(timeout=60)


def completion(choices: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "choices": choices,
            "usage": {"prompt_tokens": 7, "completion_tokens": 3},
        }
    )


# -- transport outcomes --------------------------------------------------------------------------


def test_an_empty_choices_list_is_retried_and_then_named(medhelm_test_server: ServerFactory, engine: Engine) -> None:
    server = medhelm_test_server()
    server.inject(*[Fault.malformed(body=completion([]))] * 3)

    with pytest.raises(ModelError) as failure:
        ask(engine, model_at(server.url))

    assert server.stats.requests == 3
    assert str(failure.value) == "local: gave up after 3 attempts (malformed response body: no choices in the response)"


def test_an_empty_choices_list_once_then_an_answer_scores_the_answer(
    medhelm_test_server: ServerFactory, engine: Engine
) -> None:
    server = medhelm_test_server()
    server.inject(Fault.malformed(body=completion([])))
    assert ask(engine, model_at(server.url)).text
    assert server.stats.requests == 2


def test_a_content_filter_finish_is_an_error_naming_the_cause_and_not_retried(
    medhelm_test_server: ServerFactory, engine: Engine
) -> None:
    server = medhelm_test_server()
    server.inject(
        Fault.malformed(
            body=completion(
                [{"index": 0, "finish_reason": "content_filter", "message": {"role": "assistant", "content": None}}]
            )
        )
    )

    with pytest.raises(ModelError) as failure:
        ask(engine, model_at(server.url))

    assert not isinstance(failure.value, FatalModelError)
    assert str(failure.value) == (
        "local: the provider's content filter withheld the answer (finish_reason content_filter)"
    )
    assert server.stats.requests == 1
    assert ask(engine, model_at(server.url)).cached is False  # not cached: asked again next time


@pytest.mark.parametrize(("content", "scored"), [("The next st", "The next st"), (None, "")])
def test_a_length_finish_is_scored_as_far_as_it_got(
    medhelm_test_server: ServerFactory, engine: Engine, content: str | None, scored: str
) -> None:
    # A reasoning model that spent its whole budget thinking answers no content: scored as empty.
    server = medhelm_test_server()
    server.inject(
        Fault.malformed(
            body=completion(
                [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": content}}]
            )
        )
    )

    answer = ask(engine, model_at(server.url))

    assert answer.text == scored
    assert (answer.input_tokens, answer.output_tokens) == (7, 3)
    assert server.stats.requests == 1


# -- provider error bodies (case 8) ----------------------------------------------------------------


def quoting_400() -> Fault:
    body = {
        "error": {
            "message": f"This model's maximum context length is 8192 tokens: '{PROMPT}'",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    return Fault.http(400, body=json.dumps(body))


def test_an_error_body_is_reduced_to_status_type_and_code(medhelm_test_server: ServerFactory, engine: Engine) -> None:
    server = medhelm_test_server()
    server.inject(quoting_400())

    with pytest.raises(ModelError) as failure:
        ask(engine, model_at(server.url))

    assert str(failure.value) == "local: HTTP 400: type invalid_request_error, code context_length_exceeded"


def test_include_text_keeps_the_providers_message(medhelm_test_server: ServerFactory) -> None:
    server = medhelm_test_server()
    server.inject(quoting_400())
    engine = Engine(retry=FAST, include_text=True)
    try:
        with pytest.raises(ModelError) as failure:
            ask(engine, model_at(server.url))
    finally:
        engine.close()
    assert PROMPT in str(failure.value)


# -- an endpoint nothing listens on (case 4) ------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_dead_endpoint_stops_the_models_calls_with_one_message_naming_host_and_errno(
    engine: Engine, closed_port: int
) -> None:
    model = model_at(f"http://127.0.0.1:{closed_port}/v1")
    futures = [engine.submit(engine.complete(model, ModelRequest(prompt=f"q{i}", max_tokens=5))) for i in range(50)]
    errors = []
    for future in futures:
        with pytest.raises(FatalModelError) as failure:
            future.result(timeout=60)
        errors.append(failure.value)

    assert len({id(error) for error in errors}) == 1  # one message for all fifty
    assert str(errors[0]) == (
        f"model 'local': cannot connect to 127.0.0.1:{closed_port} ([Errno 111] Connection refused), "
        f"{CONNECT_FAILURES_BEFORE_ANY_ANSWER} times in a row and never once: is the server running at "
        f"http://127.0.0.1:{closed_port}/v1?"
    )


def test_an_endpoint_that_answered_survives_a_few_failed_connects(
    medhelm_test_server: ServerFactory, engine: Engine
) -> None:
    server = medhelm_test_server()
    model = model_at(server.url)
    assert ask(engine, model, "first").text
    engine._count_connect(model, "127.0.0.1:1 ([Errno 111] Connection refused)")  # a restart in progress
    engine._count_connect(model, "127.0.0.1:1 ([Errno 111] Connection refused)")
    engine._count_connect(model, "127.0.0.1:1 ([Errno 111] Connection refused)")
    assert engine.fatal is None
    assert ask(engine, model, "second").text


# -- timeouts and keys ------------------------------------------------------------------------------


def test_default_timeouts_for_generation_and_reasoning_models() -> None:
    registry = ModelRegistry.load()
    assert registry.resolve("gpt-4o-2024-05-13").timeout_s == 90.0
    assert registry.resolve("o3-mini").timeout_s == REASONING_TIMEOUT_S
    assert registry.resolve("deepseek-r1").timeout_s == REASONING_TIMEOUT_S
    own = ModelConfig(
        name="r",
        provider="openai",
        model="r",
        base_url="http://127.0.0.1:1/v1",
        reasoning={"max_tokens": 100},
        timeout_s=42,
    )
    assert own.timeout_s == 42  # an entry's own value wins


def test_a_registry_models_key_is_not_sent_to_another_host(medhelm_test_server: ServerFactory, engine: Engine) -> None:
    canary = "sk-canary-forwarding-0000"
    server = medhelm_test_server(api_key=canary)
    registry = ModelRegistry.load()
    elsewhere = registry.resolve(f"gpt-4o-2024-05-13@{server.url}")
    assert elsewhere.api_key_env is None
    assert registry.resolve("gpt-4o-2024-05-13@https://api.openai.com/v1/").api_key_env == "OPENAI_API_KEY"

    keyed = Engine(retry=FAST, env={"OPENAI_API_KEY": canary})
    try:
        with pytest.raises(FatalModelError) as failure:
            ask(keyed, elsewhere)
    finally:
        keyed.close()
    assert "no API key was sent" in str(failure.value)
    assert all(canary not in json.dumps(request) for request in server.requests)


def test_a_models_file_entry_sends_the_key_to_its_own_base_url(
    medhelm_test_server: ServerFactory, tmp_path: Any
) -> None:
    canary = "sk-canary-forwarding-0001"
    server = medhelm_test_server(api_key=canary)
    path = tmp_path / "models.yaml"
    path.write_text(
        f"models:\n  - name: gpt-4o-proxy\n    provider: openai\n    model: gpt-4o-2024-05-13\n"
        f"    base_url: {server.url}\n    api_key_env: OPENAI_API_KEY\n",
        encoding="utf-8",
    )
    model = ModelRegistry.load(path).resolve("gpt-4o-proxy")
    keyed = Engine(retry=FAST, env={"OPENAI_API_KEY": canary})
    try:
        assert ask(keyed, model).text
    finally:
        keyed.close()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("    base_url: api.example.test/v1\n", "field 'base_url': Value error, expected http://host[:port]/path"),
        ("", "has no base_url: set one in its models-file entry or use local-llm@http://host:port/v1"),
    ],
)
def test_a_model_without_a_usable_base_url_is_refused_before_any_call(tmp_path: Any, entry: str, message: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(f"models:\n  - name: local-llm\n    provider: openai\n    model: x\n{entry}", encoding="utf-8")
    with pytest.raises(RegistryError) as failure:
        ModelRegistry.load(path).resolve("local-llm")
    assert message in str(failure.value)
