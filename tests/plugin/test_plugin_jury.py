"""The LLM jury in real pytest sessions: the project's test server plays three judges with scripted
replies; the benchmark is a made-up ``*.medhelm.yaml`` whose main metric is the jury (its rubric
is ours, so no HELM package is needed here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_medhelm.testserver import TestServer

EXTRACTIVE = "baseline-extractive"
NOTES_YAML = """\
name: note_quality
category: custom
subcategory: Note Quality
data: notes.csv
id_column: case_id
prompt: "{note}"
reference: answer
metrics:
  - name: jury
    rubric:
      accuracy: Are the facts in the summary right?
      clarity: Would a clinician read it easily?
max_tokens: 30
pass_at: 3
"""
NOTES_CSV = """\
case_id,note,answer
n1,Wheezing since Monday. Uses inhaler twice daily.,Asthma flare.
n2,Fever and cough for three days. Crackles at the left base.,Left lower lobe pneumonia.
n3,,Nothing to summarise.
"""
# A made-up phrase the judges "write": it must reach results.json and never the terminal or JUnit.
EXPLANATION = "PRIVATE-EXPLANATION mentions the patient's wheezing"
JUDGE_SCORES = {"gpt": (5, 4), "llama": (3, 3), "claude": (4, 2)}


def judge_reply(body: dict[str, Any]) -> str:
    accuracy, clarity = JUDGE_SCORES[body["model"]]
    return json.dumps(
        {
            "accuracy": {"score": accuracy, "explanation": EXPLANATION},
            "clarity": {"score": clarity, "explanation": "Readable."},
        }
    )


@pytest.fixture
def judges() -> Any:
    with TestServer(latency=0.01, responder=judge_reply) as server:
        yield server


def write_notes(root: Path) -> None:
    (root / "notes.medhelm.yaml").write_text(NOTES_YAML, encoding="utf-8")
    (root / "notes.csv").write_text(NOTES_CSV.replace("n3,,", "n3,  ,"), encoding="utf-8")


def jury_option(server: TestServer) -> str:
    return "--medhelm-jury=" + ",".join(f"{name}@{server.url}" for name in JUDGE_SCORES)


def test_a_jury_benchmark_is_scored_by_three_judges_and_reported(medhelm, judges: TestServer) -> None:
    write_notes(medhelm.path)
    result = medhelm.run(
        f"--medhelm-model={EXTRACTIVE}", "notes.medhelm.yaml", jury_option(judges), "-rA", "--junitxml=junit.xml"
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    # n1, n2 answered and judged; n3's input is blank so the extractive answer is empty: not judged.
    assert judges.stats.requests == 6
    mean = (5 + 4 + 3 + 3 + 4 + 2) / 6
    results = medhelm.results()
    notes = results.benchmarks["note_quality"]
    assert notes.metric == "jury_score" and notes.scale == [0.0, 5.0]
    by_id = {r.instance_id: r for r in results.instances}
    assert by_id["n1"].metrics["jury_score"] == pytest.approx(mean)
    assert by_id["n1"].metrics["jury_score_normalized"] == pytest.approx(mean / 5)
    assert by_id["n3"].metrics["jury_score"] == 0.0  # MedHELM's configurable default, empty answer
    assert by_id["n3"].jury["judged"] is False
    # The YAML lists only the jury: its ROUGE stand-in is not computed once judges score.
    assert not any(name.startswith("rouge") for name in by_id["n1"].metrics)
    assert notes.scores[EXTRACTIVE].score == pytest.approx((2 * mean + 0.0) / 3)
    detail = by_id["n1"].jury["judges"]
    assert set(detail) == {"gpt", "llama", "claude"}
    assert detail["gpt"]["scores"] == {"accuracy": 5, "clarity": 4}
    assert detail["gpt"]["explanations"]["accuracy"] == EXPLANATION  # results.json keeps the text
    stats = notes.jury[EXTRACTIVE]
    assert stats["failed_share"] == 0.0 and stats["judged"] == 2
    assert stats["judge_offsets"]["gpt"] == pytest.approx(4.5 - mean)
    # The jury's tokens are counted apart from the evaluated model's.
    assert by_id["n1"].jury_input_tokens > 100 > by_id["n1"].input_tokens
    totals = results.totals[EXTRACTIVE]
    assert totals.jury_input_tokens == sum(r.jury_input_tokens for r in results.instances) == stats["input_tokens"]
    assert totals.input_tokens == sum(r.input_tokens for r in results.instances) < 100
    assert "LLM jury" in " ".join(results.notes)
    # Privacy: the explanations stay out of the terminal and JUnit.
    assert EXPLANATION not in result.stdout.str()
    junit = (medhelm.path / "junit.xml").read_text(encoding="utf-8")
    assert "PRIVATE-EXPLANATION" not in junit and 'name="medhelm.metric.jury_score"' in junit


def test_include_text_puts_the_explanations_in_junit(medhelm, judges: TestServer) -> None:
    write_notes(medhelm.path)
    result = medhelm.run(
        f"--medhelm-model={EXTRACTIVE}",
        "notes.medhelm.yaml",
        jury_option(judges),
        "--junitxml=junit.xml",
        "--medhelm-include-text",
    )
    assert result.ret == pytest.ExitCode.OK
    assert "PRIVATE-EXPLANATION" in (medhelm.path / "junit.xml").read_text(encoding="utf-8")


def test_judge_calls_are_served_from_the_cache_on_a_rerun(medhelm, judges: TestServer) -> None:
    write_notes(medhelm.path)
    first = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "notes.medhelm.yaml", jury_option(judges))
    assert first.ret == pytest.ExitCode.OK and judges.stats.requests == 6
    again = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "notes.medhelm.yaml", jury_option(judges))
    assert again.ret == pytest.ExitCode.OK
    assert judges.stats.requests == 6  # nothing new was sent
    detail = {r.instance_id: r.jury for r in medhelm.results().instances}["n1"]
    assert all(judge["cached"] for judge in detail["judges"].values())


def test_jury_none_scores_by_rouge_and_says_so(medhelm, judges: TestServer) -> None:
    write_notes(medhelm.path)
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "notes.medhelm.yaml", "--medhelm-jury", "none")
    assert result.ret == pytest.ExitCode.OK
    assert judges.stats.requests == 0
    results = medhelm.results()
    assert results.benchmarks["note_quality"].metric == "rouge_l"
    assert any("--medhelm-jury none" in note for note in results.notes)


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_default_judges_without_keys_stop_the_session_before_any_call(
    medhelm, judges: TestServer, monkeypatch: pytest.MonkeyPatch, workers: tuple[str, ...]
) -> None:
    for variable in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TOGETHER_API_KEY", "set-but-not-shown")
    write_notes(medhelm.path)
    # The answering model is the test server too: not one request may reach it.
    result = medhelm.run_subprocess(f"--medhelm-model=answerer@{judges.url}", "notes.medhelm.yaml", *workers)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != pytest.ExitCode.OK
    assert judges.stats.requests == 0
    assert "$OPENAI_API_KEY" in output and "$ANTHROPIC_API_KEY" in output
    assert "$TOGETHER_API_KEY" not in output and "set-but-not-shown" not in output
    assert "--medhelm-jury none" in output


JUDGE_KEY_VARIABLES = ("OPENAI_API_KEY", "TOGETHER_API_KEY", "ANTHROPIC_API_KEY")


@pytest.mark.parametrize("fastpath", [(), ("-p", "no:medhelm_fastpath")], ids=["fastpath", "plain"])
def test_missing_judge_keys_under_xdist_stop_once_as_in_one_process(
    medhelm, shared_data: Path, monkeypatch: pytest.MonkeyPatch, fastpath: tuple[str, ...]
) -> None:
    """Issue #12: every worker used to print the message (one error per worker's first item)."""
    for variable in JUDGE_KEY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    # MedicationQA from the mirror: open-ended, scored by MedHELM's default judges (HELM's wheel).
    selection = (f"--medhelm-data-dir={shared_data}", "-m", "medication_qa", "--medhelm-max-instances=4", *fastpath)
    with TestServer() as answerer:
        alone = medhelm.run_subprocess(f"--medhelm-model=answerer@{answerer.url}", *selection)
        result = medhelm.run_subprocess(f"--medhelm-model=answerer@{answerer.url}", *selection, "-n", "2")
        assert answerer.stats.requests == 0

    output = result.stdout.str() + result.stderr.str()
    assert result.ret == alone.ret == pytest.ExitCode.USAGE_ERROR, output
    for variable in JUDGE_KEY_VARIABLES:
        assert output.count(f"${variable}") == 1, output
    assert output.count("--medhelm-jury none") == 1
    assert medhelm.results().counts.passed == 0 and not medhelm.results().instances


