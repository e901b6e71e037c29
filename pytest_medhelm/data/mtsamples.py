"""What the two MTSamples benchmarks share: HELM's file listing and its reference extraction."""

from __future__ import annotations

from urllib.parse import quote

from pytest_medhelm.data.sources import DataUnavailable, Fetcher, Record

SECTIONS = ("PLAN:", "SUMMARY:", "FINDINGS:")


def fetch_files(fetcher: Fetcher, listing: str, raw: str) -> list[Record]:
    """Every ``.txt`` file the GitHub contents API lists (at most 1,000, as HELM gets), read from
    ``raw``; a file that fails to download is skipped, as HELM does."""
    records = []
    for name in [f["name"] for f in fetcher.json(listing) if f["name"].endswith(".txt")]:
        try:
            records.append({"file_name": name, "text": fetcher.text(raw + quote(name))})
        except DataUnavailable:
            continue
    return records


def reference(text: str) -> str | None:
    """The first line after ``PLAN:``, else ``SUMMARY:``, else ``FINDINGS:``; None drops the file.

    HELM detects a section on the upper-cased text but splits on the exact-case marker, and it
    extracts all three before choosing, so any case mismatch drops the file.
    """
    try:
        found = [text.split(s)[1].split("\n", 1)[0].strip() if s in text.upper() else None for s in SECTIONS]
    except IndexError:
        return None
    return next((section for section in found if section), None)
