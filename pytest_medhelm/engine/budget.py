"""The session's spending limit (``--medhelm-budget``), held by the engine that sends the requests.

The engine charges every request it sends (the evaluated model's and the judges') at the
registry's prices as its answer arrives, and refuses to send an item's requests (its model's, its
judges') once the spend has reached the limit, checked when a request would go out, not when it
was queued: the item is then reported as not run. A cached answer, a baseline's, or one shared
with an identical request in flight is no new request and is never refused; a judge's repair
prompt, the follow-up of a paid reply, is not refused either. So the spend stops just past the
limit, by the requests in flight when it was reached (at most the concurrency). What a not-run
item had already paid (its answer, when a judge was refused) is counted in the run's spend.

Under xdist the engine process that serves every worker holds the one budget of the session; workers
with engines of their own (the fast path off, or workers on other machines) each hold an equal
share, so one may stop while another still has some left (the run says so).
"""

from __future__ import annotations

from dataclasses import dataclass


class BudgetSpent(Exception):
    """The session's spend has reached --medhelm-budget: this item's request is not sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # What the item had paid before the refusal (its model's answer, judges answered meanwhile).
        self.paid_usd = 0.0


@dataclass
class Budget:
    """A spending limit, checked and charged on one engine's loop (no lock needed)."""

    session_usd: float
    # Workers sharing the session's budget equally (each with an engine of its own); 1: all of it.
    workers: int = 1
    spent_usd: float = 0.0

    @property
    def limit_usd(self) -> float:
        return self.session_usd / self.workers

    def check(self) -> None:
        """Before an item's request is sent: refuse once the spend has reached the limit."""
        if self.spent_usd >= self.limit_usd:
            share = f"this worker's share (1/{self.workers}) of " if self.workers > 1 else ""
            raise BudgetSpent(
                f"not run: {share}the --medhelm-budget of ${self.session_usd:g} is spent (${self.spent_usd:.4f} so far)"
            )

    def charge(self, cost_usd: float) -> None:
        self.spent_usd += cost_usd
