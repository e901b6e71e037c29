"""MedQA (USMLE, four options): board-exam questions; added to MedHELM in Aug 2025, after the paper.

HELM samples the valid (dev) and test questions together and counts only the test part: each
instance carries its split, and ``scored_splits`` keeps only test after sampling. Scored as
MedHELM: the bare option letter only (``exact_match``); ``exact_match_corrected`` also accepts
"A.", "(A)" or "Answer: A". Some option texts end in a stray newline and quote, which HELM strips.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pytest_medhelm import Benchmark, DataError, Fetcher, Instance, Prompt, Record, Source, scorers

# The jind11/MedQA data archive on Google Drive, as HELM downloads it.
ARCHIVE_URL = "https://drive.google.com/uc?export=download&id=1ImYUSLk9JbgHXOemfvyiDiirluZHPeQw&confirm=t"
MEMBER = "data_clean/questions/US/4_options/phrases_no_exclude_{}.jsonl"
SPLITS = {"valid": "dev", "test": "test"}  # HELM split -> file; loader order: valid, then test


def fetch(fetcher: Fetcher) -> list[Record]:
    records: list[Record] = []
    for split, name in SPLITS.items():
        lines = fetcher.zip_member(ARCHIVE_URL, MEMBER.format(name)).decode("utf-8").splitlines()
        records += [
            {**json.loads(line), "_split": split, "_row_index": index}
            for index, line in enumerate(lines)
            if line.strip()
        ]
    return records


def to_instance(record: Mapping[str, Any]) -> Instance:
    options = record["options"]
    if len(options) != 4 or record["answer_idx"] not in options:
        raise DataError(f"expected 4 options including answer_idx {record['answer_idx']!r}", field="options")
    split = record.get("_split", "test")  # the mirror holds test rows only
    # Row index in the upstream file; a copy without it falls back to a digest of the question.
    row = record.get("_row_index", hashlib.sha256(record["question"].encode()).hexdigest()[:12])
    return Instance(
        id=f"{split}-{row}",
        input=record["question"],
        choices=tuple(text.rstrip('"').rstrip() for text in options.values()),
        correct=list(options).index(record["answer_idx"]),
        split=split,
    )


BENCHMARK = Benchmark(
    id="med_qa",
    name="MedQA",
    access="public",
    source=Source(upstream=ARCHIVE_URL, how_to_get="Public (MIT licence).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="medhelm_med_qa",
    prompt=Prompt(
        instructions="Answer the medical exam question with the single letter (A, B, C or D) of the best option.",
        input_noun="Question",
        output_noun="Reply with the letter alone, with no explanation, punctuation or other symbols.",
        multiple_choice=True,
    ),
    scorer=scorers.multiple_choice,
    main_metric="exact_match",
    max_tokens=1,
    scored_splits=("test",),
)
