"""A session's model calls in a child process: the HTTP client and the cache on a core of their own.

In one process, pytest's items and the engine's HTTP work share one GIL, and every hand-off
between the two threads costs CPU on top of the work itself (about 0.4 ms an item, measured at
zero server latency), which a single core cannot spare at 300 answers a second. With an
:class:`EngineProcess`, the session's :class:`~pytest_medhelm.engine.Engine` keeps its loop, the
pipeline and the scorers, and hands each network model call to a child process running an
ordinary ``Engine``: response cache, retries, rate limits, in-flight de-duplication and fatal
errors all work there as they do in-process.

The two talk over a socket pair (the child is ours: nothing else can connect) in frames of a
4-byte length and a pickle. The child exits when the socket closes, so it never outlives its
parent.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import pickle
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_medhelm.engine.cache import ResponseCache
from pytest_medhelm.engine.core import Completion, Engine, FatalModelError, ModelError
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


class EngineProcess:
    """The parent's end: starts the child at once, sends it calls from the parent engine's loop."""

    def __init__(self, *, concurrency: int, cache: Path | None) -> None:
        parent_end, child_end = socket.socketpair()
        command = [sys.executable, "-m", "pytest_medhelm.engine.process", "--fd", str(child_end.fileno()),
                   "--concurrency", str(concurrency)]
        if cache is not None:
            command += ["--cache", str(cache)]
        self._process = subprocess.Popen(command, pass_fds=[child_end.fileno()], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL)
        child_end.close()
        self._socket = parent_end
        self._connected: asyncio.Future[asyncio.StreamWriter] | None = None
        self._pending: dict[int, asyncio.Future[Completion]] = {}
        self._models: dict[str, ModelConfig] = {}
        self._ids = itertools.count()
        self._gone: ModelError | None = None
        self._receiver: asyncio.Future[None] | None = None  # held: the loop keeps tasks only weakly

    async def _open(self) -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection(sock=self._socket)
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
        self._gone = ModelError(f"the engine process exited (status {self._process.poll()})")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self._gone)
        self._pending.clear()

    async def complete(self, model: ModelConfig, request: ModelRequest) -> Completion:
        if self._gone is not None:
            raise self._gone
        if self._connected is None:
            self._connected = asyncio.ensure_future(self._open())
        writer = await self._connected
        if self._models.get(model.name) is not model:
            # A model's config crosses once; a different config under the same name replaces it.
            self._models[model.name] = model
            writer.write(_frame(("model", model.name, model)))
        request_id = next(self._ids)
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        writer.write(_frame(("complete", request_id, model.name, _request_fields(request))))
        await writer.drain()
        return await future

    def disconnect(self) -> None:
        """On the parent engine's loop, as it shuts down: close our end (the child sees EOF and exits)."""
        if self._connected is not None and self._connected.done() and not self._connected.cancelled() \
                and self._connected.exception() is None:
            self._connected.result().close()

    def close(self, timeout_s: float = 10.0) -> None:
        """Close the socket (the child finishes and exits), then wait for it."""
        self._socket.close()
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# -- the child ------------------------------------------------------------------------------------

async def _serve(engine: Engine, sock: socket.socket) -> None:
    reader, writer = await asyncio.open_connection(sock=sock)
    models: dict[str, ModelConfig] = {}
    running: set[asyncio.Task[None]] = set()

    async def answer(request_id: int, model: ModelConfig, request: ModelRequest) -> None:
        try:
            reply = (request_id, True, _completion_fields(await engine.complete(model, request)))
        except FatalModelError as exc:
            reply = (request_id, False, ("fatal", str(exc)))
        except ModelError as exc:
            reply = (request_id, False, ("model", str(exc)))
        except Exception as exc:  # a bug, not a model's answer: the parent's item errors with it
            reply = (request_id, False, ("error", f"engine process: {type(exc).__name__}: {exc}"))
        writer.write(_frame(reply))

    while True:
        try:
            message = await _read(reader)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            break  # the parent closed the socket, or is gone
        if message[0] == "model":
            models[message[1]] = message[2]
        else:
            _, request_id, name, fields = message
            task = asyncio.ensure_future(answer(request_id, models[name], ModelRequest(*fields)))
            running.add(task)
            task.add_done_callback(running.discard)
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="pytest-medhelm's engine process (started by the plugin)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args(argv)
    engine = Engine(concurrency=args.concurrency, cache=ResponseCache(args.cache) if args.cache else None)
    try:
        engine.submit(_serve(engine, socket.socket(fileno=args.fd))).result()
    finally:
        engine.close()
    # Every answer is committed and the cache closed: skip the interpreter's teardown, which the
    # parent's session end would otherwise wait for.
    os._exit(0)


if __name__ == "__main__":
    main()
