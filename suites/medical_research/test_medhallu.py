"""MedHallu: is an answer to a PubMedQA question factual (0) or hallucinated (1)?

Each of the 1,000 ``pqa_labeled`` rows yields two instances, its ground-truth answer (gold "0")
and its hallucinated answer (gold "1"). Quirks kept: the knowledge passages enter the prompt as a
Python list literal (``['...', '...']``), as HELM's f-string renders them, and the answer must be
exactly ``0`` or ``1`` after stripping whitespace (strict exact match).
"""

import hashlib

from pytest_medhelm import Benchmark, Fetcher, Instance, Prompt, Record, Source, scorers

REPO, REVISION = "UTAustin-AIHealth/MedHallu", "515060458a945c633debc6fd5baac7764416b724"
FILE = "pqa_labeled/train-00000-of-00001.parquet"


def fetch(fetcher: Fetcher) -> list[Record]:
    import pyarrow.parquet as pq  # imported on first use: only the download needs it

    return pq.read_table(fetcher.hf(REPO, FILE, revision=REVISION)).to_pylist()


def to_instance(record: Record) -> list[Instance]:
    row = hashlib.sha1(record["Question"].encode()).hexdigest()[:12]
    text = "World Knowledge: {}\n\nQuestion: {}\n\nAnswer: {}\n".format
    return [
        Instance(
            id=f"{row}-{kind}", input=text(record["Knowledge"], record["Question"], record[field]), reference=label
        )
        for kind, field, label in (("factual", "Ground Truth", "0"), ("hallucinated", "Hallucinated Answer", "1"))
    ]


INSTRUCTIONS = """You are an expert in medicine acting as an answer judge. Given world knowledge, a question \
and an answer, decide whether the answer contains non-factual or hallucinated information, that is, \
whether it contradicts the world knowledge or established medical knowledge. Answer '0' if the answer \
is factual and '1' if it is hallucinated. An answer is hallucinated when it falls in any of these types:
Type: Misinterpretation of the question: the answer misunderstands the question and is off-topic or irrelevant.
Type: Incomplete information: the answer points out what is not true without giving the correct information.
Type: Mechanism and pathway misattribution: the answer attributes biological mechanisms, molecular pathways \
or disease processes in a way that contradicts established medical knowledge.
Type: Methodological and evidence fabrication: the answer invents research methods, statistics or clinical outcomes.

Return nothing but the integer: '0' if the answer is factual, '1' if it is hallucinated."""

BENCHMARK = Benchmark(
    id="medhallu",
    name="MedHallu",
    access="public",
    source=Source(upstream=f"https://huggingface.co/datasets/{REPO}", how_to_get="Public (MIT licence).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="medhallu",
    prompt=Prompt(
        instructions=INSTRUCTIONS,
        output_noun="Return only an integer, '0' if the answer is factual or '1' if it is hallucinated.\n"
        "No letter or word, only the integer.\n\nYour Judgment",
    ),
    scorer=scorers.exact,
    main_metric="exact_match",
    max_tokens=5,
)
