"""EHRSHOT: predict a patient's risk (30-day readmission, new hypertension, an abnormal anemia lab)
from the list of codes in their longitudinal Stanford EHR up to the prediction time.

Three EHRSHOT tasks are HELM runs; the score is the mean of the three. As in HELM: lab_* tasks first
keep 10,000 labels (pandas ``sample(n=10000, random_state=1)``: a ``RandomState(1)`` permutation),
events at or before the prediction time are listed as "- <code>" lines, prompts over 100,000 cl100k
tokens (tiktoken, as HELM counts: ``data/tokens.py``) are dropped, and the instances follow the
labels sorted by (subject, time).

Differences from HELM 0.5.16, deliberate:
- HELM pairs those sorted prompts, by position, with the labels in the file's order (after the lab
  sample). Where the two orders give different labels (an unsorted label file: every sampled lab
  task), ``exact_match`` is HELM's and ``exact_match_pairing_corrected`` scores each prompt against
  its own label, with one warning per task; with a sorted file the pairing is the same.
- A lab task with fewer than 10,000 labels keeps them all (HELM's ``sample`` raises).
- A prompt holding a special token ("<|endoftext|>") is counted as text (HELM's tiktoken raises).
- HELM also requires ``metadata/subject_splits.parquet`` (it reads no split from it); it is not needed here.

Owner files: ``data/data.parquet`` and ``labels/<task>/labels.parquet`` of the EHRSHOT MEDS release,
from Redivis after Stanford's EHRSHOT research data-use agreement.
"""

import ast
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from pytest_medhelm import (
    Benchmark,
    DataError,
    DataUnavailable,
    DataWarning,
    Instance,
    Prompt,
    Record,
    ScoreContext,
    Source,
    helm,
    import_pyarrow,
    scorers,
    tokens,
)

MAX_TOKENS, LAB_LABELS = 100_000, 10_000
HYPERTENSION_CODES = (  # the OMOP phenotype HELM lists: SNOMED 59621000 and its descendants
    "ICD10CM/I10 ICD9CM/401 ICD9CM/401.0 ICD9CM/401.1 ICD9CM/401.9 SNOMED/1201005 SNOMED/1218009 "
    "SNOMED/155296003 SNOMED/18416000 SNOMED/194758001 SNOMED/194760004 SNOMED/19769006 SNOMED/23717007 "
    "SNOMED/266228004 SNOMED/35303009 SNOMED/371125006 SNOMED/40511000119107 SNOMED/429457004 "
    "SNOMED/46481004 SNOMED/59621000 SNOMED/63287004 SNOMED/71874008 SNOMED/72022006 SNOMED/78808002 "
    "SNOMED/78975002 SNOMED/9901000"
).split()
TASKS = {  # task -> (specialist, what is predicted, question, extra definitions)
    "guo_readmission": (
        "hospitalist",
        "30-day readmission",
        "If the patient were discharged from the hospital now, would they likely be readmitted within 30 days?",
        (),
    ),
    "new_hypertension": (
        "primary care physician",
        "hypertension",
        "Is the patient likely to be diagnosed with hypertension for the first time within the next year?",
        (
            "Clinical Definition: Hypertension is a chronic condition of persistently raised "
            "arterial blood pressure (at rest, 130/80 mmHg or more). It is a major risk factor for "
            "stroke, coronary artery disease, heart failure, atrial fibrillation and chronic kidney "
            "disease. Most cases are primary (lifestyle and genetics); the rest are secondary to a "
            "cause such as kidney or endocrine disease. In an EHR, look at blood pressure readings, "
            "risk factors (obesity, salt intake, smoking), related conditions and medications.",
            "Medical Code Definition: in an electronic health record (EHR), hypertension is recorded "
            "as any of these medical codes: " + ", ".join(sorted(HYPERTENSION_CODES)),
        ),
    ),
    "lab_anemia": (
        "hematologist",
        "anemia",
        "If a lab test for anemia were ordered for the patient now, would it "
        "come back abnormal (hemoglobin < 120 g/L)?",
        (),
    ),
}
HOW = (
    "Gated: the EHRSHOT MEDS export from Redivis (Stanford EHRSHOT research data-use agreement): put "
    "data/data.parquet (subject_id, time, code) and labels/<task>/labels.parquet (subject_id, "
    "prediction_time, boolean_value) for " + ", ".join(TASKS) + " in DIR/ehrshot/ or a folder named by "
    "the ini key medhelm_data_paths."
)


