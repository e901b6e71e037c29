"""A session's model calls in a child process: the HTTP client and the cache on a core of their own.

In one process, pytest's items and the engine's HTTP work share one GIL, and every hand-off
between the two threads costs CPU on top of the work itself (about 0.4 ms an item, measured at
zero server latency), which a single core cannot spare at 300 answers a second. With an
:class:`EngineProcess`, the session's :class:`~pytest_medhelm.engine.Engine` keeps its loop, the
pipeline and the scorers, and hands each network model call to a child process running an
ordinary ``Engine``: response cache, retries, rate limits, in-flight de-duplication and fatal
errors all work there as they do in-process.

Under xdist the controller starts the child and it serves the whole session: each worker connects
(:class:`EngineConnection`) to a Unix socket in a private directory, so the concurrency budget,
the rate limits and the de-duplication of identical requests are the session's, not a worker's.
The controller can also *plan* requests: the child starts them at once and keeps each answer
for the worker whose item asks for it later, so the model server is busy while the workers are
still starting up. A planned request the workers turn out not to need is *dropped* (cancelled if
it has not been sent yet).

On Linux the child is a fork of the session, made while it is still single-threaded (at
configure time): it has every module the session has imported, so it is serving at once, and it
imports its HTTP client in a thread meanwhile. Elsewhere, or from a process that already runs
threads, it is a new interpreter running this module.

Frames are a 4-byte length and a pickle, over sockets only this user's processes can reach. The
child exits when its owner's socket closes, so it never outlives the session.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import multiprocessing
import os
import pickle
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from pytest_medhelm.engine.cache import ResponseCache
from pytest_medhelm.engine.core import Completion, Engine, FatalModelError, ModelError, preload_http_client
from pytest_medhelm.models.providers import ModelRequest
from pytest_medhelm.models.registry import ModelConfig

_HEADER = struct.Struct("!I")


def _frame(message: Any) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


async def _read(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))


# Plain tuples cross the socket: they pickle the same on every supported Python.
def _request_fields(request: ModelRequest) -> tuple[Any, ...]:
    return (request.prompt, request.max_tokens, request.temperature, request.stop, request.choices, request.context)


def _completion_fields(completion: Completion) -> tuple[Any, ...]:
    return (completion.model, completion.text, completion.input_tokens, completion.output_tokens,
            completion.latency_s, completion.cached, completion.cost_usd, completion.reasoning_tokens)


class EngineConnection:
    """One process's connection to the engine process; its calls run on that process's engine loop.

    Built with the Unix socket address an :class:`EngineProcess` listens on (an xdist worker's end).
    """

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._connected: asyncio.Future[asyncio.StreamWriter] | None = None
        self._pending: dict[int, asyncio.Future[Completion]] = {}
        self._models: dict[str, ModelConfig] = {}
        self._ids = itertools.count()
        self._gone: ModelError | None = None
        self._receiver: asyncio.Future[None] | None = None  # held: the loop keeps tasks only weakly

    async def _open_streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        assert self.address is not None
        return await asyncio.open_unix_connection(self.address)

    def _gone_error(self) -> ModelError:
        return ModelError("the session's engine process is gone")

    async def _writer(self, model: ModelConfig) -> asyncio.StreamWriter:
        if self._gone is not None:
            raise self._gone
        if self._connected is None:
            self._connected = asyncio.ensure_future(self._open())
        writer = await self._connected
        if self._models.get(model.name) is not model:
            # A model's config crosses once; a different config under the same name replaces it.
            self._models[model.name] = model
            writer.write(_frame(("model", model.name, model)))
        return writer

    async def _open(self) -> asyncio.StreamWriter:
        try:
            reader, writer = await self._open_streams()
        except OSError as exc:
            self._gone = ModelError(f"cannot reach the session's engine process: {exc}")
            raise self._gone from None
        self._receiver = asyncio.ensure_future(self._receive(reader))
        return writer

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                request_id, ok, value = await _read(reader)
                future = self._pending.pop(request_id, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(Completion(*value))
                else:
                    kind, message = value
                    future.set_exception(FatalModelError(message) if kind == "fatal" else ModelError(message))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        self._gone = self._gone_error()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self._gone)
        self._pending.clear()

    async def complete(self, model: ModelConfig, request: ModelRequest) -> Completion:
        writer = await self._writer(model)
        request_id = next(self._ids)
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        writer.write(_frame(("complete", request_id, model.name, _request_fields(request))))
        await writer.drain()
        return await future

    async def plan(self, model: ModelConfig, requests: Iterable[ModelRequest]) -> None:
        """Have the engine process start these calls now; their answers wait there for ``complete``."""
        await self._send(model, "plan", requests)

    async def drop(self, model: ModelConfig, requests: Iterable[ModelRequest]) -> None:
        """Planned calls no item will ask for: cancelled unless already answered or asked for."""
        await self._send(model, "drop", requests)

    async def _send(self, model: ModelConfig, kind: str, requests: Iterable[ModelRequest]) -> None:
        writer = await self._writer(model)
        writer.write(_frame((kind, model.name, [_request_fields(request) for request in requests])))
        await writer.drain()

    def disconnect(self) -> None:
        """On the engine loop, as it shuts down: close this end."""
        if self._connected is not None and self._connected.done() and not self._connected.cancelled() \
                and self._connected.exception() is None:
            self._connected.result().close()

    def close(self, timeout_s: float = 10.0) -> None:
        """After the engine loop has stopped: nothing to wait for on a connection."""


class EngineProcess(EngineConnection):
    """Starts the child at once; calls from this process go over a socket pair.

    With ``listen``, the child also accepts connections from other processes (xdist workers) at
    :attr:`address`, a socket in a directory only this user can enter.
    """

    def __init__(self, *, concurrency: int, cache: Path | None, listen: bool = False) -> None:
        parent_end, child_end = socket.socketpair()
        passed = [child_end]
        self._directory: str | None = None
        address: str | None = None
        listener: socket.socket | None = None
        if listen:
            # Bound here, not in the child: a worker may connect before the child is up (the
            # connection waits in the backlog), and the directory (mode 0700) keeps others out.
            self._directory = tempfile.mkdtemp(prefix="medhelm-engine-")
            address = os.path.join(self._directory, "engine.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(address)
            listener.listen(128)
            passed.append(listener)
        if _can_fork():
            # A forked child has every module this process has imported (pytest, pydantic, the
            # engine): it is serving within milliseconds, not after 0.3 s of imports of its own.
            self._process: _Child = _Forked(parent_end, child_end, listener, concurrency, cache)
        else:
            self._process = _Spawned(child_end, listener, concurrency, cache)
        for sock in passed:
            sock.close()
        self._socket = parent_end
        super().__init__(address)

    async def _open_streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(sock=self._socket)

    def _gone_error(self) -> ModelError:
        return ModelError(f"the engine process exited (status {self._process.exitcode()})")

    def close(self, timeout_s: float = 10.0) -> None:
        """Close the socket (the child finishes and exits), then wait for it."""
        self._socket.close()
        self._process.wait(timeout_s)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


def _can_fork() -> bool:
    # Forking is safe only from a single-threaded process (a lock held by another thread stays
    # held in the child), and only Linux's fork is free of the platform caveats macOS has.
    return sys.platform.startswith("linux") and threading.active_count() == 1


class _Child(Protocol):
    pid: int | None

    def exitcode(self) -> int | None: ...

    def wait(self, timeout_s: float) -> None: ...


class _Forked:
    """The child as a fork of this process (multiprocessing's ``fork`` start method)."""

    def __init__(self, parent_end: socket.socket, owner: socket.socket, listener: socket.socket | None,
                 concurrency: int, cache: Path | None) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        context = multiprocessing.get_context("fork")
        self._process = context.Process(target=_forked_main, args=(parent_end, owner, listener, concurrency, cache),
                                        name="medhelm-engine", daemon=True)
        self._process.start()
        self.pid = self._process.pid

    def exitcode(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout_s: float) -> None:
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class _Spawned:
    """The child as a new interpreter running this module (where forking is not safe)."""

    def __init__(self, owner: socket.socket, listener: socket.socket | None, concurrency: int,
                 cache: Path | None) -> None:
        passed = [owner] if listener is None else [owner, listener]
        command = [sys.executable, "-m", "pytest_medhelm.engine.process", "--fd", str(owner.fileno()),
                   "--concurrency", str(concurrency)]
        if listener is not None:
            command += ["--listen-fd", str(listener.fileno())]
        if cache is not None:
            command += ["--cache", str(cache)]
        self._process = subprocess.Popen(command, pass_fds=[sock.fileno() for sock in passed],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.pid = self._process.pid

    def exitcode(self) -> int | None:
        return self._process.poll()

    def wait(self, timeout_s: float) -> None:
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# -- the child ------------------------------------------------------------------------------------

class _Hub:
    """The child's side of every connection: one engine, one table of planned calls."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.planned: dict[tuple[str, ModelRequest], asyncio.Task[Completion]] = {}
        self.claimed: set[tuple[str, ModelRequest]] = set()
        self.running: set[asyncio.Task[Any]] = set()

    def _start(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return task

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection, until it closes."""
        models: dict[str, ModelConfig] = {}
        while True:
            try:
                message = await _read(reader)
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                break  # that process closed its end, or is gone
            kind = message[0]
            if kind == "model":
                models[message[1]] = message[2]
            elif kind == "complete":
                _, request_id, name, fields = message
                self._start(self._answer(writer, request_id, models[name], ModelRequest(*fields)))
            elif kind == "plan":
                self._plan(models[message[1]], message[2])
            elif kind == "drop":
                self._drop(message[1], message[2])
        writer.close()

    def _plan(self, model: ModelConfig, requests: list[tuple[Any, ...]]) -> None:
        for fields in requests:
            key = (model.name, ModelRequest(*fields))
            if key not in self.planned:
                task = self.planned[key] = self._start(self.engine.complete(model, key[1]))
                # The asking item reports a failure; an unasked-for one is not worth a log line.
                task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _drop(self, name: str, requests: list[tuple[Any, ...]]) -> None:
        for fields in requests:
            key = (name, ModelRequest(*fields))
            if key not in self.claimed:
                task = self.planned.pop(key, None)
                if task is not None:
                    task.cancel()

    async def _answer(self, writer: asyncio.StreamWriter, request_id: int, model: ModelConfig,
                      request: ModelRequest) -> None:
        key = (model.name, request)
        planned = self.planned.get(key)
        try:
            if planned is not None:
                self.claimed.add(key)
                completion = await asyncio.shield(planned)
            else:
                completion = await self.engine.complete(model, request)
            reply = (request_id, True, _completion_fields(completion))
        except FatalModelError as exc:
            reply = (request_id, False, ("fatal", str(exc)))
        except ModelError as exc:
            reply = (request_id, False, ("model", str(exc)))
        except Exception as exc:  # a bug, not a model's answer: the asking item errors with it
            reply = (request_id, False, ("error", f"engine process: {type(exc).__name__}: {exc}"))
        writer.write(_frame(reply))

    async def close(self) -> None:
        for task in self.running:
            task.cancel()
        await asyncio.gather(*self.running, return_exceptions=True)


async def _serve(engine: Engine, owner: socket.socket, listener: socket.socket | None) -> None:
    hub = _Hub(engine)
    server = await asyncio.start_unix_server(hub.serve, sock=listener) if listener is not None else None
    await hub.serve(*await asyncio.open_connection(sock=owner))
    # The owner (the session) closed its end: the session is over.
    if server is not None:
        server.close()
    await hub.close()


def _run(owner: socket.socket, listener: socket.socket | None, concurrency: int, cache: Path | None) -> None:
    """The child's life: serve until the owner's end closes, then exit without teardown."""
    # Ctrl-C reaches the whole process group: the session handles it and closes its end, which
    # ends this process cleanly; a KeyboardInterrupt here would only lose answers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload_http_client()
    engine = Engine(concurrency=concurrency, cache=ResponseCache(cache) if cache else None)
    try:
        engine.submit(_serve(engine, owner, listener)).result()
    finally:
        engine.close()
    # Every answer is committed and the cache closed: skip the interpreter's teardown, which the
    # parent's session end would otherwise wait for.
    os._exit(0)


def _forked_main(parent_end: socket.socket, owner: socket.socket, listener: socket.socket | None,
                 concurrency: int, cache: Path | None) -> None:
    parent_end.close()  # else this process would hold its own owner's end open
    # The parent's objects came along: the cyclic GC must never finalise them here (an inherited
    # buffered file would flush the parent's data a second time).
    gc.freeze()
    _run(owner, listener, concurrency, cache)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="pytest-medhelm's engine process (started by the plugin)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--listen-fd", type=int)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args(argv)
    listener = socket.socket(fileno=args.listen_fd) if args.listen_fd is not None else None
    _run(socket.socket(fileno=args.fd), listener, args.concurrency, args.cache)


if __name__ == "__main__":
    main()
