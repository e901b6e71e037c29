"""A run that is not complete says so first: the banner at the top of leaderboard.md and
report.html, and the text of medhelm-summary.xml's failed ``run`` case.

Nobody reading a report may take a partial run's scores for a whole run's: an interrupted, failed
or empty run, or one whose ``--medhelm-budget`` ran out, is named with its reason and its counts
(``medhelm leaderboard`` names each input that is not complete). A complete run has no banner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_medhelm.results import ResultsFile, RunCounts, RunState

# Every RunState, worst first: the state of a leaderboard merged from runs is that of its worst
# input (a test checks that none is missing).
SEVERITY: tuple[RunState, ...] = ("failed", "interrupted", "nothing_run", "complete")


def state_label(status: str) -> str:
    """``nothing_run`` -> ``NOTHING RUN``, as the terminal says it."""
    return status.upper().replace("_", " ")


def counts_text(counts: RunCounts) -> str:
    """What happened to the selected items, in one clause; "" when nothing was counted."""
    if not counts.selected:
        return ""
    reported = counts.selected - counts.not_run
    return (
        f"{reported} of {counts.selected} selected items reported, {counts.not_run} not run "
        f"({counts.passed} passed, {counts.wrong} wrong, {counts.failed} failed, {counts.errors} errors, "
        f"{counts.skipped} skipped)"
    )


def describe(status: str, reason: str | None, counts: RunCounts | None = None) -> str:
    """``interrupted (REASON; COUNTS)``: one run's state, for naming an input that is not complete."""
    details = "; ".join(part for part in (reason, counts_text(counts) if counts else "") if part)
    return status + (f" ({details})" if details else "")


def merged_state(inputs: list[tuple[Path, str, str | None, RunCounts | None]]) -> tuple[str, str | None]:
    """The status of a leaderboard merged from runs (path, status, reason, counts): its worst
    input's, with every input that is not complete named in the reason."""
    incomplete = [(path, status, reason, counts) for path, status, reason, counts in inputs if status != "complete"]
    if not incomplete:
        return "complete", None
    worst = min((status for _, status, _, _ in incomplete), key=SEVERITY.index)
    named = "; ".join(f"{path}: {describe(status, reason, counts)}" for path, status, reason, counts in incomplete)
    return worst, f"not every merged run is complete: {named}"


def banner(results: ResultsFile) -> str | None:
    """The warning a report opens with; None for a complete run that its budget did not stop."""
    budget_stopped = bool(results.budget.get("stopped"))
    if results.status == "complete" and not budget_stopped:
        return None
    parts = []
    if results.status != "complete":
        parts.append(f"Run {state_label(results.status)}: {results.status_reason or 'no reason recorded'}.")
    if budget_stopped:
        parts.append(
            f"The --medhelm-budget of ${results.budget.get('budget_usd') or 0:g} was spent: "
            f"{results.budget.get('not_run', 0)} items were not run."
        )
    counted = counts_text(results.counts)
    if counted:
        parts.append(counted[0].upper() + counted[1:] + ".")
    parts.append(
        "Nothing was scored."
        if results.status == "nothing_run"
        else "The scores below are partial, not those of a complete run."
    )
    return " ".join(" ".join(parts).split())  # one line, whatever the reason holds
