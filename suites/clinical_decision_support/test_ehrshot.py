"""EHRSHOT: predict a patient's risk (30-day readmission, new hypertension, an abnormal anemia lab)
from the list of codes in their longitudinal Stanford EHR up to the prediction time.

Three EHRSHOT tasks are HELM runs; the score is the mean of the three. As in HELM: lab_* tasks first
keep 10,000 labels (pandas ``sample(n=10000, random_state=1)``: a ``RandomState(1)`` permutation),
events at or before the prediction time are listed as "- <code>" lines, and prompts over 100,000
cl100k tokens are dropped (estimated offline, see ``data/owner.py``). Unlike HELM, each prompt is
paired with its own label: HELM builds prompts from labels sorted by (subject, time) and assigns
them in the file's order, which mismatches the two unless the file is sorted (the sampled lab
labels never are). HELM's blanket replace of "yes"/"no" inside the prompt text is not reproduced.
"""

from pathlib import Path
from typing import Any

import numpy as np

from pytest_medhelm import Benchmark, Instance, Prompt, Source, scorers
from pytest_medhelm.data.owner import approx_tokens, import_pyarrow
from pytest_medhelm.data.sources import DataError, DataUnavailable, Record

MAX_TOKENS, LAB_LABELS = 100_000, 10_000
HYPERTENSION_CODES = (  # the OMOP phenotype HELM lists: SNOMED 59621000 and its descendants
    "ICD10CM/I10 ICD9CM/401 ICD9CM/401.0 ICD9CM/401.1 ICD9CM/401.9 SNOMED/1201005 SNOMED/1218009 "
    "SNOMED/155296003 SNOMED/18416000 SNOMED/194758001 SNOMED/194760004 SNOMED/19769006 SNOMED/23717007 "
    "SNOMED/266228004 SNOMED/35303009 SNOMED/371125006 SNOMED/40511000119107 SNOMED/429457004 "
    "SNOMED/46481004 SNOMED/59621000 SNOMED/63287004 SNOMED/71874008 SNOMED/72022006 SNOMED/78808002 "
    "SNOMED/78975002 SNOMED/9901000").split()
TASKS = {  # task -> (specialist, what is predicted, question, extra definitions)
    "guo_readmission": ("hospitalist", "30-day readmission", "If the patient were discharged from the hospital "
                        "now, would they likely be readmitted within 30 days?", ()),
    "new_hypertension": ("primary care physician", "hypertension", "Is the patient likely to be diagnosed with "
                         "hypertension for the first time within the next year?", (
                             "Clinical Definition: Hypertension is a chronic condition of persistently raised "
                             "arterial blood pressure (at rest, 130/80 mmHg or more). It is a major risk factor for "
                             "stroke, coronary artery disease, heart failure, atrial fibrillation and chronic kidney "
                             "disease. Most cases are primary (lifestyle and genetics); the rest are secondary to a "
                             "cause such as kidney or endocrine disease. In an EHR, look at blood pressure readings, "
                             "risk factors (obesity, salt intake, smoking), related conditions and medications.",
                             "Medical Code Definition: in an electronic health record (EHR), hypertension is recorded "
                             "as any of these medical codes: " + ", ".join(sorted(HYPERTENSION_CODES)))),
    "lab_anemia": ("hematologist", "anemia", "If a lab test for anemia were ordered for the patient now, would it "
                   "come back abnormal (hemoglobin < 120 g/L)?", ()),
}
HOW = ("Gated: the EHRSHOT MEDS export from Redivis (Stanford EHRSHOT research data-use agreement): put "
       "data/data.parquet (subject_id, time, code) and labels/<task>/labels.parquet (subject_id, "
       "prediction_time, boolean_value) for " + ", ".join(TASKS) + " in DIR/ehrshot/ or a folder named by "
       "the ini key medhelm_data_paths.")


