"""pytest's and pytest-xdist's private names are used in the fast path (plugin/fastpath/) only, so
that ``-p no:medhelm_fastpath`` leaves a plugin that runs on public API alone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FASTPATH = REPO / "pytest_medhelm" / "plugin" / "fastpath"
# Imports from pytest's private package, and the private names the fast path is known to use
# (issue #10's list; the terminal's statistics are rewritten elsewhere too, under other keys).
PRIVATE = re.compile(
    r"\b_pytest\b|_setupstate|_use_item_location|stats\[\"\"\]|_check_nodes_have_same_collection"
    r"|node2pending|(?<![\w_])pending\[|\.pending\b"
)


def sources() -> list[Path]:
    return sorted([*(REPO / "pytest_medhelm").rglob("*.py"), *(REPO / "suites").rglob("*.py")])


def test_private_names_of_pytest_and_xdist_appear_only_in_the_fast_path() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sources()
        if FASTPATH not in path.parents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE.search(line)
    ]

    assert found == []


def test_the_scan_sees_the_fast_paths_own_uses() -> None:
    # Guards the pattern itself: it must match what the fast path really does.
    text = "\n".join(path.read_text(encoding="utf-8") for path in FASTPATH.rglob("*.py"))
    for name in (
        "_pytest.runner",
        "_setupstate",
        'stats[""]',
        "_check_nodes_have_same_collection",
        "node2pending",
        "self.pending",
    ):
        assert name in text and PRIVATE.search(name), name
