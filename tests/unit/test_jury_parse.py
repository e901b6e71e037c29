"""Reading judge replies: HELM's parser and metric (spec 3.3-3.4) and our lenient reading.

The replies are our own made-up judge outputs; criteria names are those of MedHELM's annotators.
"""

from __future__ import annotations

import json

import pytest

from pytest_medhelm.jury.parse import helm_extract, helm_scores, parse_helm, parse_lenient

CRITERIA = {
    "accuracy": ("explanation", "score"),
    "completeness": ("explanation", "score"),
    "clarity": ("explanation", "score"),
}
SCALE = (1.0, 5.0)


def reply(accuracy=4, completeness=3, clarity=5, **extra) -> str:
    body = {
        "accuracy": {"score": accuracy, "explanation": "Facts match the note."},
        "completeness": {"score": completeness, "explanation": "Misses the allergy."},
        "clarity": {"score": clarity, "explanation": "Well organised."},
        **extra,
    }
    return json.dumps(body, indent=2)


def test_valid_json_is_kept_and_read_as_helm_reads_it() -> None:
    parsed = parse_helm(reply(), CRITERIA)
    assert parsed.ok
    assert helm_scores(parsed.annotation) == ([4, 3, 5], "")


def test_json_inside_prose_is_found_by_helms_greedy_match() -> None:
    text = "Here is my evaluation:\n" + reply() + "\nI hope this helps {as always}."
    # HELM's greedy {.*} runs to the LAST closing brace: the trailing prose makes it invalid JSON.
    assert helm_extract(text).endswith("{as always}")
    assert not parse_helm(text, CRITERIA).ok
    # Without braces after the object, the prose around it is cut away.
    assert parse_helm("Sure. " + reply() + "\nDone.", CRITERIA).ok
    assert parse_lenient(text, list(CRITERIA), SCALE).scores == {"accuracy": 4, "completeness": 3, "clarity": 5}


def test_json_in_a_code_fence() -> None:
    text = "```json\n" + reply() + "\n```"
    assert parse_helm(text, CRITERIA).ok  # the fence lies outside the braces
    assert parse_lenient(text, list(CRITERIA), SCALE).scores["clarity"] == 5


def test_trailing_comma_fails_helm_and_is_read_by_the_lenient_parser() -> None:
    text = reply().replace('"Well organised."', '"Well organised.",')
    parsed = parse_helm(text, CRITERIA)
    assert not parsed.ok and "not JSON" in parsed.problem
    assert parse_lenient(text, list(CRITERIA), SCALE).scores == {"accuracy": 4, "completeness": 3, "clarity": 5}


def test_missing_criterion_or_key_fails_the_judge() -> None:
    no_clarity = json.dumps(
        {"accuracy": {"score": 4, "explanation": "x"}, "completeness": {"score": 4, "explanation": "y"}}
    )
    assert parse_helm(no_clarity, CRITERIA).problem == "no 'clarity' criterion"
    no_explanation = reply().replace('"explanation": "Well organised."', '"why": "Well organised."')
    assert parse_helm(no_explanation, CRITERIA).problem == "criterion 'clarity' has no 'explanation'"
    assert parse_lenient(no_clarity, list(CRITERIA), SCALE).scores is None


def test_non_integer_scores_are_truncated_by_helm_and_kept_by_the_lenient_parser() -> None:
    parsed = parse_helm(reply(accuracy=3.9, completeness="4", clarity=True), CRITERIA)
    assert helm_scores(parsed.annotation) == ([3, 4, 1], "")  # int(3.9), int("4"), int(True)
    lenient = parse_lenient(reply(accuracy=3.9, completeness="4", clarity=5), list(CRITERIA), SCALE)
    assert lenient.scores == {"accuracy": 3.9, "completeness": 4.0, "clarity": 5.0}
    assert parse_lenient(reply(clarity=True), list(CRITERIA), SCALE).scores is None


def test_a_score_helms_metric_cannot_read_drops_the_judge_with_the_reason() -> None:
    parsed = parse_helm(reply(accuracy="four"), CRITERIA)
    assert parsed.ok  # HELM's parser keeps it...
    scores, problem = helm_scores(parsed.annotation)
    assert scores == [] and "HELM's run would stop" in problem  # ...its metric would raise


def test_extra_keys_count_in_helms_mean() -> None:
    parsed = parse_helm(reply(safety={"score": 1, "explanation": "extra"}), CRITERIA)
    assert helm_scores(parsed.annotation) == ([4, 3, 5, 1], "")
    assert parse_lenient(reply(safety={"score": 1}), list(CRITERIA), SCALE).scores == {
        "accuracy": 4,
        "completeness": 3,
        "clarity": 5,
    }


def test_out_of_range_scores_are_not_clamped_by_helm() -> None:
    parsed = parse_helm(reply(accuracy=0, completeness=7), CRITERIA)
    assert helm_scores(parsed.annotation) == ([0, 7, 5], "")
    assert "outside 1-5" in parse_lenient(reply(accuracy=0), list(CRITERIA), SCALE).problem


def test_expecting_delimiter_is_repaired_with_one_closing_brace_as_in_helm() -> None:
    truncated = reply().rstrip().removesuffix("}")  # the outer object's last brace is missing
    with pytest.raises(json.JSONDecodeError, match="Expecting ',' delimiter"):
        json.loads(helm_extract(truncated))
    parsed = parse_helm(truncated, CRITERIA)
    assert parsed.ok and helm_scores(parsed.annotation) == ([4, 3, 5], "")
    # Two missing braces: one appended brace is not enough, and HELM gives up.
    cut = truncated.rstrip().removesuffix("}")
    assert not parse_helm(cut, CRITERIA).ok


def test_other_decode_errors_are_not_repaired() -> None:
    parsed = parse_helm("{'accuracy': {'score': 4}}", CRITERIA)
    assert not parsed.ok and "Expecting property name" in parsed.problem


def test_no_json_at_all() -> None:
    assert not parse_helm("I cannot evaluate this note.", CRITERIA).ok
    assert parse_lenient("I cannot evaluate this note.", list(CRITERIA), SCALE).problem == "no JSON object"
