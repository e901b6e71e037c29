"""The plugin as a user gets it: ``pip install .`` (not editable) into a fresh venv, then the README's
main job from a directory outside the repository.

The fresh venv borrows the test venv's third-party packages (a ``.pth`` line, so nothing is
downloaded again) while pytest-medhelm itself comes from the wheel built from this checkout: the
test checks that the plugin, its suites and its data files are imported from the new venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.needs_shared_data]


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(command)} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def test_pip_install_then_the_main_job_from_outside_the_repository(tmp_path: Path, shared_data: Path) -> None:
    home = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(home)
    python = home / "bin" / "python"
    new_site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # The test venv's packages, after the new venv's own (the non-editable plugin wins).
    (new_site / "borrowed_test_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV"))}
    env["PATH"] = f"{home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    # The build backend (setuptools, wheel) comes from the registry, as in any pip install.
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(REPO)], outside, env, timeout=600)

    where = json.loads(
        run(
            [
                str(python),
                "-c",
                (
                    "import json, pytest_medhelm, pytest_medhelm.suites as s, pytest_medhelm.plugin as p;"
                    "print(json.dumps([pytest_medhelm.__file__, s.SUITES_DIR.as_posix(), p.__file__]))"
                ),
            ],
            outside,
            env,
            timeout=60,
        ).stdout
    )
    for path in where:
        assert Path(path).resolve().is_relative_to(new_site.resolve()), f"{path} is not from the installed wheel"
    assert list(Path(where[1]).glob("*/test_*.py")), "the wheel ships no suite modules"

    # python -m pytest: pytest itself is borrowed, so its script is not in the new venv's bin/.
    main_job = [
        str(python),
        "-m",
        "pytest",
        "--medhelm-model=baseline-extractive",
        f"--medhelm-data-dir={shared_data}",
        "--medhelm-jury",
        "none",
        "-n",
        "2",
        "--tb=no",
        "-q",
        "-rN",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(main_job, cwd=outside, env=env, capture_output=True, text=True, timeout=900)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "MedHELM results" in done.stdout
    results = json.loads((outside / "medhelm-results" / "results.json").read_text(encoding="utf-8"))
    assert results["benchmarks"], "the main job scored no benchmark"
    assert results["instances"] and {row["model"] for row in results["instances"]} == {"baseline-extractive"}
    assert "pubmed_qa" in results["benchmarks"]
