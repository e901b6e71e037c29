"""The serving limit: ``slots`` requests served at once, resizable while the server runs."""

from __future__ import annotations

import asyncio
import collections
from typing import Deque


class Slots:
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
