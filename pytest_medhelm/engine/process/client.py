"""A process's end of the engine process: its model calls go over a socket to the child."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable

from pytest_medhelm.engine.budget import BudgetSpent
from pytest_medhelm.engine.core import Completion, FatalModelError, ModelError
from pytest_medhelm.engine.process.frames import frame, read_frame, request_fields
from pytest_medhelm.models.providers import ModelRequest
from pytest_medhelm.models.registry import ModelConfig


# A refused call's kind (the engine process's reply) -> the exception the asking item gets.
_REFUSALS: dict[str, type[Exception]] = {"fatal": FatalModelError, "budget": BudgetSpent}


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
            writer.write(frame(("model", model.name, model)))
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
                request_id, ok, value = await read_frame(reader)
                future = self._pending.pop(request_id, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(Completion(*value))
                else:
                    kind, message = value
                    future.set_exception(_REFUSALS.get(kind, ModelError)(message))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        self._gone = self._gone_error()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self._gone)
        self._pending.clear()

    async def complete(self, model: ModelConfig, request: ModelRequest, *, budgeted: bool = False) -> Completion:
        writer = await self._writer(model)
        request_id = next(self._ids)
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        writer.write(frame(("complete", request_id, model.name, request_fields(request), budgeted)))
        await self._drain(writer, request_id)
        return await future

    async def plan(self, model: ModelConfig, requests: Iterable[ModelRequest]) -> None:
        """Have the engine process start these calls now; their answers wait there for ``complete``."""
        await self._send(model, "plan", requests)

    async def drop(self, model: ModelConfig, requests: Iterable[ModelRequest]) -> None:
        """Planned calls no item will ask for: cancelled unless already answered or asked for."""
        await self._send(model, "drop", requests)

    async def _send(self, model: ModelConfig, kind: str, requests: Iterable[ModelRequest]) -> None:
        writer = await self._writer(model)
        writer.write(frame((kind, model.name, [request_fields(request) for request in requests])))
        await self._drain(writer)

    async def _drain(self, writer: asyncio.StreamWriter, request_id: int | None = None) -> None:
        # The child can die between two frames, before the receiver has read its end of file: the
        # write then fails here, and it is the same event as the receiver's, so it is said the same way.
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            if request_id is not None:
                self._pending.pop(request_id, None)
            self._gone = self._gone or self._gone_error()
            raise self._gone from None

    def disconnect(self) -> None:
        """On the engine loop, as it shuts down: close this end."""
        if (
            self._connected is not None
            and self._connected.done()
            and not self._connected.cancelled()
            and self._connected.exception() is None
        ):
            self._connected.result().close()

    def close(self, timeout_s: float = 10.0) -> None:
        """After the engine loop has stopped: nothing to wait for on a connection."""
