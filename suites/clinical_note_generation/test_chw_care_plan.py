"""NoteExtract: restructure a community health worker's free-text care-plan note into a fixed
template (chief complaint and the OPQRST-style history fields), without inventing anything.

There is no reference answer: HELM's jury judges the output against the note itself. ROUGE against
the note would only reward copying it, so until the LLM jury is configured the benchmark is SKIPPED
(``requires_jury``) before any model call, rather than given a score that means nothing. (HELM stores the note as the
"reference" only for its secondary statistics; it is kept the same way here.)

Differences from HELM 0.5.16, deliberate (each such row is named in a warning: file, line, field):
- A note that pandas reads as missing ("NA", "null", "N/A" ...) is kept as text; HELM drops it.
- A note of only spaces is dropped; HELM keeps it.

Owner file: ``CHW_Dataset.csv`` (column "MO Note"), Stanford's private community health worker
care plans, available only to their owners.
"""

from pathlib import Path

from pytest_medhelm import (
    PANDAS_NA_VALUES,
    Benchmark,
    Instance,
    Prompt,
    Record,
    ScoreContext,
    Source,
    find_file,
    helm,
    read_csv,
    warn_row,
)

HOW = (
    "Private Stanford data (community health worker care plans), available only to its owners: put "
    "CHW_Dataset.csv (column 'MO Note') in DIR/chw_care_plan/ or a folder named by the ini key "
    "medhelm_data_paths."
)
TEMPLATE = """
You are given a clinical note about a physician-patient interaction. Extract the information below \
using only what the note says. Do not guess or add details the text does not state: everything you \
write must follow directly from the text.

Instructions:

Copy the requested information exactly as the source text gives it.

If the text does not contain a piece of information, write "Not mentioned".

Keep the patient's own words where you can.

Response Format:

Chief Complaint
[ENTER CHIEF COMPLAINT]

History of Present Illness

Onset: When did it start? Suddenly or gradually? [ENTER ONSET INFORMATION]

Provoking/Palliating Factors: What makes the symptoms better or worse? [ENTER Provoking/Palliating Factors INFORMATION]

Quality: What are the symptoms like, e.g. sharp, dull or stabbing pain? [ENTER QUALITY INFORMATION]

Region/Radiation: Where are the symptoms? Do they spread? [ENTER REGION/RADIATION INFORMATION]

Severity: How severe are the symptoms, from 1 to 10? [ENTER SEVERITY INFORMATION]

Timing: When do the symptoms occur? At what times of day? [ENTER TIMING INFORMATION]

Related Symptoms: Are there other symptoms related to the main complaint? [ENTER RELATED SYMPTOMS INFORMATION]

Keep your answers short, accurate and fully supported by the text. Bring in no outside knowledge or assumptions.

Clinical Note:
{note}
"""


def read_local(folder: Path) -> list[Record]:
    path = find_file(folder, "CHW_Dataset.csv", HOW, suffix=".csv")
    records = []
    for line, row in read_csv(path, ["MO Note"]):
        note = row["MO Note"]
        if not note.strip():
            if note:
                warn_row(
                    "a blank note is skipped; HELM 0.5.16 keeps it as an instance",
                    file=path,
                    line=line,
                    field="MO Note",
                )
            continue
        if note in PANDAS_NA_VALUES:  # HELM (pandas) drops such a note
            warn_row(
                f"the note {note!r} is kept; HELM 0.5.16 (pandas) reads it as missing and drops the row",
                file=path,
                line=line,
                field="MO Note",
            )
        records.append({"line": line, "note": note})
    return records


def to_instance(record: Record) -> Instance:
    template = helm.scenario_value("chw_care_plan_scenario", "create_prompt_text", "prompt")  # HELM's, from its package
    text = template.fill(clinical_note=record["note"]) if template is not None else TEMPLATE.format(note=record["note"])
    return Instance(id=f"line{record['line']}", input=text, reference=record["note"])


def needs_jury(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    raise RuntimeError("chw_care_plan (NoteExtract) has no reference answer: only MedHELM's LLM jury can score it")


BENCHMARK = Benchmark(
    id="chw_care_plan",
    name="NoteExtract",
    access="private",
    source=Source(upstream="Stanford Medicine (private; not distributed)", how_to_get=HOW, read_local=read_local),
    to_instance=to_instance,
    helm_prompt="chw_care_plan",
    prompt=Prompt(
        instructions="Follow the instructions below to convert a patient note into the given format.",
        input_noun="",
        output_noun="",
    ),
    scorer=needs_jury,
    main_metric="chw_care_plan_accuracy",
    # The jury's 1-5 scale; an item passes at 4 ("good") once a jury scores it.
    scale=(1.0, 5.0),
    pass_at=4.0,
    open_ended=True,
    requires_jury=True,
    max_tokens=768,
)
