"""HELM's own code as the oracle: a separate virtual environment with crfm-helm 0.5.16 installed.

The environment lives at ``$MEDHELM_HELM_VENV`` (default: ``~/.cache/pytest-medhelm/helm-oracle-venv``)
and is created on first use from the wheel in ``../shared/data/helm`` with pip, without HELM's
heavy optional dependencies (torch, spacy...): only what its run specs, scenarios, adapters and
OpenAI client import. ``.ci/run`` creates it before the tests (``python tests/oracle/helm_oracle.py
WHEEL``); the ``helm_oracle`` fixture in the root conftest reuses it, or skips with the reason.
pytest-medhelm never imports HELM: the oracle runs ``helm_requests.py`` in that environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHILD = HERE / "helm_requests.py"
HELM_VERSION = "0.5.16"
# What HELM's MedHELM run specs, the public scenarios, the adapters and the OpenAI client import
# (found by importing them in an environment holding the wheel alone), within HELM's pins.
REQUIREMENTS = (
    "pyyaml",
    "filelock",
    "zstandard~=0.18.0",
    "tqdm",
    "pyhocon",
    "colorlog",
    "retrying",
    "cattrs",
    "dacite",
    "sqlitedict",
    "mako",
    "numpy",
    "requests",
    "datasets",
    "pandas~=2.0",
    "openpyxl",
    "python-docx",
    "openai",
)
_CHECK = (
    "import importlib.metadata as m, helm.benchmark.runner, helm.benchmark.adaptation.adapters.adapter_factory, "
    "openai, datasets, pandas, openpyxl; assert m.version('crfm-helm') == '%s'" % HELM_VERSION
)


def venv_dir() -> Path:
    if env := os.environ.get("MEDHELM_HELM_VENV"):
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pytest-medhelm" / "helm-oracle-venv"


def _python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _works(python: Path) -> bool:
    return python.is_file() and subprocess.run([str(python), "-c", _CHECK], capture_output=True).returncode == 0


def ensure_venv(wheel: Path, folder: Path | None = None) -> Path:
    """The oracle's Python, creating the environment if needed; RuntimeError says why it cannot.

    xdist workers may ask at once: the first creates it under a lock, the others then reuse it.
    """
    folder = folder or venv_dir()
    python = _python(folder)
    if _works(python):
        return python
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / (folder.name + ".lock"), "w") as lock:
        if os.name != "nt":
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        return _create(wheel, folder, python)


def _create(wheel: Path, folder: Path, python: Path) -> Path:
    if _works(python):  # made by another process while this one waited for the lock
        return python
    if not python.is_file():
        venv.EnvBuilder(with_pip=True).create(folder)
    for args in ([str(wheel), "--no-deps"], list(REQUIREMENTS)):
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"pip install {' '.join(args)} into {folder} failed: {' | '.join(tail)}")
    if not _works(python):
        check = subprocess.run([str(python), "-c", _CHECK], capture_output=True, text=True)
        raise RuntimeError(f"{folder}: HELM {HELM_VERSION} does not import: {check.stderr.strip()[-400:]}")
    return python


@dataclass(frozen=True)
class HelmOracle:
    """Runs HELM's code in its environment and returns what it would send."""

    python: Path

    def request_bodies(
        self, mirror: Path, benchmarks: dict[str, str], *, model_engine: str, max_eval_instances: int = 1000
    ) -> dict[str, Any]:
        """``{benchmark id: {"bodies": [JSON text of each request body]} | {"error": traceback}}``;
        ``benchmarks`` maps our ids to HELM's run-spec names."""
        with tempfile.TemporaryDirectory(prefix="helm-oracle-") as scratch:
            job = Path(scratch) / "job.json"
            out = Path(scratch) / "out.json"
            job.write_text(
                json.dumps(
                    {
                        "mirror": str(mirror),
                        "scratch": str(Path(scratch) / "work"),
                        "model_engine": model_engine,
                        "max_eval_instances": max_eval_instances,
                        "benchmarks": [{"id": b, "run_spec": spec} for b, spec in benchmarks.items()],
                    }
                ),
                encoding="utf-8",
            )
            done = subprocess.run(
                [str(self.python), str(CHILD), str(job), str(out)],
                capture_output=True,
                text=True,
                cwd=scratch,
                env={**os.environ, "HF_DATASETS_OFFLINE": "1"},
            )
            if done.returncode != 0 or not out.is_file():
                raise RuntimeError(f"HELM's oracle failed: {done.stderr.strip()[-2000:]}")
            return json.loads(out.read_text(encoding="utf-8"))


if __name__ == "__main__":
    # .ci/run: python tests/oracle/helm_oracle.py WHEEL -- creates (or checks) the environment.
    print(ensure_venv(Path(sys.argv[1])))
