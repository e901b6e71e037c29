"""HELM's single-string prompt layout (spec 7.5) and the six core benchmarks' prompts (spec 7.6).

Every record here is synthetic, written in the upstream format of its benchmark.
"""

from __future__ import annotations

import pytest

from pytest_medhelm import Benchmark, Instance, Prompt
from pytest_medhelm.suites.clinical_decision_support import (
    test_head_qa,
    test_med_qa,
    test_medbullets,
    test_medcalc_bench,
    test_medec,
)
from pytest_medhelm.suites.medical_research import test_pubmed_qa

PLAIN = Instance(id="1", input="Synthetic input text.")
CHOICE = Instance(id="2", input="Which is synthetic?", choices=("alpha", "beta"), correct=1)


# ------------------------------------------------------------------ layout quirks of the adapters
def test_input_noun_empty_string_gives_a_bare_colon_prefix() -> None:
    assert Prompt(input_noun="").render(PLAIN) == ": Synthetic input text.\n"
    assert Prompt(input_noun="", multiple_choice=True).render(CHOICE) == ": Which is synthetic?\nA. alpha\nB. beta\n"


def test_input_noun_none_gives_no_prefix() -> None:
    assert Prompt(input_noun=None).render(PLAIN) == "Synthetic input text.\n"


def test_input_noun_with_newline_after_it() -> None:
    assert Prompt(input_noun="Note", newline_after_input_noun=True).render(PLAIN) == "Note:\nSynthetic input text.\n"


def test_multiple_choice_without_input_noun_has_no_newline_before_options() -> None:
    assert Prompt(multiple_choice=True).render(CHOICE) == "Which is synthetic?A. alpha\nB. beta\n"


def test_multiple_choice_with_input_noun_puts_options_on_their_own_lines() -> None:
    rendered = Prompt(input_noun="Question", output_noun="Answer", multiple_choice=True).render(CHOICE)
    assert rendered == "Question: Which is synthetic?\nA. alpha\nB. beta\nAnswer:"


@pytest.mark.parametrize(
    ("noun", "cue"),
    [
        ("Answer", "Answer:"),
        ("", ":"),  # the SHC benchmarks' empty output noun
        ("Respond with a letter.", "Respond with a letter.:"),  # MedQA's cue ends in ".:"
        ("Ends in spaces  ", "Ends in spaces  :"),  # only the space after the colon is stripped
    ],
)
def test_output_cue_is_noun_colon_space_right_stripped(noun: str, cue: str) -> None:
    assert Prompt(output_noun=noun).render(PLAIN) == "Synthetic input text.\n" + cue


def test_no_output_noun_ends_with_the_input_block() -> None:
    assert Prompt(input_noun="Question").render(PLAIN) == "Question: Synthetic input text.\n"


def test_instructions_are_followed_by_a_blank_line() -> None:
    rendered = Prompt(instructions="Do the task.", input_noun="Question", output_noun="Answer").render(PLAIN)
    assert rendered == "Do the task.\n\nQuestion: Synthetic input text.\nAnswer:"


def test_empty_instructions_are_omitted_entirely() -> None:
    assert not Prompt(instructions="", output_noun="Answer").render(PLAIN).startswith("\n")


# ------------------------------------------------------------------ the six core benchmarks
def render(benchmark: Benchmark, record: dict[str, object]) -> tuple[str, str]:
    """The prompt for a synthetic record, and the benchmark's instructions."""
    instance = benchmark.to_instance(record)
    assert isinstance(instance, Instance)
    assert isinstance(benchmark.prompt, Prompt)
    instructions = benchmark.prompt.instructions
    assert instructions, f"{benchmark.id} has instructions in HELM"
    prompt = benchmark.render(instance)
    assert prompt.startswith(instructions + "\n\n"), "instructions first, then a blank line"
    return prompt[len(instructions) + 2 :], benchmark.prompt.output_noun or ""


