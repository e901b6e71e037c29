"""The request engine: every model call of a session goes through one asyncio loop.

The loop runs in a background thread, so pytest's main thread stays synchronous while up to
``concurrency`` requests per model are in flight. Each model gets a channel: a semaphore, an
optional requests-per-minute pacer and one long-lived ``httpx`` transport (explicit timeouts,
injectable). The default transport is ``httpx-aiohttp``'s: httpx's own connection pool costs about
3 ms of CPU a request at 32 connections, which alone caps one process below a 32-slot server's rate;
aiohttp's pool costs a fraction of that. Requests go to the transport directly, without an
``httpx.AsyncClient`` around it: the client's layers (cookies, redirects, URL merging) cost more
CPU than the request itself and do nothing for an API call. Identical requests in flight are sent
once and shared.

Failures: 429, 5xx, timeouts, dropped connections and malformed bodies (an empty ``choices``
among them) are retried with exponential backoff and full jitter, honouring Retry-After.
401/403/404, a missing API key and an endpoint that refuses connections (3 failed connects before
any answer, or 20 in a row after answers) are fatal: the engine remembers the first one and fails
every later call with it at once, so the session stops with one message. Other 4xx, and an answer
withheld by the provider's content filter, fail just that request. Error messages carry the
provider's status, error type and code, not its message (which may quote the prompt), unless
``include_text`` is set.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar


from pytest_medhelm.engine.budget import Budget
from pytest_medhelm.engine.cache import CachedResponse, ResponseCache, cache_key
from pytest_medhelm.engine.http_client import (
    aiohttp_transport,
    connect_failure,
    error_detail,
    header_secrets,
    retry_after,
    transport_failure,
)
from pytest_medhelm.models import baselines
from pytest_medhelm.models.providers import (
    ContentFiltered,
    MalformedResponse,
    ModelRequest,
    auth_headers,
    build_call,
    parse_response,
    postprocess,
)
from pytest_medhelm.models.registry import ModelConfig

if TYPE_CHECKING:
    import httpx

    from pytest_medhelm.engine.process import EngineConnection

# httpx and aiohttp are imported when the first request is sent, not at plugin load: together
# they cost every pytest start-up half a second, and a run served from the cache needs neither.

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
FATAL_STATUS = frozenset({401, 403, 404})
# Failed connects to one endpoint that stop its calls: before it ever answered (nothing listens,
# a wrong port or host), and in a row after it did (the server went away mid-run).
CONNECT_FAILURES_BEFORE_ANY_ANSWER = 3
CONNECT_FAILURES_IN_A_ROW = 20
# What httpx.AsyncClient would add to every request (it is not used: see the module docstring).
_CLIENT_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": "pytest-medhelm",
}


class ModelError(Exception):
    """One request failed for good (after retries, or a non-retryable 4xx)."""


class FatalModelError(ModelError):
    """Nothing will work for this model (bad key, unknown model, wrong endpoint): stop the run."""


@dataclass(frozen=True, slots=True)
class Completion:
    model: str
    text: str
    input_tokens: int
    output_tokens: int
    latency_s: float
    cached: bool
    cost_usd: float
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay_s)
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, *, connect_failure: str | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        # "host:port (errno text)" when no connection could be made at all.
        self.connect_failure = connect_failure


@dataclass
class _EndpointHealth:
    answered: bool = False
    failed_connects: int = 0


@dataclass
class _Channel:
    model: ModelConfig
    semaphore: asyncio.Semaphore
    transport: httpx.AsyncBaseTransport
    timeout: dict[str, float]
    min_interval_s: float = 0.0
    next_start: float = 0.0
    pace_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    urls: dict[str, httpx.URL] = field(default_factory=dict)

    def url(self, url: str) -> httpx.URL:
        # Parsed once: httpx parses (and IP-validates) a URL string on every request otherwise.
        parsed = self.urls.get(url)
        if parsed is None:
            import httpx

            parsed = self.urls[url] = httpx.URL(url)
        return parsed

    async def pace(self) -> None:
        if not self.min_interval_s:
            return
        async with self.pace_lock:
            now = time.monotonic()
            wait = self.next_start - now
            self.next_start = max(now, self.next_start) + self.min_interval_s
        if wait > 0:
            await asyncio.sleep(wait)


@dataclass
class EngineStats:
    requests_sent: int = 0
    cache_hits: int = 0
    retries: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0


class Engine:
    def __init__(
        self,
        *,
        concurrency: int = 16,
        cache: ResponseCache | None = None,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.AsyncBaseTransport | None = None,
        env: Mapping[str, str] | None = None,
        process: EngineConnection | None = None,
        include_text: bool = False,
        budget: Budget | None = None,
    ) -> None:
        self.concurrency = max(1, concurrency)
        # --medhelm-budget, when this engine sends the requests (else the engine process holds it).
        self.budget = budget
        # Providers' error messages (which may quote the prompt) in errors: --medhelm-include-text.
        self.include_text = include_text
        self._health: dict[str, _EndpointHealth] = {}
        # Network calls go to this child process when given (see engine.process); baselines stay here.
        self._process = process
        self.cache = cache
        self.retry = retry
        self.stats = EngineStats()
        self._transport = transport
        self._env = os.environ if env is None else env
        self._channels: dict[str, _Channel] = {}
        self._inflight: dict[str, asyncio.Future[Completion]] = {}
        self.fatal: FatalModelError | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="medhelm-engine", daemon=True)
        self._thread.start()
        self._closed = False

    # -- running coroutines on the engine's loop -------------------------------------------------

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the engine loop; thread-safe."""
        if self._closed:
            coro.close()
            raise RuntimeError("engine is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def complete_sync(self, model: ModelConfig, request: ModelRequest) -> Completion:
        if threading.get_ident() == self._thread.ident:
            # Blocking the loop on a call that needs the loop would hang the session for good
            # (a synchronous scorer asking a judge, say): fail loudly instead.
            raise RuntimeError("complete_sync() called on the engine's own loop: await engine.complete() instead")
        return self.submit(self.complete(model, request)).result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for transport in {id(c.transport): c.transport for c in self._channels.values()}.values():
                await transport.aclose()
            if self._process is not None:
                self._process.disconnect()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if self._process is not None:
            self._process.close()
        if self.cache is not None:
            self.cache.close()

    # -- the one call ---------------------------------------------------------------------------

    async def complete(self, model: ModelConfig, request: ModelRequest, *, budgeted: bool = False) -> Completion:
        """``model``'s answer to ``request``. ``budgeted``: a benchmark item's request (its model's or
        a judge's), which the budget refuses (:class:`~pytest_medhelm.engine.budget.BudgetSpent`)
        once it is spent; every request sent is charged to it, budgeted or not (a judge's repair
        prompt, a call from a user's own test)."""
        if self.fatal is not None:
            raise self.fatal
        if model.provider == "baseline":
            started = time.perf_counter()
            text, usage = baselines.complete(model.model, request)
            return Completion(
                model.name, text, usage.input_tokens, usage.output_tokens, time.perf_counter() - started, False, 0.0
            )
        if self._process is not None:
            try:
                return await self._process.complete(model, request, budgeted=budgeted)
            except FatalModelError as exc:
                if self.fatal is None:
                    self.fatal = exc
                raise
        call = build_call(model, request)
        key = cache_key({"provider": model.provider, "base_url": model.base_url, "model": model.model}, call.body)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return self._completion(model, request, hit, cached=True)
        shared = self._inflight.get(key)
        if shared is not None:
            return await asyncio.shield(shared)
        future: asyncio.Future[Completion] = self._loop.create_future()
        self._inflight[key] = future
        try:
            response = await self._send(model, call.url, call.body, budgeted=budgeted)
            if self.cache is not None:
                self.cache.put(key, model.name, response)
            result = self._completion(model, request, response, cached=False)
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: sharing waiters re-raise it themselves
            raise
        finally:
            del self._inflight[key]

    def _completion(
        self, model: ModelConfig, request: ModelRequest, response: CachedResponse, *, cached: bool
    ) -> Completion:
        return Completion(
            model=model.name,
            text=postprocess(model, response.text, request.stop),
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            latency_s=response.latency_s,
            cached=cached,
            cost_usd=model.cost(response.input_tokens, response.output_tokens),
            reasoning_tokens=response.reasoning_tokens,
        )

    def _channel(self, model: ModelConfig) -> _Channel:
        channel = self._channels.get(model.name)
        if channel is None:
            limit = min(self.concurrency, model.rate_limit.max_concurrency or self.concurrency)
            transport = self._transport or aiohttp_transport(model.base_url or "", limit)
            timeout = {
                "connect": min(30.0, model.timeout_s),
                "read": model.timeout_s,
                "write": model.timeout_s,
                "pool": model.timeout_s,
            }
            rpm = model.rate_limit.requests_per_minute
            channel = _Channel(model, asyncio.Semaphore(limit), transport, timeout, 60.0 / rpm if rpm else 0.0)
            self._channels[model.name] = channel
        return channel

    def _api_key(self, model: ModelConfig) -> str | None:
        if not model.api_key_env:
            return None
        key = self._env.get(model.api_key_env)
        if not key:
            self._set_fatal(f"model {model.name!r} needs an API key in ${model.api_key_env}, which is not set")
        return key

    def _set_fatal(self, message: str) -> None:
        if self.fatal is None:
            self.fatal = FatalModelError(message)
        raise self.fatal

    async def _send(
        self, model: ModelConfig, url: str, body: dict[str, Any], *, budgeted: bool = False
    ) -> CachedResponse:
        channel = self._channel(model)
        headers = auth_headers(model, self._api_key(model))
        policy = RetryPolicy(**model.retry.model_dump()) if model.retry else self.retry
        last_reason = ""
        for attempt in range(1, policy.max_attempts + 1):
            if self.fatal is not None:
                raise self.fatal
            try:
                async with channel.semaphore:
                    await channel.pace()
                    # Checked again after the wait: a fatal error that arrived meanwhile (a bad
                    # key) must not be repeated by every queued request.
                    if self.fatal is not None:
                        raise self.fatal
                    # Checked when the request would go out, not when it was queued: the requests
                    # that finished meanwhile are charged, so the spend stops just past the limit.
                    if budgeted and self.budget is not None:
                        self.budget.check()
                    response = await self._attempt(channel, model, url, body, headers)
                    if self.budget is not None:  # charged before the slot frees: the next check sees it
                        self.budget.charge(model.cost(response.input_tokens, response.output_tokens))
                    return response
            except _Retry as retry:
                last_reason = str(retry)
                self._count_connect(model, retry.connect_failure)
                if attempt == policy.max_attempts:
                    break
                self.stats.retries += 1
                await asyncio.sleep(policy.delay(attempt, retry.retry_after))
        raise ModelError(f"{model.name}: gave up after {policy.max_attempts} attempts ({last_reason})")

    def _count_connect(self, model: ModelConfig, failure: str | None) -> None:
        health = self._health.setdefault(model.base_url or "", _EndpointHealth())
        if failure is None:  # the server answered, whatever it said
            health.answered, health.failed_connects = True, 0
            return
        health.failed_connects += 1
        limit = CONNECT_FAILURES_IN_A_ROW if health.answered else CONNECT_FAILURES_BEFORE_ANY_ANSWER
        if health.failed_connects >= limit:
            self._set_fatal(
                f"model {model.name!r}: cannot connect to {failure}, {health.failed_connects} times in "
                f"a row{'' if health.answered else ' and never once'}: is the server running at "
                f"{model.base_url}?"
            )

    async def _attempt(
        self, channel: _Channel, model: ModelConfig, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> CachedResponse:
        # ``model`` is the caller's: the channel (keyed by name) may have been opened by a
        # same-named config for another provider, whose response format would not parse.
        self.stats.requests_sent += 1
        self.stats.in_flight += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.stats.in_flight)
        started = time.perf_counter()
        import aiohttp
        import httpx

        request = httpx.Request(
            "POST",
            channel.url(url),
            json=body,
            headers={**_CLIENT_HEADERS, **headers},
            extensions={"timeout": channel.timeout},
        )
        try:
            response = await channel.transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except (httpx.TransportError, aiohttp.ClientError) as exc:  # aiohttp's unmapped protocol errors
            raise _Retry(transport_failure(exc), connect_failure=connect_failure(exc)) from None
        finally:
            self.stats.in_flight -= 1
        self._count_connect(model, None)
        latency = time.perf_counter() - started
        status = response.status_code
        if status == 200:
            try:
                text, usage = parse_response(model, response.json())
            except ContentFiltered as exc:
                raise ModelError(f"{model.name}: {exc}") from None
            except (ValueError, MalformedResponse) as exc:
                raise _Retry(f"malformed response body: {str(exc)[:80]}") from None
            return CachedResponse(text, usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, latency)
        if status in RETRYABLE_STATUS:
            raise _Retry(f"HTTP {status}", retry_after(response))
        detail = error_detail(response, header_secrets(headers), include_text=self.include_text)
        if status in FATAL_STATUS:
            what = {401: "the API key was rejected", 403: "access denied", 404: "model or endpoint not found"}[status]
            if status in (401, 403) and not header_secrets(headers):
                what = "no API key was sent (a registry model's key goes only to its own base_url)"
            self._set_fatal(f"model {model.name!r} at {model.base_url}: {what} (HTTP {status}{detail})")
        raise ModelError(f"{model.name}: HTTP {status}{detail}")
