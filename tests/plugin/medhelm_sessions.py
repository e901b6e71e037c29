"""A pytest session in a ``pytester`` directory over a tiny synthetic data mirror.

The mirror holds six made-up PubMedQA records in the upstream field names. Each record's context
ends with a hint word, and the offline ``baseline-extractive`` model answers with the option most
similar to the context, so the hint decides its answer: with the rows below it gets four right and
two wrong (``900002`` and ``900004``), which gives every session both passes and low scores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from pytest_medhelm.results import ResultsFile

# (pmid, gold decision, the hint word baseline-extractive will answer): all made up.
PUBMED_ROWS: list[tuple[str, str, str]] = [
    ("900001", "yes", "yes"),
    ("900002", "no", "yes"),
    ("900003", "maybe", "maybe"),
    ("900004", "yes", "no"),
    ("900005", "no", "no"),
    ("900006", "yes", "yes"),
]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    """The README's example of a user's own test module, as the README shows it today."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    examples = [block for block in blocks if "def test_chest_pain_triage(medhelm_model, medhelm_record)" in block]
    assert len(examples) == 1, f"{README}: expected one python block with test_chest_pain_triage"
    return examples[0]


def pubmed_record(pmid: str, decision: str, hint: str) -> dict[str, object]:
    return {
        "pmid": pmid,
        "QUESTION": f"Synthetic question {pmid}: does compound Z shorten recovery?",
        "CONTEXTS": [f"Synthetic background for record {pmid}.", f"Synthetic finding: {hint}."],
        "LABELS": ["BACKGROUND", "RESULTS"],
        "final_decision": decision,
    }


class Medhelm:
    """Runs sessions in a pytester directory with the synthetic mirror and a private cache."""

    ROWS = PUBMED_ROWS
    IDS = [pmid for pmid, _, _ in PUBMED_ROWS]
    EXTRACTIVE_WRONG = {"900002", "900004"}
    record = staticmethod(pubmed_record)
    # Built-in suites added by other engineers have no data in this mirror: keep the PubMedQA
    # items and the user's own tests, leave out the other benchmarks' "data not found" notices.
    ONLY_PUBMED = ("-m", "pubmed_qa or not medhelm")

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.data = pytester.path / "data"
        self.cache = pytester.path / "responses.sqlite"
        self.write_pubmed()

    # -- files ------------------------------------------------------------------------------------

    def write_jsonl(self, path: Path, lines: Iterable[dict[str, object] | str]) -> Path:
        """One JSON object (or a raw string, for a broken line) per line."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), encoding="utf-8"
        )
        return path

    def write_pubmed(self, rows: Sequence[tuple[str, str, str]] = PUBMED_ROWS) -> Path:
        return self.write_jsonl(self.data / "pubmed_qa" / "test.jsonl", [pubmed_record(*row) for row in rows])

    def models_file(self, text: str, name: str = "models.yaml") -> Path:
        path = self.path / name
        path.write_text(text, encoding="utf-8")
        return path

    # -- sessions ---------------------------------------------------------------------------------

    def args(self, *args: str) -> list[str]:
        """``args`` plus the mirror and the private cache, unless the test sets them itself."""
        given = " ".join(args)
        extra: list[str] = []
        if "--medhelm-data-dir" not in given:
            extra += ["--medhelm-data-dir", str(self.data)]
        if "--medhelm-cache" not in given and "--medhelm-no-cache" not in given:
            extra += ["--medhelm-cache", str(self.cache)]
        return [*extra, *args]

    def run(self, *args: str) -> pytest.RunResult:
        """In process: fast, and the plugin keeps no state between sessions."""
        return self.pytester.runpytest(*self.args(*args))

    def run_subprocess(self, *args: str, timeout: float = 60) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*self.args(*args), timeout=timeout)

    @staticmethod
    def names(result: pytest.RunResult, benchmark: str = "pubmed_qa") -> list[str]:
        """The ``benchmark[...]`` item names a session listed (``--collect-only -q``, ``-rA``, ``-v``)."""
        return [line.split("::", 1)[1].split()[0] for line in result.outlines if f"::{benchmark}[" in line]

    def results(self, output: Path | None = None) -> ResultsFile:
        return ResultsFile.read((output or self.path / "medhelm-results") / "results.json")
