"""MedMCQA: four-option questions from Indian medical entrance exams (AIIMS and NEET PG).

The test set's answers are not public, so HELM evaluates the dev set (4,183 questions) as its
"valid" split and MedHELM's leaderboard reads the valid split. In the original release ``cop`` is
1-based (1 = option a); ``dev.json`` is JSON Lines despite its name.
"""

import io
import json

from pytest_medhelm import Benchmark, Fetcher, Instance, Prompt, Source, scorers
from pytest_medhelm.data.sources import DataError, Record

URL = "https://drive.google.com/uc?export=download&id=15VkJdq5eyWIkfb_aoD3oS8i4tScbHYky&confirm=t"
OPTIONS = ("opa", "opb", "opc", "opd")


def fetch(fetcher: Fetcher) -> list[Record]:
    text = fetcher.zip_member(URL, "dev.json").decode("utf-8")
    return [json.loads(line) for line in io.StringIO(text) if line.strip()]


def to_instance(record: Record) -> Instance:
    cop = record["cop"]
    if type(cop) is not int or not 1 <= cop <= 4:
        raise DataError(f"correct option must be 1-4, got {cop!r}", field="cop")
    return Instance(id=str(record["id"]), input=record["question"],
                    choices=tuple(record[option] for option in OPTIONS), correct=cop - 1, split="valid")


BENCHMARK = Benchmark(
    id="med_mcqa",
    name="MedMCQA",
    category="clinical_decision_support",
    subcategory="Providing Clinical Knowledge Support",
    access="public",
    source=Source(upstream=URL, how_to_get="Public (research use; see the MedMCQA repository).", fetch=fetch),
    to_instance=to_instance,
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
