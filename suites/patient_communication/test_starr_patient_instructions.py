"""PatientInstruct: write personalised after-procedure instructions for an outpatient surgery case
from its diagnosis, procedure, history & physical and operative report (Stanford STARR-OMOP).

HELM keeps rows whose QC is "TRUE" (any case) and whose five fields are all non-empty. The input
ends after the operative report (and a blank line); the output cue "Patient Instructions" follows.

Owner file: ``dataset_cases_qc.csv``, Stanford's private STARR-OMOP outpatient procedures,
available only to their owners.

Differences from HELM 0.5.16, deliberate: none in the instances ("\\r\\n" inside a cell reads as
"\\n", as HELM's ``open()``); a spreadsheet's UTF-8 byte-order mark is accepted (HELM then misses
the first column).
"""

from pathlib import Path

from pytest_medhelm import Benchmark, Instance, Prompt, Record, Source, find_file, helm, read_csv

FIELDS = (
    "Diagnosis",
    "ActualProcedure",
    "HistoryPhysicalNoteText",
    "OperativeNoteText",
    "DischargeInstructionNoteText",
)
HOW = (
    "Private Stanford data (STARR-OMOP outpatient procedures), available only to its owners: put "
    "dataset_cases_qc.csv (columns QC, " + ", ".join(FIELDS) + ") in DIR/starr_patient_instructions/ or "
    "a folder named by the ini key medhelm_data_paths."
)


def read_local(folder: Path) -> list[Record]:
    path = find_file(folder, "dataset_cases_qc.csv", HOW, suffix=".csv")
    records = []
    for line, row in read_csv(path, ("QC", *FIELDS), universal_newlines=True):  # as HELM's open(): "\r\n" -> "\n"
        fields = {name: row[name].strip() for name in FIELDS}
        if row["QC"].strip().upper() == "TRUE" and all(fields.values()):
            records.append({"line": line, **fields})
    return records


def to_instance(record: Record) -> Instance:
    template = helm.scenario_value(
        "starr_patient_instructions_scenario", "StarrPatientInstructionsScenario.get_instances", "input_text"
    )
    if template is not None:
        text = template.fill(
            diagnosis=record["Diagnosis"],
            actual_procedure=record["ActualProcedure"],
            history_physical=record["HistoryPhysicalNoteText"],
            operative_note=record["OperativeNoteText"],
        )
    else:  # our wording without HELM's package
        text = (
            f"Diagnosis - {record['Diagnosis']}\nProcedure done - {record['ActualProcedure']}\n"
            f"H&P note - {record['HistoryPhysicalNoteText']}\nOperative note - {record['OperativeNoteText']}\n\n"
        )
    return Instance(id=f"line{record['line']}", input=text, reference=record["DischargeInstructionNoteText"])


BENCHMARK = Benchmark(
    id="starr_patient_instructions",
    name="PatientInstruct",
    access="private",
    source=Source(upstream="Stanford STARR-OMOP (private; not distributed)", how_to_get=HOW, read_local=read_local),
    to_instance=to_instance,
    helm_prompt="starr_patient_instructions",
    prompt=Prompt(
        instructions=(
            "You are a medical professional writing personalised instructions for a patient after a "
            "procedure. From the case details below (the diagnosis, the planned procedure, the history & "
            "physical note and the operative report), write clear, actionable instructions for the patient "
            "to follow afterwards. This will not be used for clinical decisions, nor to diagnose or treat "
            "any patient."
        ),
        input_noun="Case Details",
        output_noun="Patient Instructions",
    ),
    open_ended=True,
    max_tokens=256,
)
