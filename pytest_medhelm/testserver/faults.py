"""Scripted failures: what the server does to a request instead of answering it."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = ("status", "hang", "malformed", "drop", "delay")

DEFAULT_MALFORMED = (
    '{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assist'
)


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of answering it normally.

    Build one with the constructors: ``Fault.http(429, retry_after=0.2)``,
    ``Fault.hang(30)``, ``Fault.malformed()``, ``Fault.drop()``,
    ``Fault.slow(0.5)``.

    kinds:
      ``"status"``    answer with ``status`` (plus ``Retry-After`` if given) and an
                      error JSON body in the endpoint's style (or ``body``).
      ``"hang"``      read the request, never answer; close the connection after
                      ``seconds`` (or earlier if the client goes away).
      ``"malformed"`` ``200`` with a truncated, non-JSON body (or ``body``).
      ``"drop"``      close the socket without sending any response bytes.
      ``"delay"``     wait ``seconds`` extra (on top of the latency), then answer
                      normally.
    """

    kind: str
    status: int = 500
    retry_after: float | str | None = None
    seconds: float = 0.0
    body: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 200 <= self.status <= 599:
            raise ValueError(f"fault status must be an int in 200..599, got {self.status!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or self.seconds < 0:
            raise ValueError(f"fault seconds must be a number >= 0, got {self.seconds!r}")
        ra = self.retry_after
        if ra is not None:
            if isinstance(ra, bool) or not isinstance(ra, (int, float, str)):
                raise ValueError(f"retry_after must be a number, a string or None, got {ra!r}")
            if isinstance(ra, (int, float)) and ra < 0:
                raise ValueError(f"retry_after must be >= 0, got {ra!r}")
            if isinstance(ra, str) and ("\r" in ra or "\n" in ra):
                raise ValueError("retry_after must not contain line breaks")

    @classmethod
    def http(cls, status: int = 500, *, retry_after: float | str | None = None, body: str | None = None) -> "Fault":
        """Answer with HTTP ``status`` (e.g. 429, 500, 503), optional ``Retry-After``."""
        return cls("status", status=status, retry_after=retry_after, body=body)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> "Fault":
        """Hold the connection open without answering for ``seconds``, then close it."""
        return cls("hang", seconds=seconds)

    @classmethod
    def malformed(cls, body: str | None = None) -> "Fault":
        """Answer ``200`` with a body that is not valid JSON (truncated by default)."""
        return cls("malformed", status=200, body=body)

    @classmethod
    def drop(cls) -> "Fault":
        """Close the connection without sending any response."""
        return cls("drop")

    @classmethod
    def slow(cls, seconds: float) -> "Fault":
        """Answer normally after an extra ``seconds`` of delay."""
        return cls("delay", seconds=seconds)


class FaultQueue:
    """The faults waiting for completion requests: injected ones, one per request in order, before
    matchers, which apply to every request they match (the first registered match wins).

    Filled from the test's thread, taken on the server's loop: every access holds the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: collections.deque[Fault] = collections.deque()
        self._matchers: list[tuple[Callable[[dict[str, Any]], bool], Fault]] = []

    def extend(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._queued.extend(faults)

    def add_matcher(self, predicate: Callable[[dict[str, Any]], bool], fault: Fault) -> None:
        with self._lock:
            self._matchers.append((predicate, fault))

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self._matchers.clear()

    @property
    def queued(self) -> int:
        """How many injected faults have not been taken yet."""
        with self._lock:
            return len(self._queued)

    def take(self, body: dict[str, Any]) -> Fault | None:
        """The fault for a request with this JSON body, if any (the predicates run unlocked)."""
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            matchers = list(self._matchers)
        for predicate, fault in matchers:
            if predicate(body):
                return fault
        return None
