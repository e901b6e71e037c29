"""Data problems: absent data is one skip saying where to get it; bad data is one error naming the
file, line and field, and the rest of the session runs as usual."""

from __future__ import annotations

import pytest

from medhelm_sessions import Medhelm, readme_example

MODELS = ("--medhelm-model=baseline-extractive", "--medhelm-model=baseline-random")
OWN_TESTS = """
def test_own_check():
    assert "chest pain".split() == ["chest", "pain"]
"""


def test_absent_data_is_one_skip_that_says_where_to_get_it(medhelm: Medhelm) -> None:
    (medhelm.data / "pubmed_qa" / "test.jsonl").unlink()

    result = medhelm.run(*MODELS, "-m", "pubmed_qa", "-rs")

    result.assert_outcomes(skipped=1)  # one notice for the benchmark, whatever the number of models
    result.stdout.fnmatch_lines(["SKIPPED *pubmed_qa: data not found (looked in *data/pubmed_qa*"])
    assert "medhelm download --to DIR pubmed_qa" in result.stdout.str()
    # Nothing was scored: never a green run (see test_plugin_run_status.py).
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def broken_line(medhelm: Medhelm, kind: str) -> dict[str, object] | str:
    """Line 3 of the mirror file, broken in one way."""
    record = medhelm.record("900003", "maybe", "maybe")
    if kind == "bad-json":
        return '{"pmid": "900003", "QUESTION": "cut off'
    if kind == "missing-field":
        return {key: value for key, value in record.items() if key != "final_decision"}
    return {**record, "final_decision": "perhaps"}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("bad-json", "line 3: not valid JSON"),
        ("missing-field", "line 3, field 'final_decision': missing field"),
        ("bad-value", "line 3, field 'final_decision': unexpected value"),
    ],
)
def test_bad_data_is_one_error_and_the_rest_still_runs(medhelm: Medhelm, kind: str, expected: str) -> None:
    records: list[dict[str, object] | str] = [medhelm.record(*row) for row in medhelm.ROWS]
    records[2] = broken_line(medhelm, kind)
    path = medhelm.write_jsonl(medhelm.data / "pubmed_qa" / "test.jsonl", records)
    medhelm.pytester.makepyfile(test_own=OWN_TESTS, test_triage=readme_example())

    result = medhelm.run(*MODELS, *medhelm.ONLY_PUBMED, "-rA")

    # The README example scores 0 on both baselines; the plain test passes; PubMedQA is one error.
    result.assert_outcomes(passed=1, failed=2, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"pubmed_qa: bad data: file {path}, {expected}*"])
    assert "Traceback" not in result.stdout.str()
    assert "triage_smoke" in medhelm.results().benchmarks
