"""DischargeMe: write a discharge document from the discharge note and a radiology report (MIMIC-IV;
BioNLP ACL'24 shared task, phase-1 test set).

Each admission gives TWO instances, the brief hospital course and the discharge instructions, each
prompted with the discharge text FROM WHICH THAT TARGET SECTION HAS BEEN REMOVED. Admissions are those
HELM's inner joins keep (diagnosis + triage by subject, discharge note, a radiology report and an ED
stay by admission, a target row), in the order of subjects in diagnosis.csv.gz and then of their
discharge notes; the first radiology report of an admission is used.

Owner files: ``test_phase_1/{diagnosis,discharge,discharge_target,radiology,edstays,triage}.csv.gz``
of DischargeMe 1.3 (PhysioNet credentialed access).

Differences from HELM 0.5.16, deliberate: none known in the instances (checked against HELM's
pandas joins on synthetic files); cells are read as text, as HELM's ``keep_default_na=False``.
"""

from collections import defaultdict
from pathlib import Path

from pytest_medhelm import Benchmark, DataUnavailable, Instance, Prompt, Record, Source, helm, read_csv

FILES = ("diagnosis", "discharge", "discharge_target", "radiology", "edstays", "triage")
TARGETS = {"brief_hospital_course": "Brief Hospital Course", "discharge_instructions": "Discharge Instructions"}
HOW = (
    "Gated: PhysioNet credentialed access to 'Discharge Me!' 1.3 (MIMIC-IV, data-use agreement signed): "
    "put test_phase_1/{" + ",".join(FILES) + "}.csv.gz in DIR/dischargeme/ (the files themselves, or "
    "PhysioNet's files/discharge-me/1.3/test_phase_1/ tree), or name that folder in the ini key "
    "medhelm_data_paths."
)


def phase_1(folder: Path) -> Path:
    for candidate in (folder, folder / "test_phase_1", folder / "files" / "discharge-me" / "1.3" / "test_phase_1"):
        if all((candidate / f"{name}.csv.gz").is_file() for name in FILES):
            return candidate
    raise DataUnavailable(f"{folder} lacks {', '.join(f'{name}.csv.gz' for name in FILES)}. {HOW}")


def read_local(folder: Path) -> list[Record]:
    base = phase_1(folder)

    def rows(name: str, *columns: str) -> list[dict[str, str]]:
        return [row for _, row in read_csv(base / f"{name}.csv.gz", columns)]

    subjects = list(dict.fromkeys(row["subject_id"] for row in rows("diagnosis", "subject_id")))
    triaged = {row["subject_id"] for row in rows("triage", "subject_id")}
    notes = defaultdict(list)
    for row in rows("discharge", "subject_id", "hadm_id", "text"):
        notes[row["subject_id"]].append(row)
    radiology: dict[str, str] = {}
    for row in rows("radiology", "hadm_id", "text"):
        radiology.setdefault(row["hadm_id"], row["text"])
    ed = {row["hadm_id"] for row in rows("edstays", "hadm_id")}
    targets = defaultdict(list)
    for row in rows("discharge_target", "hadm_id", *TARGETS):
        targets[row["hadm_id"]].append(row)
    records, seen = [], set()
    for subject in subjects:
        for note in notes[subject] if subject in triaged else ():
            hadm = note["hadm_id"]
            if hadm in seen or hadm not in radiology or hadm not in ed:
                continue
            seen.add(hadm)
            for target in targets[hadm]:
                records.append(
                    {
                        "hadm_id": hadm,
                        "text": note["text"],
                        "radiology": radiology[hadm],
                        **{key: target[key] for key in TARGETS},
                    }
                )
    return records


def to_instance(record: Record) -> list[Instance]:
    instances = []
    for key, title in TARGETS.items():
        discharge = record["text"].replace(record[key], "")
        template = helm.scenario_value("dischargeme_scenario", "create_prompt", "prompt")
        if template is not None:  # HELM's own template, from its package
            text = template.fill(task_objective=title, text=discharge, text_df_radiology=record["radiology"])
            instances.append(Instance(id=f"{record['hadm_id']}-{key}", input=text, reference=record[key]))
            continue
        # Our wording, without HELM's package. (HELM's line continuation leaves four spaces.)
        text = (
            f"Write the {title} from the patient discharge text and radiology report text below.    \n\n"
            f"Discharge Text:\n{discharge}\n\nRadiology Report:\n{record['radiology']}\n\n{title}:\n"
        )
        instances.append(Instance(id=f"{record['hadm_id']}-{key}", input=text, reference=record[key]))
    return instances


BENCHMARK = Benchmark(
    id="dischargeme",
    name="DischargeMe",
    access="gated",
    source=Source(upstream="https://physionet.org/content/discharge-me/1.3/", how_to_get=HOW, read_local=read_local),
    to_instance=to_instance,
    helm_prompt="dischargeme",
    prompt=Prompt(
        instructions="From the discharge text and the radiology report, write the target document it "
        "names, either the discharge instructions or the brief hospital course.",
        output_noun="Answer",
    ),
    open_ended=True,
    max_tokens=300,
)
