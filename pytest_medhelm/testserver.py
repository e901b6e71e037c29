"""A small OpenAI/Anthropic-compatible HTTP server for tests and benchmarks.

``TestServer`` answers ``POST /v1/chat/completions`` (OpenAI Chat Completions),
``POST /v1/messages`` (Anthropic Messages) and ``GET /v1/models`` with
deterministic completions, and exposes its own counters on ``GET /stats``
(reset with ``POST /stats/reset``).  It is used in two places:

* the test suite, to exercise the engine's retry, timeout and error handling
  against scripted failures (:class:`Fault`);
* the performance benchmark scripts, which push thousands of requests through
  it with a fixed artificial latency and a fixed number of serving slots and
  then read ``/stats`` to see how much concurrency the client really achieved.

Why a hand-written HTTP/1.1 server on raw asyncio streams instead of
``http.server`` or a framework?  The fault injection needs raw control of the
bytes on the wire: a *malformed* answer must be a ``200`` whose body is
truncated, non-JSON text; a *dropped* connection must be closed without a
single byte of response; a *hung* request must hold the socket open, reading
nothing and writing nothing, until a deadline.  Frameworks normalise exactly
those things away.  Owning the parser also keeps the per-request overhead tiny
(tens of microseconds), so a zero-latency run measures the client, not the
server.  The parser is deliberately small but careful: request line and header
validation, ``Content-Length`` (and ``Transfer-Encoding: chunked``) bodies,
``Expect: 100-continue``, persistent connections (HTTP/1.1 keep-alive by
default, ``Connection: close`` honoured, HTTP/1.0 closes unless asked not to),
and clear ``400``/``411``/``413``/``431``/``501``/``505`` answers for input it
will not handle.  Only the standard library is used.

Semantics in short:

* ``slots`` requests are *served* concurrently (a resizable semaphore); extra
  requests queue and still count as *in flight*.  ``latency`` seconds are spent
  while holding a slot.
* Faults queued with :meth:`TestServer.inject` are consumed one per request, in
  arrival order, by the completion endpoints (``/v1/chat/completions`` and
  ``/v1/messages``) only; :meth:`TestServer.fail_matching` faults apply to every
  matching completion request.  Faults act after authentication and JSON
  parsing but before request validation, like a failing gateway would.
  ``http``/``hang``/``malformed``/``drop`` faults do not take a serving slot;
  ``slow`` adds its delay on top of ``latency`` while holding one.
* ``/stats``, ``/stats/reset`` and ``/health`` are never counted in the stats
  and never need an API key.

Command line (for benchmark scripts)::

    python -m pytest_medhelm.testserver --latency 0.1 --slots 32 [--port 0]

prints exactly one line, ``listening on http://127.0.0.1:PORT/v1``, and serves
until SIGTERM or SIGINT.  The server refuses to bind anything but a loopback
address.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import http
import inspect
import ipaddress
import json
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Set, Tuple

__all__ = ["Fault", "ServerStats", "TestServer", "main"]

_FAULT_KINDS = ("status", "hang", "malformed", "drop", "delay")

_DEFAULT_MALFORMED = (
    '{"id": "chatcmpl-malformed", "object": "chat.completion", '
    '"choices": [{"index": 0, "message": {"role": "assist'
)

_REASONS: Dict[int, str] = {s.value: s.phrase for s in http.HTTPStatus}

_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 32 * 1024 * 1024

_CHAT_PATH = "/v1/chat/completions"
_MESSAGES_PATH = "/v1/messages"
_MODELS_PATH = "/v1/models"
_COMPLETION_PATHS = (_CHAT_PATH, _MESSAGES_PATH)
_UNCOUNTED_PATHS = ("/stats", "/stats/reset", "/health")


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of answering it normally.

    Build one with the constructors: ``Fault.http(429, retry_after=0.2)``,
    ``Fault.hang(30)``, ``Fault.malformed()``, ``Fault.drop()``,
    ``Fault.slow(0.5)``.

    kinds:
      ``"status"``    answer with ``status`` (plus ``Retry-After`` if given) and an
                      error JSON body in the endpoint's style (or ``body``).
      ``"hang"``      read the request, never answer; close the connection after
                      ``seconds`` (or earlier if the client goes away).
      ``"malformed"`` ``200`` with a truncated, non-JSON body (or ``body``).
      ``"drop"``      close the socket without sending any response bytes.
      ``"delay"``     wait ``seconds`` extra (on top of the latency), then answer
                      normally.
    """

    kind: str
    status: int = 500
    retry_after: float | str | None = None
    seconds: float = 0.0
    body: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {_FAULT_KINDS}")
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 200 <= self.status <= 599:
            raise ValueError(f"fault status must be an int in 200..599, got {self.status!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or self.seconds < 0:
            raise ValueError(f"fault seconds must be a number >= 0, got {self.seconds!r}")
        ra = self.retry_after
        if ra is not None:
            if isinstance(ra, bool) or not isinstance(ra, (int, float, str)):
                raise ValueError(f"retry_after must be a number, a string or None, got {ra!r}")
            if isinstance(ra, (int, float)) and ra < 0:
                raise ValueError(f"retry_after must be >= 0, got {ra!r}")
            if isinstance(ra, str) and ("\r" in ra or "\n" in ra):
                raise ValueError("retry_after must not contain line breaks")

    @classmethod
    def http(cls, status: int = 500, *, retry_after: float | str | None = None, body: str | None = None) -> "Fault":
        """Answer with HTTP ``status`` (e.g. 429, 500, 503), optional ``Retry-After``."""
        return cls("status", status=status, retry_after=retry_after, body=body)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> "Fault":
        """Hold the connection open without answering for ``seconds``, then close it."""
        return cls("hang", seconds=seconds)

    @classmethod
    def malformed(cls, body: str | None = None) -> "Fault":
        """Answer ``200`` with a body that is not valid JSON (truncated by default)."""
        return cls("malformed", status=200, body=body)

    @classmethod
    def drop(cls) -> "Fault":
        """Close the connection without sending any response."""
        return cls("drop")

    @classmethod
    def slow(cls, seconds: float) -> "Fault":
        """Answer normally after an extra ``seconds`` of delay."""
        return cls("delay", seconds=seconds)


# --------------------------------------------------------------------------- stats


@dataclass
class ServerStats:
    """A snapshot of the server's counters since start or the last reset.

    requests          API requests received (everything except /stats, /stats/reset, /health)
    completed         of those, requests that have left flight (answered, faulted, dropped, ...)
    succeeded         normal 200 answers (a ``slow`` fault still counts as succeeded)
    faults            requests that had a :class:`Fault` applied
    handler_errors    requests that hit an exception inside the server (responder, predicate)
    in_flight         requests in flight right now (queued for a slot or being served)
    peak_in_flight    the most requests in flight at once
    mean_in_flight    time-weighted mean of requests in flight between the first
                      request's arrival and the last response
    peak_serving      the most requests holding a serving slot at once (<= slots)
    window_seconds    time from the first request's arrival to the last response
    duplicates        requests whose canonical JSON body had been seen before
    distinct_prompts  distinct prompts (messages, plus system for /v1/messages)
    by_path           request count per path
    by_outcome        count per outcome: status code as a string ("200", "429", ...)
                      or "malformed", "dropped", "hung", "disconnected"
    """

    requests: int = 0
    completed: int = 0
    succeeded: int = 0
    faults: int = 0
    handler_errors: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    mean_in_flight: float = 0.0
    peak_serving: int = 0
    window_seconds: float = 0.0
    duplicates: int = 0
    distinct_prompts: int = 0
    by_path: Dict[str, int] = field(default_factory=dict)
    by_outcome: Dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


class _Recorder:
    """Thread-safe counters.  Mutated on the server's loop thread, read anywhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Live state, never reset.
        self.in_flight = 0
        self.serving = 0
        self._reset_locked()

    def _reset_locked(self) -> None:
        self.epoch = getattr(self, "epoch", 0) + 1
        self.requests = 0
        self.completed = 0
        self.succeeded = 0
        self.faults = 0
        self.handler_errors = 0
        self.peak_in_flight = self.in_flight
        self.peak_serving = self.serving
        self.by_path: Dict[str, int] = {}
        self.by_outcome: Dict[str, int] = {}
        self.body_hashes: Set[int] = set()
        self.prompt_hashes: Set[int] = set()
        self.duplicates = 0
        # Time-weighted in-flight integral.
        self.t_first: Optional[float] = None
        self.t_last = 0.0
        self.area = 0.0
        self.t_done: Optional[float] = None
        self.area_done = 0.0

    def reset(self) -> None:
        with self._lock:
            self._reset_locked()

    def _advance(self, now: float) -> None:
        if self.t_first is not None:
            self.area += self.in_flight * (now - self.t_last)
            self.t_last = now

    def arrive(self, path: str) -> int:
        now = time.perf_counter()
        with self._lock:
            if self.t_first is None:
                self.t_first = now
                self.t_last = now
            else:
                self._advance(now)
            self.in_flight += 1
            self.requests += 1
            if self.in_flight > self.peak_in_flight:
                self.peak_in_flight = self.in_flight
            self.by_path[path] = self.by_path.get(path, 0) + 1
            return self.epoch

    def depart(self, epoch: int, outcome: str, ok: bool, faulted: bool, errored: bool) -> None:
        now = time.perf_counter()
        with self._lock:
            self._advance(now)
            self.in_flight -= 1
            if self.t_first is not None:
                self.t_done = now
                self.area_done = self.area
            if epoch != self.epoch:
                return  # arrived before a reset: not part of these stats
            self.completed += 1
            if ok:
                self.succeeded += 1
            if faulted:
                self.faults += 1
            if errored:
                self.handler_errors += 1
            self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1

    def seen(self, body_hash: int, prompt_hash: Optional[int]) -> None:
        with self._lock:
            if body_hash in self.body_hashes:
                self.duplicates += 1
            else:
                self.body_hashes.add(body_hash)
            if prompt_hash is not None:
                self.prompt_hashes.add(prompt_hash)

    def serving_started(self) -> None:
        with self._lock:
            self.serving += 1
            if self.serving > self.peak_serving:
                self.peak_serving = self.serving

    def serving_finished(self) -> None:
        with self._lock:
            self.serving -= 1

    def snapshot(self) -> ServerStats:
        with self._lock:
            window = 0.0
            mean = 0.0
            if self.t_first is not None and self.t_done is not None and self.t_done > self.t_first:
                window = self.t_done - self.t_first
                mean = self.area_done / window
            return ServerStats(
                requests=self.requests,
                completed=self.completed,
                succeeded=self.succeeded,
                faults=self.faults,
                handler_errors=self.handler_errors,
                in_flight=self.in_flight,
                peak_in_flight=self.peak_in_flight,
                mean_in_flight=mean,
                peak_serving=self.peak_serving,
                window_seconds=window,
                duplicates=self.duplicates,
                distinct_prompts=len(self.prompt_hashes),
                by_path=dict(self.by_path),
                by_outcome=dict(self.by_outcome),
            )


# --------------------------------------------------------------------------- slots


class _Slots:
    """A FIFO counting semaphore whose size can change at runtime (loop thread only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self._waiters: Deque[asyncio.Future] = collections.deque()

    async def acquire(self) -> None:
        if self.busy < self.limit and not self._waiters:
            self.busy += 1
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # the waker has already counted us in ``busy``
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # woken and cancelled in the same tick: give it back
            else:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            raise

    def release(self) -> None:
        self.busy -= 1
        self._wake()

    def resize(self, limit: int) -> None:
        self.limit = limit
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.busy < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.busy += 1
                fut.set_result(None)


# --------------------------------------------------------------------------- HTTP


class _HTTPError(Exception):
    """A request we refuse at the protocol level; the connection is closed after."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Request:
    __slots__ = ("method", "path", "version", "headers", "body", "keep_alive")

    def __init__(self, method: str, path: str, version: str, headers: Dict[str, str], body: bytes, keep_alive: bool):
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


class _Track:
    """Bookkeeping for one counted request.

    ``finish()`` records the request as completed exactly once, *before* the
    final bytes are handed to the socket, so a client that has just read its
    response always sees itself counted in ``stats``.
    """

    __slots__ = ("rec", "epoch", "outcome", "ok", "faulted", "errored", "done")

    def __init__(self, rec: "_Recorder", epoch: int) -> None:
        self.rec = rec
        self.epoch = epoch
        self.outcome = "disconnected"
        self.ok = False
        self.faulted = False
        self.errored = False
        self.done = False

    def finish(self, outcome: Optional[str] = None) -> None:
        if self.done:
            return
        self.done = True
        if outcome is not None:
            self.outcome = outcome
        self.rec.depart(self.epoch, self.outcome, self.ok, self.faulted, self.errored)


_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # RFC 9110 token


def _is_token(s: str) -> bool:
    return _TOKEN_RE.match(s) is not None


def _parse_head(head: bytes) -> Tuple[str, str, str, Dict[str, str]]:
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise _HTTPError(400, "malformed request line")
    method, target, version = parts
    if not _is_token(method):
        raise _HTTPError(400, "malformed request method")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/"):
            raise _HTTPError(505, f"unsupported HTTP version {version}")
        raise _HTTPError(400, "malformed request line")
    if target.startswith("/"):
        path = target.split("?", 1)[0].split("#", 1)[0]
    elif target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        path = "/" if slash < 0 else rest[slash:].split("?", 1)[0]
    else:
        raise _HTTPError(400, "malformed request target")
    headers: Dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            raise _HTTPError(400, "obsolete header line folding is not supported")
        name, sep, value = line.partition(":")
        if not sep or not _is_token(name):
            raise _HTTPError(400, "malformed header line")
        name = name.lower()
        value = value.strip(" \t")
        if name in headers:
            if name == "content-length":
                if headers[name] != value:
                    raise _HTTPError(400, "conflicting Content-Length headers")
                continue
            headers[name] = headers[name] + ", " + value
        else:
            headers[name] = value
    return method, path, version, headers


def _fmt_retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return str(int(value))
    return ("%.3f" % value).rstrip("0").rstrip(".")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- API helpers


def _text_of(content: Any) -> str:
    """Plain text of an OpenAI/Anthropic message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif "content" in part:
                    out.append(_text_of(part["content"]))
        return " ".join(out)
    return ""


def _count_words(text: str) -> int:
    return max(1, len(text.split()))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _default_responder(request: Dict[str, Any]) -> str:
    return "A"


class _Invalid(Exception):
    """A request the API rejects (400 invalid_request_error or 404 model_not_found)."""

    def __init__(self, status: int, message: str, code: Optional[str] = None, param: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


def _error_body(flavor: str, status: int, message: str, code: Optional[str] = None, param: Optional[str] = None) -> bytes:
    if flavor == "anthropic":
        etype = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            413: "request_too_large",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return json.dumps({"type": "error", "error": {"type": etype, "message": message}}).encode()
    if status == 429:
        etype, default_code = "rate_limit_error", "rate_limit_exceeded"
    elif status >= 500:
        etype, default_code = "server_error", None
    else:
        etype, default_code = "invalid_request_error", None
    err = {"message": message, "type": etype, "param": param, "code": code or default_code}
    return json.dumps({"error": err}).encode()


# --------------------------------------------------------------------------- server


class TestServer:
    """An in-process, OpenAI/Anthropic-compatible HTTP server on a daemon thread.

    >>> with TestServer(latency=0.01, slots=4) as srv:
    ...     srv.inject(Fault.http(429, retry_after=0.1))
    ...     # point a client at srv.url ("http://127.0.0.1:PORT/v1")

    ``responder(request_json) -> str`` produces the completion text from the
    request body as received (OpenAI or Anthropic shape).  It runs on the
    server's event loop while the request holds a serving slot, so it must be
    quick and must not block; it may also be an ``async def`` (awaited).  An
    exception in it becomes a ``500`` answer and is listed in :attr:`errors`.
    The default always answers ``"A"``.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        slots: int = 64,
        responder: Optional[Callable[[Dict[str, Any]], str]] = None,
        api_key: Optional[str] = None,
        known_models: Optional[Iterable[str]] = None,
        record_bodies: bool = True,
        model_name: str = "medhelm-test-model",
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"TestServer only listens on loopback addresses (127.0.0.1, ::1, localhost), not {host!r}")
        self._host = "127.0.0.1" if host == "localhost" else host
        self._requested_port = int(port)
        self._port: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._latency = 0.0
        self.latency = latency
        self._limiter = _Slots(1)
        self.slots = slots
        self._responder = responder or _default_responder
        self._api_key = api_key
        self._known_models: Optional[frozenset] = frozenset(known_models) if known_models is not None else None
        self._record_bodies = record_bodies
        self._model_name = model_name

        self._rec = _Recorder()
        self._faults_lock = threading.Lock()
        self._queued: Deque[Fault] = collections.deque()
        self._matchers: List[Tuple[Callable[[Dict[str, Any]], bool], Fault]] = []
        self._bodies: List[Dict[str, Any]] = []
        self._errors: Deque[str] = collections.deque(maxlen=100)
        self._id_counter = 0

        self._thread: Optional[threading.Thread] = None
        self._stop_event: Optional[asyncio.Event] = None
        self._conn_tasks: Set[asyncio.Task] = set()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "TestServer":
        """Start serving on a daemon thread; returns once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("TestServer is already running")
        ready = threading.Event()
        failure: List[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._main(ready, failure))
            except BaseException as exc:  # pragma: no cover - surfaced via start()
                if not ready.is_set():
                    failure.append(exc)
                    ready.set()
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

        thread = threading.Thread(target=run, name="medhelm-testserver", daemon=True)
        self._thread = thread
        thread.start()
        ready.wait()
        if failure:
            thread.join(timeout=5)
            self._thread = None
            self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join the server thread."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and self._stop_event is not None:
            try:
                loop.call_soon_threadsafe(self._stop_event.set)
            except RuntimeError:
                pass  # loop already closed
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self._stop_event = None

    def __enter__(self) -> "TestServer":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    async def _main(self, ready: threading.Event, failure: List[BaseException]) -> None:
        self._stop_event = asyncio.Event()
        try:
            server = await asyncio.start_server(
                self._on_connection,
                self._host,
                self._requested_port,
                limit=_MAX_HEAD_BYTES,
                backlog=4096,
                reuse_address=True,
            )
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            return
        self._port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            tasks = list(self._conn_tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    # ---------------------------------------------------------------- properties

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("TestServer has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (no ``/v1``), for ``/stats`` and friends."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI-style base URL, ``http://127.0.0.1:PORT/v1``."""
        return self.base_url + "/v1"

    @property
    def latency(self) -> float:
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        value = float(value)
        if not value >= 0:
            raise ValueError(f"latency must be >= 0, got {value!r}")
        self._latency = value

    @property
    def slots(self) -> int:
        return self._slots_n

    @slots.setter
    def slots(self, value: int) -> None:
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"slots must be an int >= 1, got {value!r}")
        value = int(value)
        self._slots_n = value
        loop = self._loop
        if loop is not None and loop.is_running():
            try:
                loop.call_soon_threadsafe(self._limiter.resize, value)
                return
            except RuntimeError:
                pass
        self._limiter.limit = value

    @property
    def stats(self) -> ServerStats:
        return self._rec.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters and forget recorded request bodies."""
        self._rec.reset()
        self._bodies = []

    @property
    def requests(self) -> List[Dict[str, Any]]:
        """JSON bodies received by the completion endpoints, in arrival order.

        Only bodies that passed authentication and JSON parsing are kept, and
        only if the server was built with ``record_bodies=True`` (the default).
        """
        return list(self._bodies)

    @property
    def errors(self) -> List[str]:
        """The last (up to 100) exceptions raised inside the server while handling requests."""
        return list(self._errors)

    # ---------------------------------------------------------------- faults

    def inject(self, *faults: Fault) -> None:
        """Queue faults for the next completion requests, one per request, in order."""
        for f in faults:
            if not isinstance(f, Fault):
                raise TypeError(f"inject() takes Fault objects, got {f!r}")
        with self._faults_lock:
            self._queued.extend(faults)

    def fail_matching(self, predicate: Callable[[Dict[str, Any]], bool], fault: Fault) -> None:
        """Apply ``fault`` to every completion request whose JSON body matches ``predicate``.

        Queued (:meth:`inject`) faults take precedence; among matchers the first
        registered match wins.
        """
        if not isinstance(fault, Fault):
            raise TypeError(f"fail_matching() takes a Fault, got {fault!r}")
        with self._faults_lock:
            self._matchers.append((predicate, fault))

    def clear_faults(self) -> None:
        """Forget queued faults and matchers."""
        with self._faults_lock:
            self._queued.clear()
            self._matchers.clear()

    @property
    def pending_faults(self) -> int:
        """How many injected faults have not been consumed yet."""
        with self._faults_lock:
            return len(self._queued)

    def _take_fault(self, body: Dict[str, Any]) -> Optional[Fault]:
        with self._faults_lock:
            if self._queued:
                return self._queued.popleft()
            matchers = list(self._matchers)
        for predicate, fault in matchers:
            if predicate(body):
                return fault
        return None

    # ---------------------------------------------------------------- connection handling

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
        try:
            while True:
                try:
                    req = await self._read_request(reader, writer)
                except _HTTPError as exc:
                    payload = _error_body("openai", exc.status, exc.message)
                    await self._send(writer, exc.status, payload, keep_alive=False)
                    return
                if req is None:
                    return
                if not await self._dispatch(req, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._conn_tasks.discard(task)
            try:
                writer.close()
            except Exception:  # pragma: no cover
                pass

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Optional[_Request]:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial.strip():
                    return None  # clean close between requests
                raise _HTTPError(400, "incomplete request head") from None
            except asyncio.LimitOverrunError:
                raise _HTTPError(431, "request head too large") from None
            head = head.lstrip(b"\r\n")  # tolerate stray CRLFs between requests
            if head:
                break
        method, path, version, headers = _parse_head(head)

        te = headers.get("transfer-encoding")
        if te is not None:
            if "content-length" in headers:
                raise _HTTPError(400, "both Transfer-Encoding and Content-Length given")
            if te.lower() != "chunked":
                raise _HTTPError(501, f"unsupported Transfer-Encoding {te!r}")
            self._maybe_continue(headers, version, writer)
            body = await self._read_chunked(reader)
        else:
            cl = headers.get("content-length")
            if cl is None:
                if method in ("POST", "PUT", "PATCH"):
                    # Without a length the body cannot be delimited on a persistent connection.
                    raise _HTTPError(411, "Content-Length required")
                length = 0
            else:
                if not (cl.isascii() and cl.isdigit()):
                    raise _HTTPError(400, "malformed Content-Length")
                length = int(cl)
            if length > _MAX_BODY_BYTES:
                raise _HTTPError(413, "request body too large")
            if length:
                self._maybe_continue(headers, version, writer)
                body = await reader.readexactly(length)
            else:
                body = b""

        tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        if version == "HTTP/1.1":
            keep_alive = "close" not in tokens
        else:
            keep_alive = "keep-alive" in tokens
        return _Request(method, path, version, headers, body, keep_alive)

    @staticmethod
    def _maybe_continue(headers: Dict[str, str], version: str, writer: asyncio.StreamWriter) -> None:
        if version == "HTTP/1.1" and headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: List[bytes] = []
        total = 0
        while True:
            try:
                line = await reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError:
                raise _HTTPError(400, "chunk size line too long") from None
            size_text = line[:-2].split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _HTTPError(400, "malformed chunk size") from None
            if size < 0 or size_text.startswith((b"+", b"-")):
                raise _HTTPError(400, "malformed chunk size")
            if size == 0:
                while True:  # trailers, up to the blank line
                    trailer = await reader.readuntil(b"\r\n")
                    if trailer == b"\r\n":
                        return b"".join(chunks)
            total += size
            if total > _MAX_BODY_BYTES:
                raise _HTTPError(413, "request body too large")
            chunks.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise _HTTPError(400, "malformed chunk terminator")

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter,
        status: int,
        payload: bytes,
        *,
        keep_alive: bool,
        content_type: str = "application/json",
        extra_headers: Iterable[Tuple[str, str]] = (),
    ) -> None:
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n",
            f"Content-Type: {content_type}\r\n",
            f"Content-Length: {len(payload)}\r\n",
            "Server: medhelm-testserver\r\n",
            "Connection: keep-alive\r\n" if keep_alive else "Connection: close\r\n",
        ]
        for name, value in extra_headers:
            head.append(f"{name}: {value}\r\n")
        head.append("\r\n")
        writer.write("".join(head).encode("latin-1") + payload)
        await writer.drain()

    # ---------------------------------------------------------------- routing

    async def _dispatch(self, req: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Handle one request; return whether the connection stays open."""
        path = req.path
        if path in _UNCOUNTED_PATHS:
            if path == "/stats" and req.method == "GET":
                payload = json.dumps(self.stats.as_dict()).encode()
            elif path == "/stats/reset" and req.method == "POST":
                self.reset_stats()
                payload = b'{"ok":true}'
            elif path == "/health" and req.method == "GET":
                payload = b'{"status":"ok"}'
            else:
                await self._send(writer, 405, _error_body("openai", 405, f"{req.method} not allowed on {path}"),
                                 keep_alive=req.keep_alive)
                return req.keep_alive
            await self._send(writer, 200, payload, keep_alive=req.keep_alive)
            return req.keep_alive

        track = _Track(self._rec, self._rec.arrive(path))
        try:
            return await self._handle_api(req, reader, writer, track)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            track.finish("disconnected")
            raise
        except Exception as exc:  # responder / predicate bugs: answer 500, keep a record
            if track.done:
                raise
            self._errors.append(f"{type(exc).__name__}: {exc}")
            track.ok = False
            track.errored = True
            flavor = "anthropic" if path == _MESSAGES_PATH else "openai"
            payload = _error_body(flavor, 500, f"test server handler error: {type(exc).__name__}: {exc}")
            track.finish("500")
            await self._send(writer, 500, payload, keep_alive=req.keep_alive)
            return req.keep_alive
        finally:
            track.finish()

    async def _reply(self, writer: asyncio.StreamWriter, req: _Request, track: _Track, status: int,
                     payload: bytes, extra_headers: Iterable[Tuple[str, str]] = ()) -> bool:
        track.finish(str(status))
        await self._send(writer, status, payload, keep_alive=req.keep_alive, extra_headers=extra_headers)
        return req.keep_alive

    async def _handle_api(self, req: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          track: _Track) -> bool:
        path = req.path
        flavor = "anthropic" if path == _MESSAGES_PATH else "openai"
        allowed = {_CHAT_PATH: "POST", _MESSAGES_PATH: "POST", _MODELS_PATH: "GET"}.get(path)
        if allowed is None:
            return await self._reply(writer, req, track, 404, _error_body(flavor, 404, f"no route for {path}"))
        if req.method != allowed:
            return await self._reply(writer, req, track, 405,
                                     _error_body(flavor, 405, f"{req.method} not allowed on {path}"),
                                     extra_headers=[("Allow", allowed)])

        if self._api_key is not None and not self._authorized(req, path):
            return await self._reply(writer, req, track, 401, _error_body(
                flavor, 401, "Incorrect API key provided.", code="invalid_api_key"))

        if path == _MODELS_PATH:
            track.ok = True
            return await self._reply(writer, req, track, 200, self._models_payload())

        try:
            body = json.loads(req.body)
        except (UnicodeDecodeError, ValueError):
            return await self._reply(writer, req, track, 400, _error_body(
                flavor, 400, "request body is not valid JSON"))
        if not isinstance(body, dict):
            return await self._reply(writer, req, track, 400, _error_body(
                flavor, 400, "request body must be a JSON object"))

        if self._record_bodies:
            self._bodies.append(body)
        messages = body.get("messages")
        if flavor == "anthropic":
            prompt_key: Any = [body.get("system"), messages]
        else:
            prompt_key = messages
        self._rec.seen(hash(_canonical(body)), hash(_canonical(prompt_key)) if messages is not None else None)

        fault = self._take_fault(body)
        extra_delay = 0.0
        if fault is not None:
            track.faulted = True
            if fault.kind == "delay":
                extra_delay = fault.seconds
            else:
                return await self._apply_fault(fault, flavor, req, reader, writer, track)

        try:
            model, limit = self._validate(body, flavor)
        except _Invalid as inv:
            return await self._reply(writer, req, track, inv.status, _error_body(
                flavor, inv.status, inv.message, code=inv.code, param=inv.param))

        await self._limiter.acquire()
        self._rec.serving_started()
        try:
            delay = self._latency + extra_delay
            if delay > 0:
                await asyncio.sleep(delay)
            text = self._responder(body)
            if inspect.isawaitable(text):
                text = await text
            if not isinstance(text, str):
                raise TypeError(f"responder must return str, got {type(text).__name__}")
            payload = self._completion_payload(flavor, body, model, text, limit)
        finally:
            self._rec.serving_finished()
            self._limiter.release()
        track.ok = True
        return await self._reply(writer, req, track, 200, payload)

    def _authorized(self, req: _Request, path: str) -> bool:
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip() == self._api_key:
            return True
        if path == _MESSAGES_PATH and req.headers.get("x-api-key") == self._api_key:
            return True
        return False

    def _validate(self, body: Dict[str, Any], flavor: str) -> Tuple[str, Optional[int]]:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _Invalid(400, "you must provide a model parameter", param="model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Invalid(400, "messages must be a non-empty array", param="messages")
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or "content" not in m:
                raise _Invalid(400, "each message needs a role and content", param="messages")
        if body.get("stream"):
            raise _Invalid(400, "streaming is not supported by the test server", param="stream")
        if flavor == "anthropic":
            limit = body.get("max_tokens")
            if limit is None:
                raise _Invalid(400, "max_tokens: Field required", param="max_tokens")
            max_temp = 1.0
        else:
            limit = body.get("max_completion_tokens", body.get("max_tokens"))
            max_temp = 2.0
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise _Invalid(400, f"max tokens must be a positive integer, got {limit!r}", param="max_tokens")
        temp = body.get("temperature")
        if temp is not None and (isinstance(temp, bool) or not isinstance(temp, (int, float))
                                 or not 0 <= temp <= max_temp):
            raise _Invalid(400, f"temperature must be between 0 and {max_temp:g}", param="temperature")
        if self._known_models is not None and model not in self._known_models:
            if flavor == "anthropic":
                raise _Invalid(404, f"model: {model}")
            raise _Invalid(404, f"The model `{model}` does not exist or you do not have access to it.",
                           code="model_not_found", param="model")
        return model, limit

    def _next_id(self) -> int:
        self._id_counter += 1
        return self._id_counter

    def _models_payload(self) -> bytes:
        names = sorted(self._known_models) if self._known_models is not None else [self._model_name]
        data = [
            {"id": n, "object": "model", "type": "model", "created": 0, "owned_by": "medhelm-testserver",
             "display_name": n}
            for n in names
        ]
        return json.dumps({"object": "list", "data": data, "has_more": False,
                           "first_id": names[0] if names else None,
                           "last_id": names[-1] if names else None}).encode()

    def _completion_payload(self, flavor: str, body: Dict[str, Any], model: str, text: str,
                            limit: Optional[int]) -> bytes:
        truncated = False
        if limit is not None:
            words = text.split()
            if len(words) > limit:
                text = " ".join(words[:limit])
                truncated = True
        out_tokens = _count_words(text)
        n = self._next_id()
        if flavor == "anthropic":
            prompt = _text_of(body.get("system")) + " " + " ".join(_text_of(m.get("content")) for m in body["messages"])
            in_tokens = _count_words(prompt)
            return json.dumps({
                "id": f"msg_test{n:08d}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "max_tokens" if truncated else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": in_tokens, "output_tokens": out_tokens},
            }).encode()
        prompt = " ".join(_text_of(m.get("content")) for m in body["messages"])
        in_tokens = _count_words(prompt)
        n_choices = body.get("n", 1)
        if isinstance(n_choices, bool) or not isinstance(n_choices, int) or n_choices < 1:
            n_choices = 1
        choices = [
            {"index": i, "message": {"role": "assistant", "content": text},
             "finish_reason": "length" if truncated else "stop", "logprobs": None}
            for i in range(n_choices)
        ]
        return json.dumps({
            "id": f"chatcmpl-test{n:08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "medhelm-testserver",
            "choices": choices,
            "usage": {"prompt_tokens": in_tokens, "completion_tokens": out_tokens * n_choices,
                      "total_tokens": in_tokens + out_tokens * n_choices},
        }).encode()

    async def _apply_fault(self, fault: Fault, flavor: str, req: _Request, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter, track: _Track) -> bool:
        kind = fault.kind
        if kind == "status":
            if fault.body is not None:
                payload = fault.body.encode()
            else:
                payload = _error_body(flavor, fault.status, f"injected fault: HTTP {fault.status}")
            headers = []
            if fault.retry_after is not None:
                headers.append(("Retry-After", _fmt_retry_after(fault.retry_after)))
            return await self._reply(writer, req, track, fault.status, payload, extra_headers=headers)
        if kind == "malformed":
            payload = (fault.body if fault.body is not None else _DEFAULT_MALFORMED).encode()
            track.finish("malformed")
            await self._send(writer, 200, payload, keep_alive=req.keep_alive)
            return req.keep_alive
        if kind == "drop":
            track.finish("dropped")
            writer.transport.abort()
            return False
        if kind == "hang":
            await self._hang(reader, fault.seconds)
            track.finish("hung")
            return False
        raise AssertionError(f"unhandled fault kind {kind!r}")  # pragma: no cover

    @staticmethod
    async def _hang(reader: asyncio.StreamReader, seconds: float) -> None:
        """Say nothing for ``seconds``; stop early if the client hangs up."""

        async def until_eof() -> None:
            while await reader.read(65536):
                pass

        try:
            await asyncio.wait_for(until_eof(), timeout=seconds)
        except (asyncio.TimeoutError, ConnectionError):
            pass


# --------------------------------------------------------------------------- CLI


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_medhelm.testserver",
        description="Serve a local OpenAI/Anthropic-compatible test endpoint for MedHELM benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: pick a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request, spent holding a slot")
    parser.add_argument("--slots", type=int, default=64, help="requests served concurrently (default 64)")
    parser.add_argument("--api-key", default=None, help="require this API key")
    parser.add_argument("--known-model", action="append", default=None, metavar="NAME",
                        help="accept only these models (repeatable); others get 404 model_not_found")
    parser.add_argument("--record-bodies", action="store_true",
                        help="keep every request body in memory (off by default for benchmarks)")
    args = parser.parse_args(argv)

    if not _is_loopback(args.host):
        parser.error(f"refusing to listen on non-loopback host {args.host!r}; "
                     "use 127.0.0.1, ::1 or localhost")
    if args.latency < 0:
        parser.error("--latency must be >= 0")
    if args.slots < 1:
        parser.error("--slots must be >= 1")

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        server = TestServer(host=args.host, port=args.port, latency=args.latency, slots=args.slots,
                            api_key=args.api_key, known_models=args.known_model,
                            record_bodies=args.record_bodies).start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