def header(task: str) -> str:
    role, predicted, question, definitions = TASKS[task]
    parts = [f"You are an expert {role} at Stanford Health Care, an academic medical center of Stanford "
             f"University, and you specialize in predicting {predicted}.", *definitions,
             f"Instruction: Read the patient's EHR history and, using all the medical evidence in it, answer "
             f"the question: {question}"]
    instruction = "\n".join(part + "\n" for part in parts)
    return f"\n# Instructions\n{instruction}\n\n# Your Task\nPatient EHR:\n"


def read_table(pa: Any, path: Path, columns: list[str]) -> Any:
    table = pa.parquet.read_table(path)
    for column in columns:
        if column not in table.column_names:
            raise DataError("missing column", file=path, field=column)
    return table.select(columns)


def read_local(folder: Path) -> list[Record]:
    data_path = folder / "data" / "data.parquet"
    label_paths = {task: folder / "labels" / task / "labels.parquet" for task in TASKS}
    missing = [p for p in (data_path, *label_paths.values()) if not p.is_file()]
    if missing:
        raise DataUnavailable(f"{folder} lacks {', '.join(str(p.relative_to(folder)) for p in missing)}. {HOW}")
    pa = import_pyarrow("the EHRSHOT parquet export")
    labels = {}
    for task, path in label_paths.items():
        table = read_table(pa, path, ["subject_id", "prediction_time", "boolean_value"])
        if task.startswith("lab_") and table.num_rows >= LAB_LABELS:
            table = table.take(np.random.RandomState(1).permutation(table.num_rows)[:LAB_LABELS])
        labels[task] = table.to_pylist()
    events = read_table(pa, data_path, ["subject_id", "time", "code"])
    subjects = pa.array(sorted({row["subject_id"] for rows in labels.values() for row in rows}))
    events = events.filter(pa.compute.and_(pa.compute.is_in(events["subject_id"], value_set=subjects),
                                           pa.compute.is_valid(events["time"])))
    events = events.sort_by([("subject_id", "ascending"), ("time", "ascending")])  # stable, like pandas
    ids = events["subject_id"].to_numpy()
    times = events["time"].to_numpy()
    codes = events["code"].to_pylist()
    starts = np.searchsorted(ids, subjects.to_numpy(), side="left")
    ends = np.searchsorted(ids, subjects.to_numpy(), side="right")
    spans = {subject: (int(a), int(b)) for subject, a, b in zip(subjects.to_pylist(), starts, ends)}
    lines = [f"- {code}" for code in codes]
    cumulative = np.concatenate([[0], np.cumsum([approx_tokens(line) + 1 for line in lines])])
    records = []
    for task, rows in labels.items():
        head = header(task)
        base = approx_tokens(head) + 2
        for row in rows:
            start, end = spans[row["subject_id"]]
            stop = start + int(np.searchsorted(times[start:end], np.datetime64(row["prediction_time"]), side="right"))
            if base + cumulative[stop] - cumulative[start] > MAX_TOKENS:
                continue
            records.append({"task": task, "subject_id": row["subject_id"],
                            "prediction_time": row["prediction_time"].isoformat(),
                            "boolean_value": bool(row["boolean_value"]),
                            "prompt": head + "\n".join(lines[start:stop]) + "\n\n"})
    return records


def to_instance(record: Record) -> Instance:
    return Instance(id=f"{record['task']}-{record['subject_id']}-{record['prediction_time']}", input=record["prompt"],
                    choices=("yes", "no"), correct=0 if record["boolean_value"] else 1, run=record["task"])


BENCHMARK = Benchmark(
    id="ehrshot",
    name="EHRSHOT",
    category="clinical_decision_support",
    subcategory="Predicting Patient Risks and Outcomes",
    access="gated",
    source=Source(upstream="EHRSHOT (Wornow et al. 2023), MEDS release on Redivis, Stanford", how_to_get=HOW,
                  read_local=read_local),
    to_instance=to_instance,
    prompt=Prompt(instructions="Answer A for yes, B for no.", input_noun="",
                  output_noun="Reply with only 'A' for yes or 'B' for no, adding no other text, punctuation, or symbols",
                  multiple_choice=True),
    scorer=scorers.multiple_choice,
    main_metric="exact_match",
    max_tokens=1,
)
