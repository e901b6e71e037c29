"""HEAD-QA (English): Spanish healthcare specialisation exams (2016-2017), four options each.

HELM loads Hugging Face ``dvilares/head_qa`` (config ``en``, split ``test``) and skips questions
that come with an image. That dataset is a loading script over the authors' Google Drive archive;
``fetch`` reads the same file from that archive. Scored as MedHELM: only the bare option letter
counts (``exact_match``); ``exact_match_corrected`` also accepts "A.", "(A)" or "Answer: A".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pytest_medhelm import Benchmark, DataError, Fetcher, Instance, Prompt, Record, Source, scorers

# The archive named by the dataset's loading script (confirm=t skips Drive's large-file page).
ARCHIVE_URL = "https://drive.google.com/uc?export=download&id=1a_95N5zQQoUCq8IBNVZgziHbeM-QxG2t&confirm=t"
MEMBER = "HEAD_EN/test_HEAD_EN.json"


def fetch(fetcher: Fetcher) -> list[Record]:
    exams = json.loads(fetcher.zip_member(ARCHIVE_URL, MEMBER))["exams"]
    # One row per question, exam fields copied in (the shape of the authors' HEAD_EN.json).
    return [
        {"name": exam["name"], "year": exam["year"], "category": exam["category"], **question}
        for exam in exams.values()
        for question in exam["data"]
    ]


def to_instance(record: Mapping[str, Any]) -> Instance | None:
    # Hugging Face rows have ``ra`` as an int and ``image`` null; the authors' files a string and "".
    if record.get("image"):
        return None
    answers = sorted(record["answers"], key=lambda answer: int(answer["aid"]))
    aids = [int(answer["aid"]) for answer in answers]
    right = int(str(record["ra"]).strip())
    if right not in aids:
        raise DataError(f"right answer {right} is not among the answer ids {aids}", field="ra")
    return Instance(
        id=f"{str(record['name']).strip()}-{str(record['qid']).strip()}",
        input=str(record["qtext"]).strip(),  # the HF loader strips question and option texts
        choices=tuple(str(answer["atext"]).strip() for answer in answers),
        correct=aids.index(right),
    )


BENCHMARK = Benchmark(
    id="head_qa",
    name="HeadQA",
    access="public",
    source=Source(
        upstream="https://huggingface.co/datasets/dvilares/head_qa (config en, split test)",
        how_to_get="Public (MIT licence).",
        fetch=fetch,
    ),
    to_instance=to_instance,
    helm_prompt="head_qa",
    prompt=Prompt(
        instructions=(
            "You are an expert in the biomedical sciences. Answer the multiple-choice question below by "
            "picking the most appropriate of the options given.\n\n"
            "Reply with only the letter of your choice (A, B, C or D)."
        ),
        input_noun="Question",
        output_noun="Answer",
        multiple_choice=True,
    ),
    scorer=scorers.multiple_choice,
    main_metric="exact_match",
    max_tokens=1,
)