def own_header(task: str) -> tuple[str, str]:
    """Our wording, without HELM's package: the text before the EHR's code lines, and after them."""
    role, predicted, question, definitions = TASKS[task]
    parts = [
        f"Role: {role}; the prediction asked for: {predicted}.",
        *definitions,
        f"Using the whole EHR below, answer: {question}",
    ]
    instruction = "\n".join(part + "\n" for part in parts)
    return f"\n# Instructions\n{instruction}\n\n# Your Task\nPatient EHR:\n", "\n\n"


def _leading_string(expression: Any) -> str:
    """The string constant that starts HELM's ``"Label: " + DEFS[task]`` argument."""
    node = ast.parse(expression.source, mode="eval").body
    while isinstance(node, ast.BinOp):
        node = node.left
    assert isinstance(node, ast.Constant) and isinstance(node.value, str), expression.source
    return node.value


def _helm_parts(package: Any) -> dict[str, Any] | None:
    """What ``base_prompt`` and ``lumia_prompt`` of HELM's ``ehrshot_scenario.py`` are made of."""
    module = helm.scenario(package, "ehrshot_scenario")
    appended = [call.args[0] for call in module.calls.get("base_prompt", ()) if call.func == "prompt.append"]
    persona = next(a for a in appended if isinstance(a, helm.Template))
    labels = {}
    for argument in appended:
        if isinstance(argument, helm.Expr):
            right = ast.parse(argument.source, mode="eval").body.right
            table = right.value.id if isinstance(right, ast.Subscript) else right.func.value.id
            labels[table] = _leading_string(argument)
    # The EHR's template is a value of the dict base_prompt returns (not an assignment), and the
    # personas and definitions are filled in one key at a time (``PERSONAS["lab_anemia"] = [...]``).
    tree = ast.parse(package.read_text("helm/benchmark/scenarios/ehrshot_scenario.py"))
    keyed: dict[str, dict[str, Any]] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(target := node.targets[0], ast.Subscript)
            and isinstance(target.value, ast.Name)
            and isinstance(target.slice, ast.Constant)
        ):
            keyed.setdefault(target.value.id, {})[target.slice.value] = ast.literal_eval(node.value)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "base_prompt")
    returned = next(n.value for n in ast.walk(function) if isinstance(n, ast.Return))
    example = next(v.value for k, v in zip(returned.keys, returned.values) if k.value == "example")
    return (
        {
            name: module.assignment(name)
            for name in ("CONFIG", "TASK_FULL_NAMES", "TASK_QUESTIONS", "CODE_DEFS", "ACTION_TMPL")
        }
        | keyed
        | {
            "persona": persona,
            "labels": labels,
            "code_def": module.function("base_prompt")["code_def"],
            "example": example,
            "lumia": module.function("lumia_prompt")["prompt"],
        }
    )


def header(task: str) -> tuple[str, str]:
    """The prompt's text before the EHR's "- code" lines and after them: HELM's ``lumia_prompt``
    for the task (its config, persona, definitions and question, read from its package), or our
    wording without the package."""
    package = helm.active()
    if package is None:
        return own_header(task)
    h = _helm_parts(package)
    config = h["CONFIG"][task.split("_")[0]]  # "guo", "lab" or "new", as HELM's get_task_config
    full_name = h["TASK_FULL_NAMES"][task].lower()
    parts = []
    if config["is_include_persona"]:
        parts.append(h["persona"].fill(role=h["PERSONAS"][task][0].lower(), task_full_name=full_name))
    if config["is_include_clinical_def"]:
        table = "CLINICAL_SHORT_DEFS" if config["is_use_short_clinical_def"] else "CLINICAL_DEFS"
        parts.append(h["labels"][table] + h[table][task])
    if config["is_include_code_def"]:
        codes = sorted(code for parent in h["CODE_DEFS"][task].values() for code in parent["descendants"])
        parts.append(h["code_def"].format(task_full_name=full_name, code_def=", ".join(codes)))
    parts.append(h["labels"]["ACTION_TMPL"] + h["ACTION_TMPL"].format(question=h["TASK_QUESTIONS"][task]))
    instruction = "\n".join(part + "\n" for part in parts)
    marker = "\0EHR\0"
    example_field = next(f for f in h["lumia"].fields if "example" in f)
    text = h["lumia"].fill(
        {
            next(f for f in h["lumia"].fields if "instruction" in f): instruction,
            example_field: h["example"].replace("{ehr}", marker),
        }
    )
    before, after = text.split(marker)
    return before, after


def read_table(pa: Any, path: Path, columns: list[str]) -> Any:
    table = pa.parquet.read_table(path)
    for column in columns:
        if column not in table.column_names:
            raise DataError("missing column", file=path, field=column)
    return table.select(columns)


