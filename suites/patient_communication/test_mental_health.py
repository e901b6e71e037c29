"""MentalHealth: write the counselor's next reply in a mental-health counseling dialogue, given the
conversation so far (high-quality dialogues expanded into one instance per counselor turn).

The input starts with "\\nQuestion: " (HELM's passage-question input with an empty passage).

Owner file: ``processed_dialogues.csv`` (columns context, gold_counselor_response, topic,
dialogue_type), Stanford's private counseling dialogues, available only to their owners.

Differences from HELM 0.5.16, deliberate: an empty or "NA"-like cell is kept as its text; HELM's
pandas puts "nan" into the prompt in its place.
"""

from pathlib import Path

from pytest_medhelm import Benchmark, Instance, Prompt, Record, Source, find_file, helm, read_csv

COLUMNS = ("context", "gold_counselor_response", "topic", "dialogue_type")
HOW = (
    "Private Stanford data (processed counseling dialogues), available only to its owners: put "
    "processed_dialogues.csv (columns " + ", ".join(COLUMNS) + ") in DIR/mental_health/ or a folder named by "
    "the ini key medhelm_data_paths."
)


def read_local(folder: Path) -> list[Record]:
    path = find_file(folder, "processed_dialogues.csv", HOW, suffix=".csv")
    return [{"line": line, **{name: row[name] for name in COLUMNS}} for line, row in read_csv(path, COLUMNS)]


def to_instance(record: Record) -> Instance:
    template = helm.scenario_value("mental_health_scenario", "MentalHealthScenario.process_dialogue_data", "input_text")
    if template is not None:  # HELM's own template, from its package
        question = template.fill({f"row[{name!r}]": record[name] for name in COLUMNS})
        return Instance(
            id=f"line{record['line']}", input=f"\nQuestion: {question}", reference=record["gold_counselor_response"]
        )
    question = (
        f"({record['topic']}, {record['dialogue_type']})\n\nThe dialogue so far:\n"
        f"{record['context']}\n\nThe counselor's next reply:"
    )
    return Instance(
        id=f"line{record['line']}", input=f"\nQuestion: {question}", reference=record["gold_counselor_response"]
    )


BENCHMARK = Benchmark(
    id="mental_health",
    name="MentalHealth",
    access="private",
    source=Source(upstream="Stanford Medicine (private; not distributed)", how_to_get=HOW, read_local=read_local),
    to_instance=to_instance,
    helm_prompt="mental_health",
    prompt=Prompt(
        instructions="Given the conversation so far, write an empathetic and appropriate counselor response.",
        output_noun="Counselor response",
    ),
    open_ended=True,
    max_tokens=512,
)
