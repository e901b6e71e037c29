"""MedicationQA: answer consumers' questions about their medicines (MedInfo 2019 gold corpus).

HELM reads the spreadsheet's first sheet from the repository's master branch (not a pinned commit)
and drops the rows whose Answer pandas reads as missing: an empty cell, or text such as "NA" or
"None" that pandas turns into NaN by default.
"""

import hashlib
from typing import Any

from pytest_medhelm import PANDAS_NA_VALUES, Benchmark, DataError, Fetcher, Instance, Prompt, Record, Source

URL = "https://github.com/abachaa/Medication_QA_MedInfo2019/raw/master/MedInfo2019-QA-Medications.xlsx"


def fetch(fetcher: Fetcher) -> list[Record]:
    from openpyxl import load_workbook  # imported on first use: only the download needs it

    path = fetcher.url(URL)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a non-xlsx file
        raise DataError(f"not a readable .xlsx ({type(exc).__name__}: {exc})", file=path) from None
    try:
        header, *rows = book.worksheets[0].iter_rows(values_only=True)  # pandas reads the first sheet
    finally:
        book.close()
    return [
        {**dict(zip(header, row)), "_row_index": index}
        for index, row in enumerate(rows)
        if any(cell is not None for cell in row)
    ]


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value in PANDAS_NA_VALUES)


def to_instance(record: Record) -> Instance | None:
    if missing(record["Answer"]):
        return None
    question, answer = str(record["Question"]), str(record["Answer"])
    return Instance(
        id=hashlib.sha1(f"{question}\n{answer}".encode()).hexdigest()[:12], input=question, reference=answer
    )


BENCHMARK = Benchmark(
    id="medication_qa",
    name="MedicationQA",
    access="public",
    source=Source(upstream=URL, how_to_get="Public (no licence stated).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="medication_qa",
    prompt=Prompt(instructions="Answer this consumer health question.", input_noun="Question", output_noun="Answer"),
    open_ended=True,
    max_tokens=512,
)
