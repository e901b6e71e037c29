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

Modules: :mod:`.server` (the server: lifecycle, settings, fault API), :mod:`.handler` (routing
and answering requests), :mod:`.wire` (HTTP/1.1 parsing and writing), :mod:`.api` (the OpenAI and
Anthropic request and response shapes), :mod:`.faults`, :mod:`.stats` (counters), :mod:`.slots`
(the serving limit), :mod:`.cli`.
"""

from pytest_medhelm.testserver.cli import main
from pytest_medhelm.testserver.faults import Fault
from pytest_medhelm.testserver.server import TestServer
from pytest_medhelm.testserver.stats import ServerStats

__all__ = ["Fault", "ServerStats", "TestServer", "main"]
