"""MEDEC: find the one medical error (if any) in a clinical note and correct that sentence.

The model replies ``CORRECT`` or ``<sentence id> <corrected sentence>``. MedHELM's main metric is
the error-flag accuracy, keyed on the exact string ``CORRECT`` ("CORRECT." claims an error).
Known defect, reproduced: HELM parses the gold sentence id with ``int()`` on the whole reference,
which always fails, so ``medec_error_sentence_accuracy`` only rewards correct ``CORRECT`` answers;
``medec_error_sentence_accuracy_corrected`` compares the real sentence ids. Only the public MS
test set is used (MEDEC-UW needs a data-use agreement).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from csv import DictReader
from typing import Any

from pytest_medhelm import Benchmark, Fetcher, Instance, Prompt, Record, ScoreContext, Source, metrics

URL = (
    "https://raw.githubusercontent.com/abachaa/MEDEC/49c59dcba43a7af8717590a405b11a57f42b04df/"
    "MEDEC-MS/MEDEC-MS-TestSet-with-GroundTruth-and-ErrorType.csv"
)


def fetch(fetcher: Fetcher) -> list[Record]:
    text = fetcher.url(URL).read_bytes().decode("utf-8-sig")
    # The CSV ends with a few hundred completely empty rows.
    return [row for row in DictReader(io.StringIO(text, newline="")) if any((v or "").strip() for v in row.values())]


def to_instance(record: Mapping[str, Any]) -> Instance | None:
    if not record.get("Sentences"):  # HELM skips rows without text
        return None
    return Instance(
        id=str(record["Text ID"]),
        # HELM reads the CSV with universal newlines, so the model sees "\n" between sentences.
        input=record["Sentences"].replace("\r\n", "\n").strip(),
        reference=metrics.medec_reference(
            record.get("Error Flag"), record.get("Error Sentence ID"), record.get("Corrected Sentence")
        ),
    )


def score(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    return metrics.medec.medec(output, instance.reference)


BENCHMARK = Benchmark(
    id="medec",
    name="Medec",
    access="public",
    source=Source(upstream=URL, how_to_get="Public (CC BY 4.0).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="medec",
    prompt=Prompt(
        instructions=(
            "You are a physician reviewing a clinical note about a patient. The note contains either no "
            "error or exactly one medical error. Each line holds one sentence, preceded by its sentence ID "
            "and a space. Check every sentence. If the note is correct, reply with: CORRECT. If it contains "
            "an error, reply with the ID of the sentence with the error, a space, and the corrected sentence."
        ),
        input_noun="Clinical Note",
        output_noun="Answer",
    ),
    scorer=score,
    main_metric="medec_error_flag_accuracy",
    max_tokens=256,
)
