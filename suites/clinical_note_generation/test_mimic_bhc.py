"""MIMIC-IV-BHC: summarise a preprocessed MIMIC-IV discharge note into its brief hospital course
(Aali et al., JAMIA 2024; MIMIC-IV-Ext-BHC).

HELM reads one JSON object per line (despite the ``.json`` name) with fields ``input`` and
``target``, and skips lines where either is empty.

Owner file: ``mimic_iv_bhc.json`` (MIMIC-IV-Ext-BHC, PhysioNet credentialed access).

Differences from HELM 0.5.16, deliberate: none in the instances; a line that is not JSON, or lacks a
field, is an error naming the file, line and field (HELM stops with a bare exception).
"""

from pathlib import Path

from pytest_medhelm import Benchmark, DataError, Instance, Prompt, Record, Source, find_file, read_jsonl

FILE = "mimic_iv_bhc.json"
HOW = (
    "Gated: PhysioNet credentialed access to MIMIC-IV-Ext-BHC (data-use agreement signed): put "
    f"{FILE}, one JSON object per line with fields input (the note) and target (the brief hospital "
    "course), in DIR/mimic_bhc/ or a folder named by the ini key medhelm_data_paths."
)


def read_local(folder: Path) -> list[Record]:
    path = find_file(folder, FILE, HOW)
    records = []
    for line, record in read_jsonl(path):
        for field in ("input", "target"):
            if field not in record:
                raise DataError("missing field", file=path, line=line, field=field)
        if record["input"] and record["target"]:
            records.append({"line": line, "input": record["input"], "target": record["target"]})
    return records


def to_instance(record: Record) -> Instance:
    return Instance(id=f"line{record['line']}", input=record["input"], reference=record["target"])


BENCHMARK = Benchmark(
    id="mimic_bhc",
    name="MIMIC-IV-BHC",
    access="gated",
    source=Source(upstream="MIMIC-IV-Ext-BHC on PhysioNet (Aali et al. 2024)", how_to_get=HOW, read_local=read_local),
    to_instance=to_instance,
    helm_prompt="mimic_bhc",
    prompt=Prompt(
        instructions="Summarise the clinical note as a brief hospital course.",
        input_noun="Clinical Note",
        newline_after_input_noun=True,
        output_noun="Brief Hospital Course",
    ),
    open_ended=True,
    max_tokens=1024,
)
