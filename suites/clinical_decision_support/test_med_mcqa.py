"""MedMCQA: four-option questions from Indian medical entrance exams (AIIMS and NEET PG).

The test set's answers are not public, so HELM evaluates the dev set (4,183 questions) as its
"valid" split and MedHELM's leaderboard reads the valid split. In the original release ``cop`` is
1-based (1 = option a); ``dev.json`` is JSON Lines despite its name. The archive's ``dev.json``
placed in ``DIR/med_mcqa/`` is read as well as the mirror's ``test.jsonl``.

Files: public, no credential: the MedMCQA archive's ``dev.json`` (or ``medhelm download``'s mirror).

Differences from HELM 0.5.16, deliberate: none (HELM also reads ``train.json``, for in-context
examples MedHELM does not use).
"""

import io
import json
from pathlib import Path

from pytest_medhelm import (
    Benchmark,
    DataError,
    DataUnavailable,
    Fetcher,
    Instance,
    Prompt,
    Record,
    Source,
    read_jsonl,
    scorers,
)

URL = "https://drive.google.com/uc?export=download&id=15VkJdq5eyWIkfb_aoD3oS8i4tScbHYky&confirm=t"
OPTIONS = ("opa", "opb", "opc", "opd")


def fetch(fetcher: Fetcher) -> list[Record]:
    text = fetcher.zip_member(URL, "dev.json").decode("utf-8")
    return [json.loads(line) for line in io.StringIO(text) if line.strip()]


def read_local(folder: Path) -> list[Record]:
    """The upstream layout placed in ``DIR/med_mcqa/``: the archive's ``dev.json`` (JSON Lines), at the
    top or in the folder the archive unpacks to."""
    found = [folder / "dev.json", *sorted(folder.glob("*/dev.json"))]
    path = next((p for p in found if p.is_file()), None)
    if path is None:
        raise DataUnavailable(
            f"{folder} has no dev.json: unpack the MedMCQA archive ({URL}) there, or run `medhelm download`."
        )
    return [record for _, record in read_jsonl(path)]


def to_instance(record: Record) -> Instance:
    cop = record["cop"]
    if type(cop) is not int or not 1 <= cop <= 4:
        raise DataError(f"correct option must be 1-4, got {cop!r}", field="cop")
    return Instance(
        id=str(record["id"]),
        input=record["question"],
        choices=tuple(record[option] for option in OPTIONS),
        correct=cop - 1,
        split="valid",
    )


BENCHMARK = Benchmark(
    id="med_mcqa",
    name="MedMCQA",
    access="public",
    source=Source(
        upstream=URL,
        how_to_get="Public (research use; see the MedMCQA repository).",
        fetch=fetch,
        read_local=read_local,
    ),
    to_instance=to_instance,
    helm_prompt="medhelm_med_mcqa",
    prompt=Prompt(
        instructions="Give the letter (A, B, C or D) of the correct answer, with no explanation.",
        input_noun="Question",
        output_noun="Respond with only the letter A, B, C or D, without any other text, punctuation or symbols.",
        multiple_choice=True,
    ),
    scorer=scorers.multiple_choice,
    main_metric="exact_match",
    max_tokens=1,
    scored_splits=("valid",),
)
