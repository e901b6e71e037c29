"""The suite on the oldest and the newest supported pytest and pytest-xdist (``.ci/run`` runs both).

    nox -s "tests(oldest)"      # pyproject's lower bounds: pytest 9.0, pytest-xdist 3.6.1
    nox -s "tests(newest)"      # whatever the registry has now

Python 3.11 or newer (pyproject's requires-python; nox runs on the interpreter that starts it).
The oldest versions are read from ``[project.dependencies]``, so raising a bound there is the one
edit. Arguments after ``--`` go to pytest (default: the README's test command, ``-n 2``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text(encoding="utf-8"))
PINNED = ("pytest", "pytest-xdist")


def lower_bounds() -> list[str]:
    """``pytest==X`` and ``pytest-xdist==Y`` from the ``>=`` bounds in [project.dependencies]."""
    pins = []
    for requirement in PYPROJECT["project"]["dependencies"]:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,;\s]*)\s*", requirement)
        if match and match.group(1).lower() in PINNED:
            pins.append(f"{match.group(1)}=={match.group(2)}")
    assert len(pins) == len(PINNED), f"no >= bound for one of {PINNED} in pyproject.toml"
    return pins


@nox.session
@nox.parametrize("versions", ["oldest", "newest"], ids=["oldest", "newest"])
def tests(session: nox.Session, versions: str) -> None:
    session.install("-e", ".[test]")
    if versions == "oldest":
        session.install(*lower_bounds())
    else:
        session.install("--upgrade", *PINNED)
    session.run("python", "-m", "pip", "list", "--format=freeze")  # the versions, in the log
    session.run("pytest", *(session.posargs or ["-n", "2"]))
