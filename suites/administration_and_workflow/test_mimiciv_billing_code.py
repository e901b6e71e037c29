"""MIMIC-IV Billing Code: list the ICD-10 codes of a MIMIC-IV discharge summary.

HELM reads ``mimiciv_icd10.feather`` (columns ``text`` and ``target``, a list of codes it joins with
","), and scores per-note F1 over the codes its regex extracts (``metrics/billing.py``: undotted long
codes and ICD-10-PCS codes are never extracted). ``mimiciv_billing_code_f1_corrected`` is an opt-in
variant that reads codes with or without dots and keeps 7-character codes whole.

Differences from HELM 0.5.16, deliberate (each such row is named in a warning: file, row, field):
- An empty code list is kept with an empty reference (F1 0); HELM's metric raises on it.
- A row without a note is skipped; HELM makes an instance without text.

Owner file: ``mimiciv_icd10.feather``, built from MIMIC-IV and MIMIC-IV-Note (PhysioNet credentialed
access, data-use agreement signed).
"""

from pathlib import Path

from pytest_medhelm import (
    Benchmark,
    DataError,
    Instance,
    Prompt,
    Record,
    ScoreContext,
    Source,
    find_file,
    import_pyarrow,
    metrics,
    warn_row,
)

FILE = "mimiciv_icd10.feather"
HOW = (
    "Gated: PhysioNet credentialed access to MIMIC-IV and MIMIC-IV-Note (data-use agreement signed), "
    f"processed into {FILE} (columns text and target, the note's ICD-10 codes; e.g. by the "
    "medical-coding-reproducibility scripts of Edin et al. 2023): put it in DIR/mimiciv_billing_code/ or "
    "a folder named by the ini key medhelm_data_paths."
)


def read_local(folder: Path) -> list[Record]:
    path = find_file(folder, FILE, HOW)
    pa = import_pyarrow(FILE)
    table = pa.feather.read_table(path)
    for column in ("text", "target"):
        if column not in table.column_names:
            raise DataError("missing column", file=path, field=column)
    records = []
    for row, (text, target) in enumerate(zip(table["text"].to_pylist(), table["target"].to_pylist()), start=1):
        if text is None:
            warn_row(
                "no note: the row is skipped; HELM 0.5.16 makes an instance without text",
                file=path,
                line=row,
                field="text",
            )
            continue
        codes = target if isinstance(target, list) else [target]
        if not codes:
            warn_row(
                "empty ICD-10 code list: kept, with an empty reference; HELM 0.5.16's metric raises on it",
                file=path,
                line=row,
                field="target",
            )
        records.append({"row": row, "text": text, "target": ",".join(str(code) for code in codes)})
    return records


def to_instance(record: Record) -> Instance:
    return Instance(id=f"row{record['row']}", input=record["text"], reference=record["target"])


def score(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    return metrics.mimiciv_billing_code(output, instance.reference)


BENCHMARK = Benchmark(
    id="mimiciv_billing_code",
    name="MIMIC-IV Billing Code",
    access="gated",
    source=Source(
        upstream="https://physionet.org/content/mimiciv/ and https://physionet.org/content/mimic-iv-note/",
        how_to_get=HOW,
        read_local=read_local,
    ),
    to_instance=to_instance,
    helm_prompt="mimiciv_billing_code",
    prompt=Prompt(
        instructions="List every relevant ICD-10 code for the clinical note below.",
        input_noun="Note",
        newline_after_input_noun=True,
        output_noun="ICD-10 codes",
    ),
    scorer=score,
    main_metric="mimiciv_billing_code_f1",
    # F1 >= 0.5: at least as many codes right as wrong or missed.
    pass_at=0.5,
    max_tokens=256,
)
