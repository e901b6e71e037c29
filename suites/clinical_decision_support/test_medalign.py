"""MedAlign: follow a clinician's instruction about a patient using that patient's longitudinal EHR,
judged against a clinician's own answer.

As in HELM: the EHR is the patient's whole XML record, cut from the left (the most recent part is
kept) to fit 100,000 tokens minus the answer's 256 and the template and instruction (tiktoken's
cl100k_base, as HELM counts: ``data/tokens.py``); the gold is Annotator_1's response; instances
follow the gold file.
The input starts with "\\nQuestion: " (HELM's passage-question input with an empty passage).

Owner files: ``clinician-reviewed-model-responses.tsv``, ``clinician-instruction-responses.tsv`` and
``medalign_ehr_xml/<person_id>.xml``, from Stanford after MedAlign's research data-use agreement.

Differences from HELM 0.5.16, deliberate:
- Only the EHR files the instructions name are read; HELM reads every file in ``medalign_ehr_xml/``
  and fails on a name that is not a number. A missing EHR is an error naming the TSV line.
- An EHR holding a special token ("<|endoftext|>") is counted as text (HELM's tiktoken raises).
"""

from pathlib import Path

from pytest_medhelm import (
    Benchmark,
    DataError,
    Instance,
    Prompt,
    Record,
    Source,
    find_file,
    helm,
    read_csv,
    tokens,
)

CONTEXT, ANSWER = 100_000, 256
TEMPLATE = (
    "Instruction: Answer the question below using the patient's EHR:\n\nEHR: {ehr}\n\nQuestion: {question}\n\nAnswer:"
)
HOW = (
    "Gated: MedAlign (Stanford research data-use agreement): put "
    "clinician-reviewed-model-responses.tsv (instruction_id, question, person_id), "
    "clinician-instruction-responses.tsv (instruction_id, annotator_num, clinician_response) and "
    "medalign_ehr_xml/<person_id>.xml in DIR/medalign/ or a folder named by the ini key medhelm_data_paths."
)


def read_local(folder: Path) -> list[Record]:
    instructions_path = find_file(folder, "clinician-reviewed-model-responses.tsv", HOW)
    gold_path = find_file(folder, "clinician-instruction-responses.tsv", HOW)
    instructions = {}  # one row per reviewed model response: the last row per instruction wins, as in HELM
    for line, row in read_csv(instructions_path, ("instruction_id", "question", "person_id"), delimiter="\t"):
        instructions[row["instruction_id"].strip()] = (line, row)
    records = []
    for line, row in read_csv(gold_path, ("instruction_id", "annotator_num", "clinician_response"), delimiter="\t"):
        found = instructions.get(row["instruction_id"].strip())
        if row["annotator_num"] != "Annotator_1" or found is None:
            continue  # HELM's inner join keeps Annotator_1 answers to known instructions
        where, instruction = found
        ehr_path = folder / "medalign_ehr_xml" / f"{instruction['person_id'].strip()}.xml"
        if not ehr_path.is_file():
            raise DataError(f"no EHR file {ehr_path}", file=instructions_path, line=where, field="person_id")
        records.append(
            {
                "instruction_id": row["instruction_id"].strip(),
                "question": instruction["question"],
                "ehr": ehr_path.read_text(encoding="utf-8"),
                "clinician_response": row["clinician_response"],
            }
        )
    return records


def template() -> str:
    """The prompt around the EHR and the question, with ``{ehr}`` and ``{question}`` fields: HELM's
    (``prompt_string`` in ``medalign_scenario_helper.py``), or our wording without its package."""
    template = helm.scenario_value("medalign_scenario_helper", "preprocess_prompts", "prompt_string")
    return template if isinstance(template, str) else TEMPLATE


def to_instance(record: Record) -> Instance:
    budget = CONTEXT - ANSWER - tokens.count(template()) - tokens.count(record["question"])
    prompt = template().format(ehr=tokens.keep_last(record["ehr"], budget), question=record["question"])
    return Instance(id=record["instruction_id"], input=f"\nQuestion: {prompt}", reference=record["clinician_response"])


BENCHMARK = Benchmark(
    id="medalign",
    name="MedAlign",
    access="gated",
    source=Source(upstream="MedAlign (Fleming et al. 2023), Stanford", how_to_get=HOW, read_local=read_local),
    to_instance=to_instance,
    helm_prompt="medalign",
    prompt=Prompt(),  # no instructions, no cues: the prompt is the input and a newline
    open_ended=True,
    max_tokens=256,
)
