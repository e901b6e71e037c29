"""The README, tested as written: every shell command of its Quickstart runs, in order, in a fresh
project folder with the local mirror at ``../shared/data``, as a newcomer would type it; every
``-k`` / ``-m`` example of the README selects what it says on the mirror.

A Quickstart command may end with a comment the test reads: ``# exit N`` (the status the command
must end with, 0 by default) or ``# needs VARIABLE`` (a real API key: skipped when it is not set).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.needs_shared_data


@dataclass(frozen=True)
class Command:
    line: str
    exit: int = 0
    needs: str | None = None


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def shell_commands(markdown: str) -> list[Command]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            command, _, comment = line.partition("  #")
            expected = re.search(r"\bexit (\d+)\b", comment)
            needs = re.search(r"\bneeds ([A-Z_]+)\b", comment)
            commands.append(
                Command(command.strip(), int(expected.group(1)) if expected else 0, needs.group(1) if needs else None)
            )
    return commands


@pytest.fixture
def project(tmp_path: Path, shared_data: Path) -> Path:
    """A user's project folder with the mirror beside it, as ``../shared/data``."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data)
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        executable=shutil.which("bash"),
    )


def test_the_quickstart_commands_run_as_written(project: Path) -> None:
    commands = shell_commands(section("Quickstart"))
    assert len(commands) >= 4

    # The prose after the commands quotes the gate's numbers: they must be what the gate prints.
    claimed = re.search(r"dropped from (\d\.\d+)\s+to\s+(\d\.\d+)", section("Quickstart"))
    assert claimed, "the Quickstart no longer quotes the gate's scores"
    outputs = []
    ran = 0
    for command in commands:
        if command.needs and not os.environ.get(command.needs):
            continue  # a real API key: never in CI
        result = run(command.line, project)
        assert result.returncode == command.exit, (
            f"README quickstart: `{command.line}` exited {result.returncode}, expected {command.exit}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        outputs.append(result.stdout)
        ran += 1
    assert any(f"{claimed.group(1)} -> {claimed.group(2)}" in out for out in outputs)
    assert ran >= 4
    assert (project / "medhelm-results" / "results.json").is_file()


def test_quickstart_commands_that_need_a_key_say_which() -> None:
    commands = shell_commands(section("Quickstart"))

    for command in commands:
        if any(name in command.line for name in ("gpt-", "claude", "o3-mini", "deepseek")):
            assert command.needs, f"`{command.line}` calls a real model: mark it `# needs VARIABLE`"


def selection_examples() -> list[tuple[str, str, str]]:
    """Every README command with ``-k`` or ``-m``: (the command, the option, its expression)."""
    examples = []
    for command in shell_commands(README.read_text(encoding="utf-8")):
        if not command.line.startswith("pytest "):
            continue
        words = shlex.split(command.line)
        for option in ("-k", "-m"):
            if option in words:
                examples.append((command.line, option, words[words.index(option) + 1]))
    return examples


@pytest.mark.parametrize(("line", "option", "expression"), selection_examples())
def test_readme_selection_examples_select_items_on_the_mirror(
    project: Path, line: str, option: str, expression: str
) -> None:
    # The example's own selection, with an offline model instead of the example's (and no jury:
    # its judges are real models, which need keys).
    args = [
        "pytest",
        "--medhelm-model=baseline-random",
        "--medhelm-data-dir=../shared/data",
        "--medhelm-jury=none",
        option,
        expression,
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
    ]

    result = run(shlex.join(args), project)

    assert result.returncode == 0, result.stdout + result.stderr
    selected = [out for out in result.stdout.splitlines() if "::" in out]
    assert selected, f"README example `{line}` selects nothing on the mirror"
    words = re.findall(r"[a-z_]+", expression)
    kept = [word for word in words if word not in ("and", "or", "not")]
    assert all(any(word in item for word in kept) or option == "-m" for item in selected)


def test_selection_examples_exist() -> None:
    assert {option for _, option, _ in selection_examples()} == {"-k", "-m"}
