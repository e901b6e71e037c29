"""Answering requests: each connection's request loop, routing, authentication, injected faults,
the serving slot and the responder.  Every API request is counted in the server's stats."""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
from typing import Any, Callable, Deque, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

from pytest_medhelm.testserver.api import (
    CHAT_PATH,
    MESSAGES_PATH,
    MODELS_PATH,
    UNCOUNTED_PATHS,
    Invalid,
    canonical,
    completion_payload,
    error_body,
    models_payload,
    validate,
)
from pytest_medhelm.testserver.faults import DEFAULT_MALFORMED, Fault, FaultQueue
from pytest_medhelm.testserver.slots import Slots
from pytest_medhelm.testserver.stats import Recorder, Track
from pytest_medhelm.testserver.wire import HTTPError, Request, fmt_retry_after, read_request, send


class RequestHandler:
    """Answers a :class:`~pytest_medhelm.testserver.server.TestServer`'s requests on its loop.

    It shares the server's counters, serving slots and fault queue, and owns what requests leave
    behind: the recorded bodies and the handler errors.
    """

    def __init__(
        self,
        *,
        recorder: Recorder,
        limiter: Slots,
        faults: FaultQueue,
        responder: Callable[[Dict[str, Any]], str],
        api_key: Optional[str],
        known_models: Optional[FrozenSet[str]],
        record_bodies: bool,
        model_name: str,
    ) -> None:
        self.latency = 0.0  # seconds spent holding a slot; TestServer.latency checks the value
        self.bodies: List[Dict[str, Any]] = []
        self.errors: Deque[str] = collections.deque(maxlen=100)
        self._rec = recorder
        self._limiter = limiter
        self._faults = faults
        self._responder = responder
        self._api_key = api_key
        self._known_models = known_models
        self._record_bodies = record_bodies
        self._model_name = model_name
        self._id_counter = 0
        self._connections: Set[asyncio.Task] = set()

    def reset_stats(self) -> None:
        """Zero the counters and forget recorded request bodies."""
        self._rec.reset()
        self.bodies = []

    async def close_connections(self) -> None:
        """Cancel every open connection's task and wait for them to end."""
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---------------------------------------------------------------- connection handling

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer the connection's requests until it closes (``asyncio.start_server``'s callback)."""
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
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
                self._connections.discard(task)
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
                payload = json.dumps(self._rec.snapshot().as_dict()).encode()
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
            self.errors.append(f"{type(exc).__name__}: {exc}")
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
            self.bodies.append(body)
        messages = body.get("messages")
        if flavor == "anthropic":
            prompt_key: Any = [body.get("system"), messages]
        else:
            prompt_key = messages
        self._rec.seen(hash(canonical(body)), hash(canonical(prompt_key)) if messages is not None else None)

        fault = self._faults.take(body)
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
            delay = self.latency + extra_delay
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
