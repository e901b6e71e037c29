"""The test server: lifecycle on a daemon thread, its settings and counters, and the fault API.

Requests are answered by :mod:`.handler`."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional

from pytest_medhelm.testserver.api import default_responder
from pytest_medhelm.testserver.faults import Fault, FaultQueue
from pytest_medhelm.testserver.handler import RequestHandler
from pytest_medhelm.testserver.slots import Slots
from pytest_medhelm.testserver.stats import Recorder, ServerStats
from pytest_medhelm.testserver.wire import MAX_HEAD_BYTES, is_loopback


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
        self._rec = Recorder()
        self._limiter = Slots(1)
        self._faults = FaultQueue()
        self._handler = RequestHandler(
            recorder=self._rec,
            limiter=self._limiter,
            faults=self._faults,
            responder=responder or default_responder,
            api_key=api_key,
            known_models=frozenset(known_models) if known_models is not None else None,
            record_bodies=record_bodies,
            model_name=model_name,
        )
        self.latency = latency
        self.slots = slots

        self._thread: Optional[threading.Thread] = None
        self._stop_event: Optional[asyncio.Event] = None

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
                self._handler.serve_connection,
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
            await self._handler.close_connections()
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
        return self._handler.latency

    @latency.setter
    def latency(self, value: float) -> None:
        value = float(value)
        if not value >= 0:
            raise ValueError(f"latency must be >= 0, got {value!r}")
        self._handler.latency = value

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
        self._handler.reset_stats()

    @property
    def requests(self) -> List[Dict[str, Any]]:
        """JSON bodies received by the completion endpoints, in arrival order.

        Only bodies that passed authentication and JSON parsing are kept, and
        only if the server was built with ``record_bodies=True`` (the default).
        """
        return list(self._handler.bodies)

    @property
    def errors(self) -> List[str]:
        """The last (up to 100) exceptions raised inside the server while handling requests."""
        return list(self._handler.errors)

    # ---------------------------------------------------------------- faults

    def inject(self, *faults: Fault) -> None:
        """Queue faults for the next completion requests, one per request, in order."""
        for f in faults:
            if not isinstance(f, Fault):
                raise TypeError(f"inject() takes Fault objects, got {f!r}")
        self._faults.extend(faults)

    def fail_matching(self, predicate: Callable[[Dict[str, Any]], bool], fault: Fault) -> None:
        """Apply ``fault`` to every completion request whose JSON body matches ``predicate``.

        Queued (:meth:`inject`) faults take precedence; among matchers the first
        registered match wins.
        """
        if not isinstance(fault, Fault):
            raise TypeError(f"fail_matching() takes a Fault, got {fault!r}")
        self._faults.add_matcher(predicate, fault)

    def clear_faults(self) -> None:
        """Forget queued faults and matchers."""
        self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many injected faults have not been consumed yet."""
        return self._faults.queued
