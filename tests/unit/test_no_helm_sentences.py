"""Never paraphrase MedHELM, never copy it: HELM's sentences are read from its package at run time.

Every string literal of four words or more in the package and the suites is looked up in the text of
HELM's released package (the wheel beside the checkout): none may stand there. Our own fallback
wording must be our own words, so a user can tell from `prompt_source` which words were sent.
"""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Literals that stand in HELM's files but are not its sentences: clinical names and our own code.
NOT_SENTENCES = {
    "attention deficit hyperactivity disorder (ADHD)",  # a diagnosis's name (CLEAR's conditions)
    "post-traumatic stress disorder (PTSD)",
    "data file not found:",  # our own error message
    "\\('(\\d+) weeks', '(\\d+) days'\\)",  # MedCalc's answer-parsing pattern (code, not wording)
}


def _folded(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def helm_text(shared_data: Path) -> str:
    wheel = next((shared_data / "helm").glob("crfm_helm-0.5.16-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith("helm/benchmark/") and n.endswith((".py", ".yaml"))]
        return _folded("\n".join(archive.read(n).decode("utf-8", "replace") for n in names))


def _sentences(root: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = _folded(node.value)
                if len(text) >= 20 and len(text.split(" ")) >= 4 and text not in NOT_SENTENCES:
                    found.append((f"{path}:{node.lineno}", text))
    return found


@pytest.mark.parametrize("folder", ["suites", "pytest_medhelm"])
def test_no_sentence_of_helm_is_typed_into_our_source(folder: str, helm_text: str) -> None:
    copied = [f"{where}: {text[:80]!r}" for where, text in _sentences(REPO / folder) if text in helm_text]
    assert not copied, "HELM's own sentences typed into our source (read them from its package):\n" + "\n".join(copied)


def test_the_check_finds_a_copied_sentence(helm_text: str, tmp_path: Path) -> None:
    # The guard itself can fail: a module holding one of HELM's sentences is caught.
    sentence = next(s for s in re.findall(r'"([A-Z][^"\\]{30,80}\.)"', helm_text) if len(s.split()) >= 6)
    module = tmp_path / "suites" / "copied.py"
    module.parent.mkdir()
    module.write_text(f"PROMPT = {sentence!r}\n")
    assert any(text in helm_text for _, text in _sentences(module.parent))
