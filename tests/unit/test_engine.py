"""The request engine against real local servers (``TestServer`` on 127.0.0.1, no mocks).

Every behaviour a long paid run relies on: how many requests are in flight, which failures are
retried and how long the engine waits, which failures stop the session, what the providers are
sent and what comes back. Counts are read at the server, so they are what really went over the wire.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_medhelm.engine import Completion, Engine, FatalModelError, ModelError, RetryPolicy
from pytest_medhelm.models import ModelConfig, ModelRequest
from pytest_medhelm.models.registry import Price, RateLimit, Reasoning, Retry
from pytest_medhelm.plugin.fixtures import ServerFactory
from pytest_medhelm.testserver import Fault, TestServer

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=10.0)
KEY_ENV = "MEDHELM_TEST_KEY"
SECRET = "sk-test-0123456789-SECRET"  # made up; must never appear in an error message

EngineFactory = Callable[..., Engine]


@pytest.fixture
def make_engine() -> Iterator[EngineFactory]:
    """Engines with fast retries by default, closed after the test."""
    engines: list[Engine] = []

    def make(**kwargs: Any) -> Engine:
        kwargs.setdefault("retry", FAST_RETRY)
        engine = Engine(**kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def local_model(server: TestServer, **fields: Any) -> ModelConfig:
    """An OpenAI-compatible model served by ``server``; a generous timeout, so that a loaded
    machine never turns a slow answer into a retry the test did not ask for."""
    values: dict[str, Any] = {
        "name": "local-test-model",
        "provider": "openai",
        "model": "medhelm-test-model",
        "base_url": server.url,
        "timeout_s": 10.0,
    }
    values.update(fields)
    return ModelConfig(**values)


def ask(engine: Engine, model: ModelConfig, prompt: str = "Is aspirin an NSAID?", **request: Any) -> Completion:
    request.setdefault("max_tokens", 5)
    return engine.submit(engine.complete(model, ModelRequest(prompt=prompt, **request))).result(timeout=60)


def ask_all(engine: Engine, model: ModelConfig, prompts: Sequence[str]) -> list[Completion | BaseException]:
    """Send every prompt at once; each completion, or the exception it raised."""
    futures = [engine.submit(engine.complete(model, ModelRequest(prompt=p, max_tokens=5))) for p in prompts]
    results: list[Completion | BaseException] = []
    for future in futures:
        try:
            results.append(future.result(timeout=60))
        except Exception as exc:
            results.append(exc)
    return results


def timed(call: Callable[[], Completion]) -> tuple[Completion, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


# -- the public fixture --------------------------------------------------------------------------


def test_fixture_starts_servers_on_loopback_with_the_given_settings(medhelm_test_server: ServerFactory) -> None:
    first = medhelm_test_server()
    second = medhelm_test_server(latency=0.01, slots=2, api_key="k", known_models=["m1"])

    assert first.url.startswith("http://127.0.0.1:") and first.url.endswith("/v1")
    assert first.port != second.port
    assert (first.latency, first.slots) == (0.0, 64)
    assert (second.latency, second.slots) == (0.01, 2)
    refused = httpx.post(f"{second.url}/chat/completions", json={"model": "m1", "messages": []}, timeout=10)
    assert refused.status_code == 401  # the api_key keyword reached the server


def test_fixture_stops_every_server_when_the_test_ends(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import json, pathlib

        def test_harness(medhelm_test_server):
            servers = [medhelm_test_server(), medhelm_test_server(latency=0.01)]
            pathlib.Path("ports.json").write_text(json.dumps([s.port for s in servers]))
    """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)

    for port in json.loads(Path(pytester.path / "ports.json").read_text()):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


# -- concurrency ------------------------------------------------------------------------------------