def test_medcalc_prompt_puts_note_then_question_then_a_cue_ending_needed() -> None:
    body, noun = render(
        test_medcalc_bench.BENCHMARK,
        {
            "Row Number": 7,
            "Patient Note": "Synthetic 40-year-old, 70 kg.",
            "Question": "What is the BMI?",
            "Ground Truth Answer": "22.9",
            "Category": "physical",
            "Lower Limit": "21.7",
            "Upper Limit": "24.0",
        },
    )
    # The input ends in "\n" and the generation adapter adds another: a blank line before the cue.
    assert body == f"Patient note: Synthetic 40-year-old, 70 kg.\n\nQuestion: What is the BMI?\n\n{noun}:"
    assert body.endswith("needed:")


def test_medec_prompt_shows_numbered_sentences_under_clinical_note() -> None:
    body, _ = render(
        test_medec.BENCHMARK,
        {
            "Text ID": "synthetic-1",
            "Sentences": "0 Synthetic sentence one.\r\n1 Synthetic sentence two.",
            "Error Flag": "0",
            "Error Sentence ID": "-1",
            "Corrected Sentence": "NA",
        },
    )
    assert body == "Clinical Note: 0 Synthetic sentence one.\n1 Synthetic sentence two.\nAnswer:"
    assert "CORRECT" in test_medec.BENCHMARK.prompt.instructions  # type: ignore[union-attr]


def test_head_qa_prompt_lists_options_in_answer_id_order() -> None:
    body, _ = render(
        test_head_qa.BENCHMARK,
        {
            "name": "Synthetic_2016",
            "qid": 3,
            "qtext": " Which option is right? ",
            "ra": 2,
            "image": None,
            "answers": [
                {"aid": 2, "atext": "Second"},
                {"aid": 1, "atext": "First "},
                {"aid": 3, "atext": "Third"},
                {"aid": 4, "atext": "Fourth"},
            ],
        },
    )
    assert body == "Question: Which option is right?\nA. First\nB. Second\nC. Third\nD. Fourth\nAnswer:"


def test_medbullets_prompt_has_five_options_after_the_clinical_scenario() -> None:
    body, _ = render(
        test_medbullets.BENCHMARK,
        {
            "link": "https://example.invalid/testview?qid=1",
            "question": "A synthetic patient presents. Next step?",
            "opa": "Observe",
            "opb": "Image",
            "opc": "Operate",
            "opd": "Refer",
            "ope": "Discharge",
            "answer_idx": "C",
        },
    )
    assert body == (
        "Clinical Scenario: A synthetic patient presents. Next step?\n"
        "A. Observe\nB. Image\nC. Operate\nD. Refer\nE. Discharge\nAnswer:"
    )


def test_med_qa_prompt_ends_with_a_cue_ending_symbols_colon() -> None:
    body, noun = render(
        test_med_qa.BENCHMARK,
        {
            "question": "Synthetic stem?",
            "answer_idx": "B",
            "_row_index": 0,
            "options": {"A": "One", "B": 'Two\n"', "C": "Three", "D": "Four"},
        },
    )
    assert body == f"Question: Synthetic stem?\nA. One\nB. Two\nC. Three\nD. Four\n{noun}:"
    assert body.endswith("symbols.:")


def test_pubmed_qa_prompt_has_labelled_context_then_question_then_yes_no_maybe() -> None:
    body, _ = render(
        test_pubmed_qa.BENCHMARK,
        {
            "pmid": "1",
            "QUESTION": "Does it work?",
            "CONTEXTS": ["Synthetic aim.", "Synthetic result."],
            "LABELS": ["OBJECTIVE", "RESULTS"],
            "final_decision": "maybe",
        },
    )
    # HELM's scenario title-cases the labels; its question ends in a newline (a blank line before the options).
    assert body == (
        "Question: Context: Objective. Synthetic aim.\nResults. Synthetic result.\n\n"
        "Question: Does it work?\n\nA. yes\nB. no\nC. maybe\nAnswer:"
    )
