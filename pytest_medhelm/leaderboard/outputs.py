"""Every file of ``--medhelm-output`` (and of ``medhelm leaderboard --output``), written together."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_medhelm.results import ResultsFile

RESULTS = "results.json"
MARKDOWN = "leaderboard.md"
HTML = "report.html"
SUMMARY = "medhelm-summary.xml"


def write_outputs(results: ResultsFile, directory: Path, *, include_text: bool = False) -> dict[str, Path]:
    """results.json (with outputs and references) and the reports beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    results.write(directory / RESULTS)
    return {RESULTS: directory / RESULTS, **write_reports(results, directory, include_text=include_text)}


def write_reports(results: ResultsFile, directory: Path, *, include_text: bool = False) -> dict[str, Path]:
    """leaderboard.md, report.html (model outputs and references only with ``include_text``) and
    medhelm-summary.xml; a session's results.json is written by the run outcome (plugin/outcome.py)."""
    from pytest_medhelm.leaderboard import html, junit, markdown

    directory.mkdir(parents=True, exist_ok=True)
    return {
        MARKDOWN: _write_text(directory / MARKDOWN, markdown.render(results)),
        HTML: _write_text(directory / HTML, html.render(results, include_text=include_text)),
        SUMMARY: junit.write_summary(results, directory / SUMMARY),
    }


def _write_text(path: Path, text: str) -> Path:
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    part.replace(path)
    return path
