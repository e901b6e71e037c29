"""Medbullets: USMLE Step 2/3 style clinical vignettes with five options (A-E).

Scored as MedHELM: the reply must be the bare option letter (``exact_match``); "A." or
"Answer: A" score 0 there. ``exact_match_corrected`` also accepts those common spellings.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from csv import DictReader
from typing import Any
from urllib.parse import parse_qs, urlparse

from pytest_medhelm import Benchmark, DataError, Fetcher, Instance, Prompt, Record, Source, scorers

# HELM's URL, double slash included (the branch, not a commit: HELM pins none).
URL = "https://raw.githubusercontent.com/HanjieChen/ChallengeClinicalQA/refs/heads/main/medbullets//medbullets_op5.csv"
OPTION_FIELDS = ("opa", "opb", "opc", "opd", "ope")
LETTERS = ("A", "B", "C", "D", "E")


def fetch(fetcher: Fetcher) -> list[Record]:
    return list(DictReader(io.StringIO(fetcher.url(URL).read_bytes().decode("utf-8-sig"), newline="")))


def question_id(link: str) -> str:
    """The source page's id: ``...testview?qid=108992`` -> ``108992``; a short link's last segment."""
    url = urlparse(link)
    return parse_qs(url.query).get("qid", [""])[0] or url.path.rstrip("/").rpartition("/")[2]


def to_instance(record: Mapping[str, Any]) -> Instance | None:
    if not (record.get("question") and record.get("answer_idx") and record.get("opa")):
        return None  # HELM skips incomplete rows
    if record["answer_idx"] not in LETTERS:
        raise DataError(f"answer_idx must be one of A-E, got {record['answer_idx']!r}", field="answer_idx")
    return Instance(
        id=question_id(str(record.get("link") or "")) or str(record["question"])[:40],
        input=record["question"],
        choices=tuple(record.get(name, "Not applicable") for name in OPTION_FIELDS),
        correct=LETTERS.index(record["answer_idx"]),
    )


BENCHMARK = Benchmark(
    id="medbullets",
    name="Medbullets",
    access="public",
    source=Source(upstream=URL, how_to_get="Public (no licence stated; step2.medbullets.com content).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="medbullets",
    prompt=Prompt(
        instructions=(
            "You are a medical expert answering exam questions like those of the USMLE Step 2 and Step 3. "
            "Each question gives a clinical scenario and several options.\n\n"
            "Reply with only the letter of the correct option (A, B, C, D or E)."
        ),
        input_noun="Clinical Scenario",
        output_noun="Answer",
        multiple_choice=True,
    ),
    scorer=scorers.multiple_choice,
    main_metric="exact_match",
    max_tokens=1,
)