def test_an_unknown_judge_is_a_usage_error(medhelm) -> None:
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "--medhelm-jury", "no-such-judge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no-such-judge" in result.stderr.str()


def test_note_extract_runs_with_a_jury_on_helms_prompt(medhelm, medhelm_test_server, shared_data: Path) -> None:
    """NoteExtract has no reference, so it runs only when a jury is configured; its judges get
    HELM's NoteExtract prompt, read from the wheel in the mirror (criteria: accuracy, structure,
    clarity)."""
    from pytest_medhelm.jury.prompts import helm_prompt

    prompt = helm_prompt("chw_care_plan", shared_data)
    criteria = sorted(prompt.criteria)
    (medhelm.data / "helm").symlink_to(shared_data / "helm")
    folder = medhelm.data / "chw_care_plan"
    folder.mkdir(parents=True)
    (folder / "CHW_Dataset.csv").write_text('MO Note\n"Made-up note: cough for 2 days, no fever."\n', encoding="utf-8")

    def reply(body: dict[str, Any]) -> str:
        return json.dumps({name: {"score": 4, "explanation": "ok"} for name in criteria})

    judges = medhelm_test_server(latency=0.01, responder=reply)
    off = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "-m", "chw_care_plan", "--medhelm-jury", "none", "-rs")
    off.stdout.fnmatch_lines(["*chw_care_plan has no reference answer*--medhelm-jury none*"])
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "-m", "chw_care_plan", jury_option(judges))
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    row = medhelm.results().instances[0]
    assert row.metric == "chw_care_plan_accuracy" and row.score == 4.0 and row.scale == [1.0, 5.0]
    assert row.normalized == pytest.approx(0.75)
    sent = judges.requests[0]["messages"][0]["content"]
    assert "Made-up note: cough for 2 days, no fever." in sent
    assert sent.startswith(prompt.template.split("{QUESTION}")[0])


def test_the_medhelm_jury_fixture_scores_an_answer_in_a_users_test(medhelm, judges: TestServer) -> None:
    medhelm.pytester.makepyfile(
        test_mine="""
        import pytest

        def test_summary_quality(medhelm_jury):
            result = medhelm_jury.score("Wheezing since Monday.", "Asthma flare.", "Asthma exacerbation.",
                                        rubric={"accuracy": "Are the facts right?", "clarity": "Is it clear?"})
            assert result.by_judge == {"gpt": {"accuracy": 5, "clarity": 4}, "llama": {"accuracy": 3, "clarity": 3},
                                       "claude": {"accuracy": 4, "clarity": 2}}
            assert result.score == pytest.approx(21 / 6)
            assert result.verdicts[0].explanations["accuracy"].startswith("PRIVATE")
    """
    )
    result = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "test_mine.py", jury_option(judges))
    result.assert_outcomes(passed=1)
    assert judges.stats.requests == 3
    skipped = medhelm.run(f"--medhelm-model={EXTRACTIVE}", "test_mine.py", "--medhelm-jury", "none", "-rs")
    skipped.assert_outcomes(skipped=1)
