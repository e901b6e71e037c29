"""Run evaluations ahead of the pytest items that consume them.

pytest runs items one at a time; the model server must not wait for that. A :class:`Pipeline`
starts each job (prompt -> model -> scorer) on the engine loop in item order, keeping up to
``window`` jobs running, while the main thread takes the results in the same order. Results are
handed over through per-key futures created on demand by whichever side gets there first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Hashable, Iterable
from typing import Any

from pytest_medhelm.engine.core import Engine

Job = tuple[Hashable, Callable[[], Coroutine[Any, Any, Any]]]


class Pipeline:
    def __init__(self, engine: Engine, jobs: Iterable[Job], *, window: int) -> None:
        self._engine = engine
        self._jobs = jobs
        self._window = max(1, window)
        self._futures: dict[Hashable, concurrent.futures.Future[Any]] = {}
        self._lock = threading.Lock()
        self._feeder: concurrent.futures.Future[None] | None = None
        self._error: BaseException | None = None

    def start(self) -> Pipeline:
        self._feeder = self._engine.submit(self._feed())
        return self

    def _future(self, key: Hashable) -> concurrent.futures.Future[Any]:
        with self._lock:
            future = self._futures.get(key)
            if future is None:
                future = self._futures[key] = concurrent.futures.Future()
                if self._error is not None:
                    future.set_exception(self._error)
            return future

    async def _feed(self) -> None:
        try:
            await self._feed_jobs()
        except BaseException as exc:  # a job that cannot even start fails every waiting item
            with self._lock:
                self._error = exc
                waiting = [f for f in self._futures.values() if not f.done()]
            for future in waiting:
                future.set_exception(exc)
            raise

    async def _feed_jobs(self) -> None:
        slots = asyncio.Semaphore(self._window)
        for key, make in self._jobs:
            await slots.acquire()
            future = self._future(key)
            task = asyncio.ensure_future(make())

            def done(task: asyncio.Task[Any], future: concurrent.futures.Future[Any] = future) -> None:
                slots.release()
                try:
                    if task.cancelled():
                        future.cancel()
                    elif task.exception() is not None:
                        future.set_exception(task.exception())
                    else:
                        future.set_result(task.result())
                except concurrent.futures.InvalidStateError:
                    pass  # already failed by a feeder error: the first outcome stands

            task.add_done_callback(done)

    def result(self, key: Hashable, timeout: float | None = None) -> Any:
        """Block until the job ``key`` is done; its result or its exception."""
        future = self._future(key)
        try:
            return future.result(timeout=timeout)
        finally:
            with self._lock:
                self._futures.pop(key, None)

    def cancel(self) -> None:
        if self._feeder is not None:
            self._feeder.cancel()