def test_keeps_exactly_the_concurrency_in_flight_against_a_slow_server(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server(latency=0.2, slots=64)
    engine = make_engine(concurrency=8)

    results = ask_all(engine, local_model(server), [f"question {i}" for i in range(40)])

    assert all(isinstance(r, Completion) and r.text == "A" for r in results)
    assert server.stats.requests == 40
    assert server.stats.peak_in_flight == 8  # the server could take 64: the engine is the limit


def test_a_models_lower_max_concurrency_wins_over_the_engines(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server(latency=0.1, slots=64)
    engine = make_engine(concurrency=8)
    model = local_model(server, rate_limit=RateLimit(max_concurrency=3))

    results = ask_all(engine, model, [f"question {i}" for i in range(15)])

    assert all(isinstance(r, Completion) for r in results)
    assert server.stats.peak_in_flight == 3


def test_identical_concurrent_requests_are_sent_once(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server(latency=0.2)
    engine = make_engine(concurrency=8)

    results = ask_all(engine, local_model(server), ["the same question"] * 10)

    assert server.stats.requests == 1
    assert all(isinstance(r, Completion) and r.text == "A" for r in results)


# -- retried failures -------------------------------------------------------------------------------


def test_429_waits_at_least_the_retry_after_seconds(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    server.inject(Fault.http(429, retry_after=0.5))
    engine = make_engine()

    completion, elapsed = timed(lambda: ask(engine, local_model(server)))

    assert completion.text == "A"
    assert server.stats.by_outcome == {"429": 1, "200": 1}
    assert elapsed >= 0.5  # our own backoff (0.01 s base) would have retried far sooner


def test_429_honours_the_http_date_form_of_retry_after(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    # HTTP dates have whole seconds: "two seconds from now" is between one and two seconds away.
    server.inject(Fault.http(429, retry_after=email.utils.formatdate(time.time() + 2, usegmt=True)))
    engine = make_engine()

    completion, elapsed = timed(lambda: ask(engine, local_model(server)))

    assert completion.text == "A"
    assert server.stats.requests == 2
    assert elapsed >= 0.8


def test_an_unreadable_retry_after_falls_back_to_backoff(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    server.inject(Fault.http(503, retry_after="soon, probably"))
    engine = make_engine()

    assert ask(engine, local_model(server)).text == "A"
    assert server.stats.requests == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_until_an_answer(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory, status: int
) -> None:
    server = medhelm_test_server()
    server.inject(Fault.http(status), Fault.http(status))
    engine = make_engine()

    assert ask(engine, local_model(server)).text == "A"
    assert server.stats.by_outcome == {str(status): 2, "200": 1}


@pytest.mark.parametrize(
    "fault, outcome",
    [
        (Fault.malformed(), "malformed"),  # a 200 whose body is cut off
        (Fault.malformed('{"choices": []}'), "malformed"),  # valid JSON, not a completion
        (Fault.drop(), "dropped"),  # connection closed, no response
    ],
    ids=["truncated-body", "wrong-shape", "dropped"],
)
def test_broken_answers_are_retried(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory, fault: Fault, outcome: str
) -> None:
    server = medhelm_test_server()
    server.inject(fault)
    engine = make_engine()

    assert ask(engine, local_model(server)).text == "A"
    assert server.stats.requests == 2
    assert server.stats.by_outcome.get(outcome) == 1


def test_a_request_hanging_past_the_timeout_is_retried(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    server.inject(Fault.hang(30))
    engine = make_engine()

    completion, elapsed = timed(lambda: ask(engine, local_model(server, timeout_s=1.0)))

    assert completion.text == "A"
    assert server.stats.requests == 2
    assert 0.9 <= elapsed < 20  # waited for the timeout, not for the 30 s hang


def test_exhausted_retries_fail_that_request_only(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    server.inject(*[Fault.http(503)] * 4)
    engine = make_engine()
    model = local_model(server)

    with pytest.raises(ModelError) as failure:
        ask(engine, model, "first question")

    assert not isinstance(failure.value, FatalModelError)
    assert "local-test-model" in str(failure.value) and "HTTP 503" in str(failure.value)
    assert server.stats.requests == 4
    assert ask(engine, model, "second question").text == "A"  # the session goes on


def test_a_models_own_retry_policy_replaces_the_engines(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    server.inject(*[Fault.drop()] * 5)
    engine = make_engine(retry=RetryPolicy(max_attempts=6, base_delay_s=0.01))
    model = local_model(server, retry=Retry(max_attempts=2, base_delay_s=0.01))

    with pytest.raises(ModelError, match="local-test-model.*connection failed"):
        ask(engine, model)
    assert server.stats.requests == 2


def test_400_fails_at_once_without_retrying(medhelm_test_server: ServerFactory, make_engine: EngineFactory) -> None:
    server = medhelm_test_server()
    server.inject(Fault.http(400))
    engine = make_engine()
    model = local_model(server)

    with pytest.raises(ModelError) as failure:
        ask(engine, model, "a rejected request")

    assert not isinstance(failure.value, FatalModelError)
    assert "HTTP 400" in str(failure.value)
    assert server.stats.requests == 1
    assert ask(engine, model, "another request").text == "A"


# -- fatal failures ---------------------------------------------------------------------------------


def test_a_rejected_key_is_fatal_once_and_for_every_later_call(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server(api_key="the-right-key")
    engine = make_engine(env={KEY_ENV: SECRET})
    model = local_model(server, api_key_env=KEY_ENV)

    with pytest.raises(FatalModelError) as first:
        ask(engine, model, "question 0")
    later = ask_all(engine, model, [f"question {i}" for i in range(1, 6)])

    assert server.stats.requests == 1  # nothing sent after the first 401
    assert all(error is first.value for error in later)
    message = str(first.value)
    assert "local-test-model" in message and "401" in message
    assert SECRET not in message


def test_queued_requests_are_not_sent_after_a_fatal_answer(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server(latency=0.05, api_key="the-right-key")
    engine = make_engine(concurrency=2, env={KEY_ENV: SECRET})

    results = ask_all(engine, local_model(server, api_key_env=KEY_ENV), [f"question {i}" for i in range(20)])

    assert all(isinstance(r, FatalModelError) for r in results)
    assert len({id(r) for r in results}) == 1  # one message for the whole session
    assert server.stats.requests <= 2  # only those already in flight


def test_a_provider_message_quoting_the_key_is_redacted(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    quoting = {"error": {"message": f"Incorrect API key provided: {SECRET}"}}  # as some providers do
    server.inject(Fault.http(401, body=json.dumps(quoting)))
    engine = make_engine(env={KEY_ENV: SECRET}, include_text=True)  # the provider's message asked for

    with pytest.raises(FatalModelError) as failure:
        ask(engine, local_model(server, api_key_env=KEY_ENV))

    assert SECRET not in str(failure.value)
    assert "Incorrect API key provided: [redacted]" in str(failure.value)


@pytest.mark.parametrize("where", ["unknown-model", "wrong-path"])
def test_404_is_fatal(medhelm_test_server: ServerFactory, make_engine: EngineFactory, where: str) -> None:
    server = medhelm_test_server(known_models=["some-other-model"])
    engine = make_engine()
    model = local_model(server, base_url=server.base_url) if where == "wrong-path" else local_model(server)

    with pytest.raises(FatalModelError, match="local-test-model.*404") as first:
        ask(engine, model, "question 0")
    with pytest.raises(FatalModelError) as again:
        ask(engine, model, "question 1")

    assert again.value is first.value
    assert server.stats.requests == 1


def test_a_missing_key_variable_is_fatal_and_named(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    engine = make_engine(env={})

    with pytest.raises(FatalModelError, match=rf"\${KEY_ENV}"):
        ask(engine, local_model(server, api_key_env=KEY_ENV))
    assert server.stats.requests == 0


# -- what is sent and what comes back ------------------------------------------------------------


class RecordingTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that also remembers each request's headers."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.headers: list[httpx.Headers] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_anthropic_round_trip(medhelm_test_server: ServerFactory, make_engine: EngineFactory) -> None:
    server = medhelm_test_server(api_key=SECRET, responder=lambda body: "Answer: B ### then more")
    transport = RecordingTransport()
    engine = make_engine(transport=transport, env={KEY_ENV: SECRET})
    model = local_model(
        server,
        provider="anthropic",
        model="claude-test",
        api_key_env=KEY_ENV,
        price=Price(input_per_mtok=3.0, output_per_mtok=15.0, as_of="2025-05-01"),
    )

    completion = ask(engine, model, "Name one antibiotic.", max_tokens=20, stop=("\n", "  ", "###"))

    assert completion.text == "Answer: B "  # cut at the stop sequence
    (body,) = server.requests
    assert body["stop_sequences"] == ["###"]  # whitespace-only stops dropped, as HELM does for Claude
    assert body["max_tokens"] == 20 and body["messages"] == [{"role": "user", "content": "Name one antibiotic."}]
    (headers,) = transport.headers
    assert headers["x-api-key"] == SECRET and "authorization" not in headers
    assert headers["anthropic-version"] == "2023-06-01"
    assert (completion.input_tokens, completion.output_tokens) == (3, 5)  # the server counts words
    assert completion.cost_usd == pytest.approx((3 * 3.0 + 5 * 15.0) / 1e6)


def test_openai_sends_the_key_as_a_bearer_token(medhelm_test_server: ServerFactory, make_engine: EngineFactory) -> None:
    server = medhelm_test_server(api_key=SECRET)
    transport = RecordingTransport()
    engine = make_engine(transport=transport, env={KEY_ENV: SECRET})

    assert ask(engine, local_model(server, api_key_env=KEY_ENV)).text == "A"
    assert transport.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_o_series_models_get_max_completion_tokens_and_no_temperature(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    engine = make_engine()
    model = local_model(server, model="o3-mini-2025-01-31", reasoning=Reasoning(openai_o_params=True))

    ask(engine, model, "Which option? A or B", max_tokens=1)

    (body,) = server.requests
    assert body["max_completion_tokens"] == 4000  # reasoning models: 4000 everywhere, even for one letter
    assert "max_tokens" not in body and "temperature" not in body


def deepseek_answer(body: dict[str, Any]) -> str:
    prompt = body["messages"][0]["content"]
    if "unfinished" in prompt:
        return "<think>The patient is febrile, so"
    return "<think>\nThe patient is febrile.\n</think>\n\nB"


def test_deepseek_think_blocks_are_stripped(medhelm_test_server: ServerFactory, make_engine: EngineFactory) -> None:
    server = medhelm_test_server(responder=deepseek_answer)
    engine = make_engine()
    model = local_model(server, model="deepseek-reasoner", reasoning=Reasoning(strip_think=True))

    closed = ask(engine, model, "finished thinking: A or B?", max_tokens=1)
    unclosed = ask(engine, model, "unfinished thinking: A or B?", max_tokens=1)

    assert closed.text == "B"  # the block and the blank line after it are gone
    assert unclosed.text == ""  # an unclosed block empties the output, as in MedHELM
    assert [body["max_tokens"] for body in server.requests] == [4000, 4000]
    assert all(body["temperature"] == 0.0 for body in server.requests)


def test_a_completion_carries_token_usage_and_cost(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server(responder=lambda body: "alpha beta gamma")
    engine = make_engine()
    model = local_model(server, price=Price(input_per_mtok=2.0, output_per_mtok=10.0, as_of="2026-01-01"))

    completion = ask(engine, model, "one two three four", max_tokens=10)

    assert completion.model == "local-test-model" and completion.text == "alpha beta gamma"
    assert (completion.input_tokens, completion.output_tokens) == (4, 3)
    assert completion.cost_usd == pytest.approx((4 * 2.0 + 3 * 10.0) / 1e6)
    assert completion.cached is False and completion.latency_s > 0


def test_an_https_endpoint_verifies_certificates_and_plain_http_loads_no_ca_bundle() -> None:
    import ssl

    from pytest_medhelm.engine.http_client import aiohttp_transport

    async def connector_tls(base_url: str) -> tuple[object, object]:
        transport = aiohttp_transport(base_url, 4)
        session = transport.get_client()
        try:
            return transport.ssl_context, session.connector._ssl  # type: ignore[union-attr]
        finally:
            await session.close()

    context, used = asyncio.run(connector_tls("https://api.example.invalid/v1"))
    assert used is context and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    _, used = asyncio.run(connector_tls("http://127.0.0.1:8000/v1"))
    assert used is True  # aiohttp's own verified default, were a TLS connection ever opened


# -- model calls in a child process (engine.process) -------------------------------------------


@pytest.fixture
def make_process_engine(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Engines whose network calls go to a child process; each closed (child and all) after the test."""
    from pytest_medhelm.engine.process import EngineProcess

    engines: list[Engine] = []

    def make(concurrency: int = 4) -> Engine:
        child = EngineProcess(concurrency=concurrency, cache=tmp_path / "responses.sqlite")
        engine = Engine(concurrency=concurrency, process=child)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def test_a_child_process_answers_with_usage_and_serves_a_repeat_from_its_cache(
    medhelm_test_server: ServerFactory, make_process_engine: Callable[..., Engine]
) -> None:
    server = medhelm_test_server()
    engine = make_process_engine()
    model = local_model(server)

    first = ask(engine, model)
    second = ask(engine, model)

    assert first.model == model.name and first.text and first.input_tokens > 0 and not first.cached
    assert second.cached and second.text == first.text and second.input_tokens == first.input_tokens
    assert server.stats.requests == 1


def test_a_child_process_keeps_its_concurrency_in_flight(
    medhelm_test_server: ServerFactory, make_process_engine: Callable[..., Engine]
) -> None:
    server = medhelm_test_server(latency=0.1, slots=32)
    engine = make_process_engine(concurrency=6)

    results = ask_all(engine, local_model(server), [f"question {i}" for i in range(30)])

    assert all(isinstance(result, Completion) for result in results)
    assert server.stats.peak_in_flight == 6


def test_a_rejected_key_in_the_child_is_fatal_in_the_parent_without_the_key(
    medhelm_test_server: ServerFactory, make_process_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)  # the child inherits the environment, as a real key would reach it
    server = medhelm_test_server(api_key="the-right-key")
    engine = make_process_engine()
    model = local_model(server, api_key_env=KEY_ENV)

    with pytest.raises(FatalModelError) as first:
        ask(engine, model, "question 0")
    later = ask_all(engine, model, [f"question {i}" for i in range(1, 6)])

    assert engine.fatal is first.value
    assert all(error is first.value for error in later)
    assert server.stats.requests == 1
    assert "401" in str(first.value) and SECRET not in str(first.value)


def test_calls_fail_clearly_once_the_child_is_gone_and_close_ends_it(
    medhelm_test_server: ServerFactory, make_process_engine: Callable[..., Engine]
) -> None:
    server = medhelm_test_server()
    engine = make_process_engine()
    model = local_model(server)
    ask(engine, model)
    child = engine._process._process  # type: ignore[union-attr]

    os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(ModelError, match="engine process exited"):
        ask(engine, model, "a question after the child died")

    engine.close()
    assert child.exitcode() is not None


def test_a_forked_child_answers_caches_and_leaves_the_parents_output_alone(
    medhelm_test_server: ServerFactory, tmp_path: Path
) -> None:
    # In a test process the server's thread is running, so children are spawned here; a fresh
    # single-threaded parent forks, as a pytest session does.
    server = medhelm_test_server()
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys\n"
        "from pytest_medhelm.engine import Engine\n"
        "from pytest_medhelm.engine.process import EngineProcess\n"
        "from pytest_medhelm.models import ModelConfig, ModelRequest\n"
        "print('written once', end=' ')  # still in the buffer when the child is forked\n"
        "child = EngineProcess(concurrency=2, cache=sys.argv[2])\n"
        "engine = Engine(concurrency=2, process=child)\n"
        "model = ModelConfig(name='local', provider='openai', model='m', base_url=sys.argv[1])\n"
        "answers = [engine.complete_sync(model, ModelRequest(prompt='q', max_tokens=4)) for _ in range(2)]\n"
        "engine.close()\n"
        "print(type(child._process).__name__, [a.cached for a in answers], child._process.exitcode())\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, str(script), server.url, str(tmp_path / "cache.sqlite")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    if sys.platform.startswith("linux"):
        assert result.stdout.strip() == "written once _Forked [False, True] 0"
    assert server.stats.requests == 1


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_planned_calls_are_sent_at_once_and_answer_the_calls_that_come_later(
    medhelm_test_server: ServerFactory, make_process_engine: Callable[..., Engine]
) -> None:
    server = medhelm_test_server(latency=0.2)
    engine = make_process_engine(concurrency=4)
    model = local_model(server)
    requests = [ModelRequest(prompt=f"question {i}", max_tokens=5) for i in range(4)]

    engine.submit(engine._process.plan(model, requests)).result(timeout=30)  # type: ignore[union-attr]
    wait_for(lambda: server.stats.requests == 4)  # sent with nobody asking yet
    answers = ask_all(engine, model, [request.prompt for request in requests])

    assert all(isinstance(answer, Completion) and not answer.cached for answer in answers)
    assert (server.stats.requests, server.stats.duplicates) == (4, 0)


def test_dropped_planned_calls_are_cancelled_and_a_later_call_is_sent_afresh(
    medhelm_test_server: ServerFactory, make_process_engine: Callable[..., Engine]
) -> None:
    server = medhelm_test_server(latency=0.3)
    engine = make_process_engine(concurrency=2)
    model = local_model(server)
    requests = [ModelRequest(prompt=f"question {i}", max_tokens=5) for i in range(10)]
    connection = engine._process
    assert connection is not None

    engine.submit(connection.plan(model, requests)).result(timeout=30)
    wait_for(lambda: server.stats.requests == 2)  # the first two slots' worth
    engine.submit(connection.drop(model, requests)).result(timeout=30)
    time.sleep(1.0)  # three latencies: a planned call still queued would have been sent by now

    assert server.stats.requests == 2
    answer = ask(engine, model, "question 5", max_tokens=5)
    assert not answer.cached and server.stats.requests == 3


def test_the_child_does_not_outlive_a_parent_that_dies_without_closing(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import os\n"
        "from pytest_medhelm.engine.process import EngineProcess\n"
        "child = EngineProcess(concurrency=1, cache=None)\n"
        "print(child._process.pid, type(child._process).__name__, flush=True)\n"
        "os._exit(0)  # no close(): the way a SIGKILLed parent goes\n",
        encoding="utf-8",
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    pid_text, start = result.stdout.split()
    pid = int(pid_text)
    assert start == ("_Forked" if sys.platform.startswith("linux") else "_Spawned")

    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left
