"""The repository's shared test fixtures: the real public samples beside the checkout and an
isolated MEDHELM_HOME for every test. pytester is enabled in pyproject.toml (``-p pytester``), not
here: a development checkout's suites/ sit below this file, so pytester sessions that collect them
load it as a non-root conftest, where ``pytest_plugins`` is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
# MEDHELM_SHARED_DATA points a worktree that is not beside ../shared at the samples.
SHARED_DATA = Path(os.environ.get("MEDHELM_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: small samples of the real public benchmark data (the local mirror layout)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the real data samples at {SHARED_DATA} (../shared/data beside the checkout)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep downloads and instance caches of every test out of the user's real cache."""
    monkeypatch.setenv("MEDHELM_HOME", str(tmp_path_factory.mktemp("medhelm-home")))
