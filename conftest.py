"""The repository's shared test fixtures: the real public samples beside the checkout and an
isolated MEDHELM_HOME for every test. pytester is enabled in pyproject.toml (``-p pytester``), not
here: a development checkout's suites/ sit below this file, so pytester sessions that collect them
load it as a non-root conftest, where ``pytest_plugins`` is refused."""

from __future__ import annotations

import os
import sys
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


@pytest.fixture(scope="session")
def helm_oracle(shared_data: Path):
    """HELM 0.5.16's own code in a separate environment (tests/oracle/helm_oracle.py): created or
    reused at $MEDHELM_HELM_VENV; skipped with the reason when it cannot be installed."""
    sys.path.insert(0, str(REPO / "tests" / "oracle"))
    from helm_oracle import HelmOracle, ensure_venv

    wheels = sorted((shared_data / "helm").glob("crfm_helm-*.whl"))
    if not wheels:
        pytest.skip(f"needs HELM's wheel in {shared_data / 'helm'}")
    try:
        return HelmOracle(ensure_venv(wheels[0]))
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"HELM's oracle environment cannot be installed: {exc}")


def pytest_configure(config: pytest.Config) -> None:
    """pytester's in-process sessions (runpytest) drop the modules they imported when they end, and
    numpy's C extensions cannot be loaded twice in one process ("cannot load module more than once
    per process"): the project's own test session imports, once for every test directory, what the
    plugin loads lazily (numpy for the gates and the statistics, scikit-learn for the baselines).

    Only that session: a run of the plugin that evaluates a model on this checkout's suites/ (a
    developer's ``pytest --medhelm-model=...``, the benchmarks/ scripts, even when a suite file is
    named so that pytest roots the session here) loads this file as a conftest of the suites, and
    must not pay two seconds of imports in every process for our tests' sake."""
    if config.rootpath == REPO and not config.getoption("medhelm_model", None):
        import numpy  # noqa: F401
        import sklearn.feature_extraction.text  # noqa: F401
        import sklearn.metrics.pairwise  # noqa: F401
