"""Node ids that can be pasted back: every id the run prints re-runs its item from anywhere.

The built-in suites ship inside the package, so pytest names their items relative to the suites
folder (``medical_research/test_pubmed_qa.py::pubmed_qa[...]``), a path that does not exist where
the user runs pytest. Given back on the command line, such an id is found in the suites folder;
a gate's id (``medhelm::gate::medcalc_bench``) re-runs the items its verdict needs, and that gate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_medhelm.suites import SUITES_DIR

GATE_PREFIX = "medhelm::gate::"
# The gates named on the command line (empty: every gate runs).
selected_gates_key = pytest.StashKey[set[str]]()


def suite_nodeid(module_path: Path, rootpath: Path) -> str | None:
    """The node id of a built-in suite module outside the rootdir: its path in the suites folder,
    however it was selected (the folder, a file, a pasted id). None: pytest's own rule applies."""
    try:
        module_path.relative_to(rootpath)
        return None
    except ValueError:
        pass
    try:
        return module_path.relative_to(SUITES_DIR).as_posix()
    except ValueError:
        return None


def _suite_path_for_gate(target: str) -> Path:
    """What a gate's verdict needs: a benchmark's module, a category's folder, or every suite."""
    name = target.split("[", 1)[0]
    if (SUITES_DIR / name).is_dir():
        return SUITES_DIR / name
    for module in sorted(SUITES_DIR.glob(f"*/test_{name}.py")):
        return module
    return SUITES_DIR


def resolve_args(args: Sequence[str], invocation_dir: Path, rootpath: Path) -> tuple[list[str], set[str]]:
    """Command-line paths as pytest should see them, and the gates named on the command line.

    pytest prints an id relative to the current directory (``../medical_research/...`` from a
    subfolder of the rootdir): such a path is taken back to the rootdir-relative id first."""
    resolved: list[str] = []
    gates: set[str] = set()
    for arg in args:
        if arg.startswith(GATE_PREFIX):
            gates.add(arg[len(GATE_PREFIX) :])
            path = str(_suite_path_for_gate(arg[len(GATE_PREFIX) :]))
            if path not in resolved:
                resolved.append(path)
            continue
        path_part, sep, rest = arg.partition("::")
        if arg.startswith("-") or not path_part or (invocation_dir / path_part).exists():
            resolved.append(arg)
            continue
        as_id = os.path.relpath(os.path.normpath(invocation_dir / path_part), rootpath)
        candidates = [SUITES_DIR / path_part] + ([SUITES_DIR / as_id] if not as_id.startswith("..") else [])
        found = next((candidate for candidate in candidates if candidate.exists()), None)
        resolved.append(f"{found}{sep}{rest}" if found is not None else arg)
    return resolved, gates