def prompt_tokens(
    head: int, line_tokens: np.ndarray, lines: list[str], start: int, stop: int, text: str, tail: str
) -> int:
    """cl100k tokens of ``text`` (header, the lines ``start:stop`` joined by newlines, ``tail``).

    tiktoken's pre-tokenizer never joins two "- code" lines (every piece ends at a newline), so the
    count is the header's, plus each line's with its newline, plus the last line's with the tail;
    near the limit the whole prompt is counted anyway.
    """
    if start == stop:
        return tokens.count(text)
    total = head + int(line_tokens[stop - 1] - line_tokens[start]) + tokens.count(lines[stop - 1] + tail)
    return tokens.count(text) if abs(total - MAX_TOKENS) < 1_000 else total


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
    events = events.filter(
        pa.compute.and_(pa.compute.is_in(events["subject_id"], value_set=subjects), pa.compute.is_valid(events["time"]))
    )
    events = events.sort_by([("subject_id", "ascending"), ("time", "ascending")])  # stable, like pandas
    ids = events["subject_id"].to_numpy()
    times = events["time"].to_numpy()
    codes = events["code"].to_pylist()
    starts = np.searchsorted(ids, subjects.to_numpy(), side="left")
    ends = np.searchsorted(ids, subjects.to_numpy(), side="right")
    spans = {subject: (int(a), int(b)) for subject, a, b in zip(subjects.to_pylist(), starts, ends)}
    lines = [f"- {code}" for code in codes]
    line_tokens = np.concatenate([[0], np.cumsum([tokens.count(line + "\n") for line in lines])])
    records = []
    for task, rows in labels.items():
        head, tail = header(task)
        head_tokens = tokens.count(head)
        # HELM builds the prompts from the labels sorted by (subject, time) and assigns them, by
        # position, to the labels in the file's order (after the lab sample).
        ordered = sorted(range(len(rows)), key=lambda k: (rows[k]["subject_id"], rows[k]["prediction_time"]))
        mispaired = sum(bool(rows[k]["boolean_value"]) != bool(rows[i]["boolean_value"]) for i, k in enumerate(ordered))
        if mispaired:
            warnings.warn(
                DataWarning(
                    f"{label_paths[task]}: the labels are not sorted by (subject_id, prediction_time), so HELM "
                    f"0.5.16 scores {mispaired} of {len(rows)} {task} prompts against a label that is not theirs; "
                    "exact_match follows HELM, exact_match_pairing_corrected pairs each prompt with its own label"
                ),
                stacklevel=2,
            )
        for i, k in enumerate(ordered):
            row = rows[k]
            start, end = spans[row["subject_id"]]
            stop = start + int(np.searchsorted(times[start:end], np.datetime64(row["prediction_time"]), side="right"))
            prompt = head + "\n".join(lines[start:stop]) + tail
            if prompt_tokens(head_tokens, line_tokens, lines, start, stop, prompt, tail) > MAX_TOKENS:
                continue
            record = {
                "task": task,
                "subject_id": row["subject_id"],
                "prediction_time": row["prediction_time"].isoformat(),
                "boolean_value": bool(rows[i]["boolean_value"]),
                "prompt": prompt,
            }
            if mispaired:
                record["own_value"] = bool(row["boolean_value"])
            records.append(record)
    return records


def to_instance(record: Record) -> Instance:
    choices = ("yes", "no")
    extra = {"corrected": 0 if record["own_value"] else 1} if "own_value" in record else {}
    return Instance(
        id=f"{record['task']}-{record['subject_id']}-{record['prediction_time']}",
        input=record["prompt"],
        choices=choices,
        correct=0 if record["boolean_value"] else 1,
        run=record["task"],
        extra=extra,
    )


def score(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    """HELM's exact match; for a task whose label file is unsorted, also the score against the
    prompt's own label (``exact_match_pairing_corrected``)."""
    metrics = dict(scorers.multiple_choice(instance, output, ctx))  # a copy: the metric may share its dicts
    if "corrected" in instance.extra:
        own = replace(instance, correct=instance.extra["corrected"])
        metrics["exact_match_pairing_corrected"] = scorers.multiple_choice(own, output, ctx)["exact_match"]
    return metrics


BENCHMARK = Benchmark(
    id="ehrshot",
    name="EHRSHOT",
    access="gated",
    source=Source(
        upstream="EHRSHOT (Wornow et al. 2023), MEDS release on Redivis, Stanford",
        how_to_get=HOW,
        read_local=read_local,
    ),
    to_instance=to_instance,
    helm_prompt="ehrshot",
    prompt=Prompt(
        instructions="Reply with A (yes) or B (no).",
        input_noun="",
        output_noun="The single letter",
        multiple_choice=True,
    ),
    scorer=score,
    main_metric="exact_match",
    max_tokens=1,
)
