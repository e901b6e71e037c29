"""The server's counters: what a benchmark reads from ``/stats`` to see the concurrency it got."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Set


@dataclass
class ServerStats:
    """A snapshot of the server's counters since start or the last reset.

    requests          API requests received (everything except /stats, /stats/reset, /health)
    completed         of those, requests that have left flight (answered, faulted, dropped, ...)
    succeeded         normal 200 answers (a ``slow`` fault still counts as succeeded)
    faults            requests that had a :class:`Fault` applied
    handler_errors    requests that hit an exception inside the server (responder, predicate)
    in_flight         requests in flight right now (queued for a slot or being served)
    peak_in_flight    the most requests in flight at once
    mean_in_flight    time-weighted mean of requests in flight between the first
                      request's arrival and the last response
    peak_serving      the most requests holding a serving slot at once (<= slots)
    window_seconds    time from the first request's arrival to the last response
    first_arrival     time.perf_counter() of the first request's arrival (None before one); on
                      Linux every process reads the same clock, so a client can place it on its
                      own timeline
    last_response     time.perf_counter() of the last response (None before one)
    duplicates        requests whose canonical JSON body had been seen before
    distinct_prompts  distinct prompts (messages, plus system for /v1/messages)
    by_path           request count per path
    by_outcome        count per outcome: status code as a string ("200", "429", ...)
                      or "malformed", "dropped", "hung", "disconnected"
    """

    requests: int = 0
    completed: int = 0
    succeeded: int = 0
    faults: int = 0
    handler_errors: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    mean_in_flight: float = 0.0
    peak_serving: int = 0
    window_seconds: float = 0.0
    first_arrival: Optional[float] = None
    last_response: Optional[float] = None
    duplicates: int = 0
    distinct_prompts: int = 0
    by_path: Dict[str, int] = field(default_factory=dict)
    by_outcome: Dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


class Recorder:
    """Thread-safe counters.  Mutated on the server's loop thread, read anywhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Live state, never reset.
        self.in_flight = 0
        self.serving = 0
        self._reset_locked()

    def _reset_locked(self) -> None:
        self.epoch = getattr(self, "epoch", 0) + 1
        self.requests = 0
        self.completed = 0
        self.succeeded = 0
        self.faults = 0
        self.handler_errors = 0
        self.peak_in_flight = self.in_flight
        self.peak_serving = self.serving
        self.by_path: Dict[str, int] = {}
        self.by_outcome: Dict[str, int] = {}
        self.body_hashes: Set[int] = set()
        self.prompt_hashes: Set[int] = set()
        self.duplicates = 0
        # Time-weighted in-flight integral.
        self.t_first: Optional[float] = None
        self.t_last = 0.0
        self.area = 0.0
        self.t_done: Optional[float] = None
        self.area_done = 0.0

    def reset(self) -> None:
        with self._lock:
            self._reset_locked()

    def _advance(self, now: float) -> None:
        if self.t_first is not None:
            self.area += self.in_flight * (now - self.t_last)
            self.t_last = now

    def arrive(self, path: str) -> int:
        now = time.perf_counter()
        with self._lock:
            if self.t_first is None:
                self.t_first = now
                self.t_last = now
            else:
                self._advance(now)
            self.in_flight += 1
            self.requests += 1
            if self.in_flight > self.peak_in_flight:
                self.peak_in_flight = self.in_flight
            self.by_path[path] = self.by_path.get(path, 0) + 1
            return self.epoch

    def depart(self, epoch: int, outcome: str, ok: bool, faulted: bool, errored: bool) -> None:
        now = time.perf_counter()
        with self._lock:
            self._advance(now)
            self.in_flight -= 1
            if self.t_first is not None:
                self.t_done = now
                self.area_done = self.area
            if epoch != self.epoch:
                return  # arrived before a reset: not part of these stats
            self.completed += 1
            if ok:
                self.succeeded += 1
            if faulted:
                self.faults += 1
            if errored:
                self.handler_errors += 1
            self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1

    def seen(self, body_hash: int, prompt_hash: Optional[int]) -> None:
        with self._lock:
            if body_hash in self.body_hashes:
                self.duplicates += 1
            else:
                self.body_hashes.add(body_hash)
            if prompt_hash is not None:
                self.prompt_hashes.add(prompt_hash)

    def serving_started(self) -> None:
        with self._lock:
            self.serving += 1
            if self.serving > self.peak_serving:
                self.peak_serving = self.serving

    def serving_finished(self) -> None:
        with self._lock:
            self.serving -= 1

    def snapshot(self) -> ServerStats:
        with self._lock:
            window = 0.0
            mean = 0.0
            if self.t_first is not None and self.t_done is not None and self.t_done > self.t_first:
                window = self.t_done - self.t_first
                mean = self.area_done / window
            return ServerStats(
                requests=self.requests,
                completed=self.completed,
                succeeded=self.succeeded,
                faults=self.faults,
                handler_errors=self.handler_errors,
                in_flight=self.in_flight,
                peak_in_flight=self.peak_in_flight,
                mean_in_flight=mean,
                peak_serving=self.peak_serving,
                window_seconds=window,
                first_arrival=self.t_first,
                last_response=self.t_done,
                duplicates=self.duplicates,
                distinct_prompts=len(self.prompt_hashes),
                by_path=dict(self.by_path),
                by_outcome=dict(self.by_outcome),
            )


class Track:
    """Bookkeeping for one counted request.

    ``finish()`` records the request as completed exactly once, *before* the
    final bytes are handed to the socket, so a client that has just read its
    response always sees itself counted in ``stats``.
    """

    __slots__ = ("rec", "epoch", "outcome", "ok", "faulted", "errored", "done")

    def __init__(self, rec: "Recorder", epoch: int) -> None:
        self.rec = rec
        self.epoch = epoch
        self.outcome = "disconnected"
        self.ok = False
        self.faulted = False
        self.errored = False
        self.done = False

    def finish(self, outcome: Optional[str] = None) -> None:
        if self.done:
            return
        self.done = True
        if outcome is not None:
            self.outcome = outcome
        self.rec.depart(self.epoch, self.outcome, self.ok, self.faulted, self.errored)
