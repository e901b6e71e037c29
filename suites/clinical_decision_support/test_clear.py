"""CLEAR: does the patient have a history of a condition (alcohol dependence, PTSD, homelessness ...)?
Clinician-labelled Stanford notes, one spreadsheet per condition; each condition is a HELM run, capped
at 100 instances (HELM's run entries), and the score is the mean of the condition means.

The instance text already lists the three options and ends with "Answer:"; HELM's multiple-choice
adapter then lists them AGAIN, right after "Answer:" with no newline. Both are reproduced.

Differences from HELM 0.5.16, deliberate (each such row is named in a warning: file, line, field):
- A row with an empty result_human is skipped. HELM's pandas then reads the whole label column as
  numbers ("1.0"), so none of that file's instances has a correct answer.
- A row with an empty note is skipped; HELM keeps it with the note text "nan".

Owner files: one ``<condition>.xlsx`` per condition (columns text, result_human), Stanford
Medicine's private CLEAR data, available only to its owners.
"""

from pathlib import Path

from pytest_medhelm import (
    Benchmark,
    DataError,
    DataUnavailable,
    Instance,
    Prompt,
    Record,
    Source,
    helm,
    scorers,
    warn_row,
)

CONDITIONS = {  # file stem -> wording in the prompt
    "alcohol_dependence": "alcohol dependence",
    "attention_deficit_hyperactivity_disorder": "attention deficit hyperactivity disorder (ADHD)",
    "bipolar_disorder": "bipolar disorder",
    "chronic_pain": "chronic pain",
    "homelessness": "homelessness",
    "liver_disease": "liver disease",
    "major_depression": "major depression",
    "personality_disorder": "personality disorder",
    "post_traumatic_stress_disorder": "post-traumatic stress disorder (PTSD)",
    "substance_use_disorder": "substance use disorder",
    "suicidal_behavior": "suicidal behavior",
    "tobacco_dependence": "tobacco dependence",
    "unemployment": "unemployment",
}
LABELS = {"1": 0, "0": 1, "2": 2}  # result_human -> option: 1 has a history, 0 does not, 2 uncertain
HOW = (
    "Private Stanford data (CLEAR, human-labelled notes), available only to its owners: put one "
    "spreadsheet per condition, <condition>.xlsx with columns text and result_human (1, 0 or 2), in "
    "DIR/clear/ or a folder named by the ini key medhelm_data_paths; conditions: " + ", ".join(CONDITIONS) + "."
)


def label_of(value: object) -> str | None:
    """1, 1.0 and "1" are the same label; None for an empty cell."""
    if value is None or str(value).strip() == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_local(folder: Path) -> list[Record]:
    from openpyxl import load_workbook

    files = [folder / f"{condition}.xlsx" for condition in CONDITIONS if (folder / f"{condition}.xlsx").is_file()]
    if not files:
        raise DataUnavailable(f"{folder} has no <condition>.xlsx file. {HOW}")
    records = []
    for path in files:
        header, *rows = load_workbook(path, read_only=True, data_only=True).worksheets[0].iter_rows(values_only=True)
        for column in ("text", "result_human"):
            if column not in header:
                raise DataError("missing column", file=path, line=1, field=column)
        for number, row in enumerate(rows, start=2):
            cells = dict(zip(header, row))
            text, label = str(cells["text"] or "").strip(), label_of(cells["result_human"])
            if label is None:
                warn_row(
                    "empty label: the row is skipped; HELM 0.5.16 (pandas) then reads the whole column as "
                    "numbers, and none of this file's instances has a correct answer",
                    file=path,
                    line=number,
                    field="result_human",
                )
                continue
            if not text:
                warn_row(
                    "empty note: the row is skipped; HELM 0.5.16 keeps it with the note text 'nan'",
                    file=path,
                    line=number,
                    field="text",
                )
                continue
            if label not in LABELS:
                raise DataError(
                    f"result_human {label!r} is not 1, 0 or 2", file=path, line=number, field="result_human"
                )
            records.append({"condition": path.stem, "row": number, "text": text, "result_human": label})
    return records


def run_fields(condition: str) -> dict[str, str]:
    """The run-spec values HELM's instructions are built from (its ``condition_display``: the file
    stem with spaces, not the prompt's wording)."""
    return {"condition_display": condition.replace("_", " ")}


def to_instance(record: Record) -> Instance:
    template = helm.scenario_value("clear_scenario", "CLEARScenario.get_instances", "input_text")
    if template is not None:  # HELM's own wording, from its package
        condition = helm.scenario_value("clear_scenario", None, "CLEARScenario.CONDITION_PROMPTS")[record["condition"]]
        mapping = helm.scenario_value("clear_scenario", "CLEARScenario.get_instances", "label_mapping")
        options = tuple(o if isinstance(o, str) else o.fill(condition_text=condition) for o in mapping.values())
        text = template.fill(condition_text=condition, text=record["text"])
        return Instance(
            id=f"{record['condition']}-{record['row']}",
            input=text,
            choices=options,
            correct=LABELS[record["result_human"]],
            run=record["condition"],
            extra=run_fields(record["condition"]),
        )
    condition = CONDITIONS[record["condition"]]
    options = (f"{condition}: yes", f"{condition}: no", "Cannot tell")
    text = f"Clinical note:\n{record['text']}\n\nDoes this patient have a history of {condition}?\n" + "".join(
        f"{letter}. {option}\n" for letter, option in zip("ABC", options)
    )
    return Instance(
        id=f"{record['condition']}-{record['row']}",
        input=text,
        choices=options,
        correct=LABELS[record["result_human"]],
        run=record["condition"],
        extra=run_fields(record["condition"]),
    )


def render(instance: Instance) -> str:
    shown = instance.extra["condition_display"]
    return Prompt(
        instructions=f"Pick one option about {shown}: A, B or C.",
        input_noun=None,
        output_noun="The single letter",
        multiple_choice=True,
    ).render(instance)


BENCHMARK = Benchmark(
    id="clear",
    name="CLEAR",
    access="private",
    source=Source(upstream="Stanford Medicine (private; not distributed)", how_to_get=HOW, read_local=read_local),
    to_instance=to_instance,
    helm_prompt="clear",
    prompt=render,
    scorer=scorers.multiple_choice,
    main_metric="exact_match",
    max_tokens=1,
    max_instances=100,
)
