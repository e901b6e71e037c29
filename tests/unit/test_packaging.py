"""The wheel's package list: the package folder and the top-level suites/ shipped inside it."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _package_folders() -> set[str]:
    names = set()
    for init in [*REPO.glob("pytest_medhelm/**/__init__.py"), *REPO.glob("suites/**/__init__.py")]:
        parts = init.parent.relative_to(REPO).parts
        if parts[0] == "suites":
            parts = ("pytest_medhelm", *parts)
        names.add(".".join(parts))
    return names


def test_pyproject_lists_every_package_folder() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(config["packages"]) == _package_folders()
    assert config["package-dir"] == {"pytest_medhelm.suites": "suites"}
