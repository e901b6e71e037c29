"""The engine process itself: one ordinary Engine serving every connection, with the planned calls."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import socket
from pathlib import Path
from typing import Any

from pytest_medhelm.engine.budget import Budget, BudgetSpent
from pytest_medhelm.engine.cache import ResponseCache
from pytest_medhelm.engine.core import Completion, Engine, FatalModelError, ModelError
from pytest_medhelm.engine.http_client import preload_http_client
from pytest_medhelm.engine.process.frames import completion_fields, frame, read_frame
from pytest_medhelm.models.providers import ModelRequest
from pytest_medhelm.models.registry import ModelConfig


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
                message = await read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                break  # that process closed its end, or is gone
            kind = message[0]
            if kind == "model":
                models[message[1]] = message[2]
            elif kind == "complete":
                _, request_id, name, fields, budgeted = message
                self._start(self._answer(writer, request_id, models[name], ModelRequest(*fields), budgeted))
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

    async def _answer(
        self,
        writer: asyncio.StreamWriter,
        request_id: int,
        model: ModelConfig,
        request: ModelRequest,
        budgeted: bool = False,
    ) -> None:
        key = (model.name, request)
        planned = self.planned.get(key)
        try:
            if planned is not None:
                self.claimed.add(key)
                completion = await asyncio.shield(planned)
            else:
                completion = await self.engine.complete(model, request, budgeted=budgeted)
            reply = (request_id, True, completion_fields(completion))
        except BudgetSpent as exc:  # the session's one budget is spent: the asking item is not run
            reply = (request_id, False, ("budget", str(exc)))
        except FatalModelError as exc:
            reply = (request_id, False, ("fatal", str(exc)))
        except ModelError as exc:
            reply = (request_id, False, ("model", str(exc)))
        except Exception as exc:  # a bug, not a model's answer: the asking item errors with it
            reply = (request_id, False, ("error", f"engine process: {type(exc).__name__}: {exc}"))
        writer.write(frame(reply))

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


def _run(
    owner: socket.socket,
    listener: socket.socket | None,
    concurrency: int,
    cache: Path | None,
    include_text: bool = False,
    budget_usd: float | None = None,
) -> None:
    """The child's life: serve until the owner's end closes, then exit without teardown."""
    # Ctrl-C reaches the whole process group: the session handles it and closes its end, which
    # ends this process cleanly; a KeyboardInterrupt here would only lose answers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload_http_client()
    engine = Engine(
        concurrency=concurrency,
        cache=ResponseCache(cache) if cache else None,
        include_text=include_text,
        budget=Budget(budget_usd) if budget_usd is not None else None,
    )
    try:
        engine.submit(_serve(engine, owner, listener)).result()
    finally:
        engine.close()
    # Every answer is committed and the cache closed: skip the interpreter's teardown, which the
    # parent's session end would otherwise wait for.
    os._exit(0)


def forked_main(
    parent_end: socket.socket,
    owner: socket.socket,
    listener: socket.socket | None,
    concurrency: int,
    cache: Path | None,
    include_text: bool = False,
    budget_usd: float | None = None,
) -> None:
    parent_end.close()  # else this process would hold its own owner's end open
    # The parent's objects came along: the cyclic GC must never finalise them here (an inherited
    # buffered file would flush the parent's data a second time).
    gc.freeze()
    _run(owner, listener, concurrency, cache, include_text, budget_usd)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="pytest-medhelm's engine process (started by the plugin)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--listen-fd", type=int)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--include-text", action="store_true")
    parser.add_argument("--budget", type=float)
    args = parser.parse_args(argv)
    listener = socket.socket(fileno=args.listen_fd) if args.listen_fd is not None else None
    _run(socket.socket(fileno=args.fd), listener, args.concurrency, args.cache, args.include_text, args.budget)
