"""``medhelm leaderboard`` rebuilt from a session's ``medhelm-summary.xml`` (the cells, no instances)
gives the session's own scores, intervals, means, macro averages and win rates."""

from __future__ import annotations

from pathlib import Path

# pytester drops the modules a test imported when it ends, and numpy's C extensions cannot be
# loaded twice in one process: loaded here, before any test, they stay.
import numpy  # noqa: F401
import pytest

from pytest_medhelm import cli
from pytest_medhelm.leaderboard.junit import write_summary
from pytest_medhelm.results import InstanceRecord, ResultsFile, aggregate

# Three categories and an open-ended benchmark, on the real samples; baselines only (offline).
BENCHMARKS = "pubmed_qa or med_qa or medication_qa or race_based_med or medec"


def test_the_leaderboard_from_a_sessions_summary_equals_the_sessions_aggregates(
    pytester: pytest.Pytester, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = pytester.runpytest_subprocess(
        "--medhelm-model=baseline-extractive",
        "--medhelm-model=baseline-random",
        f"--medhelm-data-dir={shared_data}",
        "--medhelm-jury=none",
        "--medhelm-max-instances=8",
        "--medhelm-no-cache",
        "-m",
        BENCHMARKS,
        "-p",
        "no:cacheprovider",
        timeout=300,
    )
    assert session.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), session.stdout.str()[-2000:]
    own = ResultsFile.read(pytester.path / "medhelm-results" / "results.json")
    assert len(own.benchmarks) == 5 and len(own.categories) >= 3

    summary = pytester.path / "medhelm-results" / "medhelm-summary.xml"
    status = cli.main(["leaderboard", str(summary), "--output", str(pytester.path / "rebuilt")])
    out, err = capsys.readouterr()
    assert status == 0, err
    rebuilt = ResultsFile.read(pytester.path / "rebuilt" / "results.json")

    assert rebuilt.models == own.models
    for benchmark_id, result in own.benchmarks.items():
        again = rebuilt.benchmarks[benchmark_id]
        assert (again.category, again.subcategory, again.metric, again.group, again.scale) == (
            result.category,
            result.subcategory,
            result.metric,
            result.group,
            result.scale,
        )
        for model, score in result.scores.items():
            cell = again.scores[model]
            assert (cell.score, cell.normalized, cell.n, cell.errors, cell.interval) == (
                score.score,
                score.normalized,
                score.n,
                score.errors,
                score.interval,
            ), (benchmark_id, model)
    assert rebuilt.categories == own.categories and rebuilt.subcategories == own.subcategories
    assert {m: t.macro_average for m, t in rebuilt.totals.items()} == {
        m: t.macro_average for m, t in own.totals.items()
    }
    assert {g: {m: w.value for m, w in per.items()} for g, per in rebuilt.win_rates.items()} == {
        g: {m: w.value for m, w in per.items()} for g, per in own.win_rates.items()
    }
    assert rebuilt.custom == own.custom
    # What needs the instances is not made up: said, and left empty.
    assert not rebuilt.instances and all(not r.comparisons for r in rebuilt.benchmarks.values())
    assert all(w.interval is None for per in rebuilt.win_rates.values() for w in per.values())
    assert any("not the instances" in note for note in rebuilt.notes)
    assert "rebuilt from medhelm-summary.xml, without the instances" in out
    assert (pytester.path / "rebuilt" / "report.html").is_file()


def row(benchmark: str, model: str, instance: str, score: float) -> InstanceRecord:
    return InstanceRecord(
        benchmark=benchmark,
        instance_id=instance,
        model=model,
        score=score,
        metrics={"exact_match": score},
        passed=score == 1.0,
        category="medical_research",
        subcategory="x",
        normalized=score,
        metric="exact_match",
    )


def summary_of(tmp_path: Path, name: str, scores: list[float]) -> Path:
    rows = [row("pubmed_qa", "m", str(i), s) for i, s in enumerate(scores)]
    return write_summary(aggregate(rows, medhelm_ids=frozenset({"pubmed_qa"})), tmp_path / name)


def test_two_summaries_that_disagree_on_a_cell_are_an_error_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = summary_of(tmp_path, "a.xml", [1.0, 0.0])
    b = summary_of(tmp_path, "b.xml", [1.0, 1.0])
    assert cli.main(["leaderboard", str(a), str(b), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"pubmed_qa on m scores 0.5 (n 2) in {a} and 1 (n 2) in {b}" in err
    assert not (tmp_path / "out").exists()


def test_a_summary_with_a_broken_cell_is_named_with_its_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = summary_of(tmp_path, "s.xml", [1.0, 0.0])
    path.write_text(path.read_text().replace('name="score" value="0.5"', 'name="score" value="half"'))
    assert cli.main(["leaderboard", str(path), "--output", str(tmp_path / "out")]) == 2
    assert f"{path}: test case 'pubmed_qa[m]': property 'score' is 'half', not a number" in capsys.readouterr().err


def test_a_summary_mixed_with_instance_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = summary_of(tmp_path, "s.xml", [1.0, 0.0])
    results = tmp_path / "results.json"
    aggregate([row("pubmed_qa", "m", "1", 1.0)], medhelm_ids=frozenset({"pubmed_qa"})).write(results)
    assert cli.main(["leaderboard", str(path), str(results), "--output", str(tmp_path / "out")]) == 2
    assert "give summaries only, or results.json / --junitxml files only" in capsys.readouterr().err
