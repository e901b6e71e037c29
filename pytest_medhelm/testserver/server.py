"""The test server: lifecycle on a daemon thread, properties, fault queue and request routing."""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import threading
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Set, Tuple

from pytest_medhelm.testserver.api import (
    CHAT_PATH,
    MESSAGES_PATH,
    MODELS_PATH,
    UNCOUNTED_PATHS,
    Invalid,
    canonical,
    completion_payload,
    default_responder,
    error_body,
    models_payload,
    validate,
)
from pytest_medhelm.testserver.faults import DEFAULT_MALFORMED, Fault
from pytest_medhelm.testserver.slots import Slots
from pytest_medhelm.testserver.stats import Recorder, ServerStats, Track
from pytest_medhelm.testserver.wire import (
    MAX_HEAD_BYTES,
    HTTPError,
    Request,
    fmt_retry_after,
    is_loopback,
    read_request,
    send,
)


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
        if not is_loopback(host):
            raise ValueError(f"TestServer only listens on loopback addresses (127.0.0.1, ::1, localhost), not {host!r}")
        self._host = "127.0.0.1" if host == "localhost" else host
        self._requested_port = int(port)
        self._port: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._latency = 0.0
        self.latency = latency
        self._limiter = Slots(1)
        self.slots = slots
        self._responder = responder or default_responder
        self._api_key = api_key
        self._known_models: Optional[frozenset] = frozenset(known_models) if known_models is not None else None
        self._record_bodies = record_bodies
        self._model_name = model_name

        self._rec = Recorder()
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
                limit=MAX_HEAD_BYTES,
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
                    req = await read_request(reader, writer)
                except HTTPError as exc:
                    payload = error_body("openai", exc.status, exc.message)
                    await send(writer, exc.status, payload, keep_alive=False)
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

    # ---------------------------------------------------------------- routing

    async def _dispatch(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Handle one request; return whether the connection stays open."""
        path = req.path
        if path in UNCOUNTED_PATHS:
            if path == "/stats" and req.method == "GET":
                payload = json.dumps(self.stats.as_dict()).encode()
            elif path == "/stats/reset" and req.method == "POST":
                self.reset_stats()
                payload = b'{"ok":true}'
            elif path == "/health" and req.method == "GET":
                payload = b'{"status":"ok"}'
            else:
                await send(
                    writer,
                    405,
                    error_body("openai", 405, f"{req.method} not allowed on {path}"),
                    keep_alive=req.keep_alive,
                )
                return req.keep_alive
            await send(writer, 200, payload, keep_alive=req.keep_alive)
            return req.keep_alive

        track = Track(self._rec, self._rec.arrive(path))
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
            flavor = "anthropic" if path == MESSAGES_PATH else "openai"
            payload = error_body(flavor, 500, f"test server handler error: {type(exc).__name__}: {exc}")
            track.finish("500")
            await send(writer, 500, payload, keep_alive=req.keep_alive)
            return req.keep_alive
        finally:
            track.finish()

    async def _reply(
        self,
        writer: asyncio.StreamWriter,
        req: Request,
        track: Track,
        status: int,
        payload: bytes,
        extra_headers: Iterable[Tuple[str, str]] = (),
    ) -> bool:
        track.finish(str(status))
        await send(writer, status, payload, keep_alive=req.keep_alive, extra_headers=extra_headers)
        return req.keep_alive

    async def _handle_api(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, track: Track
    ) -> bool:
        path = req.path
        flavor = "anthropic" if path == MESSAGES_PATH else "openai"
        allowed = {CHAT_PATH: "POST", MESSAGES_PATH: "POST", MODELS_PATH: "GET"}.get(path)
        if allowed is None:
            return await self._reply(writer, req, track, 404, error_body(flavor, 404, f"no route for {path}"))
        if req.method != allowed:
            return await self._reply(
                writer,
                req,
                track,
                405,
                error_body(flavor, 405, f"{req.method} not allowed on {path}"),
                extra_headers=[("Allow", allowed)],
            )

        if self._api_key is not None and not self._authorized(req, path):
            return await self._reply(
                writer, req, track, 401, error_body(flavor, 401, "Incorrect API key provided.", code="invalid_api_key")
            )

        if path == MODELS_PATH:
            track.ok = True
            return await self._reply(writer, req, track, 200, models_payload(self._known_models, self._model_name))

        try:
            body = json.loads(req.body)
        except (UnicodeDecodeError, ValueError):
            return await self._reply(writer, req, track, 400, error_body(flavor, 400, "request body is not valid JSON"))
        if not isinstance(body, dict):
            return await self._reply(
                writer, req, track, 400, error_body(flavor, 400, "request body must be a JSON object")
            )

        if self._record_bodies:
            self._bodies.append(body)
        messages = body.get("messages")
        if flavor == "anthropic":
            prompt_key: Any = [body.get("system"), messages]
        else:
            prompt_key = messages
        self._rec.seen(hash(canonical(body)), hash(canonical(prompt_key)) if messages is not None else None)

        fault = self._take_fault(body)
        extra_delay = 0.0
        if fault is not None:
            track.faulted = True
            if fault.kind == "delay":
                extra_delay = fault.seconds
            else:
                return await self._apply_fault(fault, flavor, req, reader, writer, track)

        try:
            model, limit = validate(body, flavor, self._known_models)
        except Invalid as inv:
            return await self._reply(
                writer,
                req,
                track,
                inv.status,
                error_body(flavor, inv.status, inv.message, code=inv.code, param=inv.param),
            )

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
            payload = completion_payload(flavor, body, model, text, limit, self._next_id())
        finally:
            self._rec.serving_finished()
            self._limiter.release()
        track.ok = True
        return await self._reply(writer, req, track, 200, payload)

    def _authorized(self, req: Request, path: str) -> bool:
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip() == self._api_key:
            return True
        if path == MESSAGES_PATH and req.headers.get("x-api-key") == self._api_key:
            return True
        return False

    def _next_id(self) -> int:
        self._id_counter += 1
        return self._id_counter

    async def _apply_fault(
        self,
        fault: Fault,
        flavor: str,
        req: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        track: Track,
    ) -> bool:
        kind = fault.kind
        if kind == "status":
            if fault.body is not None:
                payload = fault.body.encode()
            else:
                payload = error_body(flavor, fault.status, f"injected fault: HTTP {fault.status}")
            headers = []
            if fault.retry_after is not None:
                headers.append(("Retry-After", fmt_retry_after(fault.retry_after)))
            return await self._reply(writer, req, track, fault.status, payload, extra_headers=headers)
        if kind == "malformed":
            payload = (fault.body if fault.body is not None else DEFAULT_MALFORMED).encode()
            track.finish("malformed")
            await send(writer, 200, payload, keep_alive=req.keep_alive)
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
