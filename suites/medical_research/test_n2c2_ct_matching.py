"""N2C2-CT Matching: does the patient meet a clinical-trial inclusion criterion, judged from 2-5 of
their notes? n2c2 2018 shared task, track 1 (cohort selection), test set of 86 patients.

Three criteria are HELM runs (ABDOMINAL, ADVANCED-CAD, CREATININE); the score is the mean of the
three. As in HELM, each file's text has every triple newline replaced by one newline, is split into
notes on lines of 100 asterisks, and the note date is the "Record date:" it contains.

Owner files: the annotated ``test/*.xml`` of n2c2 2018 Track 1, from the DBMI Data Portal
(Harvard) after its data-use agreement.

Differences from HELM 0.5.16, deliberate: none in the instances; a file that is not XML or lacks a
criterion's tag is an error naming the file and the tag (HELM stops with a bare exception).
"""

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from pytest_medhelm import Benchmark, DataError, DataUnavailable, Instance, Prompt, Record, Source, helm, scorers

CRITERIA = {
    "ABDOMINAL": "History of intra-abdominal surgery of any kind, for example a resection of the small or "
    "large intestine, or small bowel obstruction",
    "ADVANCED-CAD": "Advanced coronary artery disease (CAD): at least 2 of (a) taking 2 or more medications "
    "for CAD, (b) a history of myocardial infarction (MI), (c) angina now, (d) ischemia, past "
    "or present. Fewer than 2 of these does not meet the criterion; be strict, as "
    "cardiovascular disease alone does not meet it.",
    "CREATININE": "Serum creatinine above the upper limit of normal",
}
HOW = (
    "Gated: n2c2 2018 Track 1 (cohort selection) from the DBMI Data Portal (Harvard), after signing "
    "its data-use agreement: put the annotated test XML files in DIR/n2c2_ct_matching/test/ (one "
    "<patient>.xml each, with <TEXT> and <TAGS>), or name the folder holding test/ in the ini key "
    "medhelm_data_paths."
)
DATE = re.compile(r"Record date: (\d{4}-\d{2}-\d{2})")


def read_local(folder: Path) -> list[Record]:
    files = sorted((folder / "test").glob("*.xml"))
    if not files:
        raise DataUnavailable(f"{folder / 'test'} has no .xml files. {HOW}")
    patients = []
    for path in files:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise DataError(f"not valid XML ({exc})", file=path) from None
        text = root.findtext("TEXT") or ""
        notes = [part.strip() for part in text.replace("\n\n\n", "\n").split("*" * 100) if part.strip()]
        met = {tag.tag: tag.get("met") for tags in root.iter("TAGS") for tag in tags}
        for criterion in CRITERIA:
            if criterion not in met:
                raise DataError("no such tag under <TAGS>", file=path, field=criterion)
        patients.append({"patient": path.stem, "notes": notes, "met": met})
    # One HELM run per criterion, each over every patient in file-name order.
    return [{**patient, "criterion": criterion} for criterion in CRITERIA for patient in patients]


HELM_PROMPT = ("n2c2_ct_matching_scenario", "N2C2CTMatchingScenario.create_prompt")


def _note_header(expression: Any) -> list[str]:
    """The literal pieces of HELM's per-note f-string (``notes_list``'s comprehension), in order:
    before the note number, between it and the date, between the date and the note."""
    comprehension = ast.parse(expression.source, mode="eval").body
    assert isinstance(comprehension, ast.ListComp) and isinstance(comprehension.elt, ast.JoinedStr)
    pieces, current = [], ""
    for value in comprehension.elt.values:
        if isinstance(value, ast.Constant):
            current += value.value
        else:
            pieces.append(current)
            current = ""
    return pieces


def helm_text(record: Record, dates: list[str | None], current: str | None) -> str | None:
    """HELM's ``create_prompt`` text (template, criterion definitions, note headers from its
    package), or None without the package."""
    template = helm.scenario_value(*HELM_PROMPT, "prompt")
    if template is None:
        return None
    notes, criterion = record["notes"], record["criterion"]
    before_number, before_date, before_note = _note_header(helm.scenario_value(*HELM_PROMPT, "notes_list"))
    joined = ("\n" + "*" * 50 + "\n\n").join(
        f"{before_number}{i + 1}{before_date}{date or ''}{before_note}{note}"
        for i, (date, note) in enumerate(zip(dates, notes))
    )
    definitions = helm.scenario_value("n2c2_ct_matching_scenario", None, "LONG_DEFINITIONS")
    return template.fill(
        {
            "self.subject": criterion,
            "LONG_DEFINITIONS[self.subject]": definitions[criterion],
            "len(patient['ehr'])": len(notes),
            "'-' * 100": "-" * 100,
            "notes": joined,
            "current_date": current,
        }
    )


def to_instance(record: Record) -> Instance:
    notes, criterion = record["notes"], record["criterion"]
    dates = [match.group(1) if (match := DATE.search(note)) else None for note in notes]
    current = next((date for date in reversed(dates) if date), None)
    text = helm_text(record, dates, current)
    if text is not None:
        return Instance(
            id=f"{criterion}-{record['patient']}",
            input=text,
            choices=("yes", "no"),
            correct=0 if record["met"][criterion] == "met" else 1,
            run=criterion,
        )
    joined = ("\n" + "*" * 50 + "\n\n").join(
        f"## Note #{i + 1}\nDate: {date or ''}\n{note}" for i, (date, note) in enumerate(zip(dates, notes))
    )
    # Our wording, without HELM's package.
    text = (
        f"Clinical trial screening. Criterion: {criterion} ({CRITERIA[criterion]}).\n"
        f"The patient's {len(notes)} notes, oldest first, then today's date ({current}).\n\n"
        f"{joined}\n\nIs the criterion {criterion} met?"
    )
    return Instance(
        id=f"{criterion}-{record['patient']}",
        input=text,
        choices=("yes", "no"),
        correct=0 if record["met"][criterion] == "met" else 1,
        run=criterion,
    )


BENCHMARK = Benchmark(
    id="n2c2_ct_matching",
    name="N2C2-CT Matching",
    access="gated",
    source=Source(
        upstream="https://portal.dbmi.hms.harvard.edu/projects/n2c2-nlp/ (2018 Track 1)",
        how_to_get=HOW,
        read_local=read_local,
    ),
    to_instance=to_instance,
    helm_prompt="n2c2_ct_matching",
    prompt=Prompt(
        instructions="Reply with A (yes) or B (no).",
        input_noun="",
        output_noun="The single letter",
        multiple_choice=True,
    ),
    scorer=scorers.multiple_choice,
    main_metric="exact_match",
    max_tokens=1,
)
