"""PubMedQA: does a PubMed abstract answer a research question yes, no or maybe?

HELM evaluates all 1,000 expert-labelled PQA-L items (not only the usual 500-item test split).
"""

from pytest_medhelm import Benchmark, Instance, Prompt, Source, scorers

URL = "https://raw.githubusercontent.com/pubmedqa/pubmedqa/1f00b98d5cc626844bf8c4ca513b6e62c40071ec/data/ori_pqal.json"
ANSWERS = ("yes", "no", "maybe")


def fetch(fetcher):
    return [{"pmid": pmid, **item} for pmid, item in fetcher.json(URL).items()]


def to_instance(record):
    # As HELM's scenario: labels title-cased ("Background."), and the question ends in a newline,
    # which leaves a blank line before the options.
    context = "\n".join(f"{label.title()}. {text}" for label, text in zip(record["LABELS"], record["CONTEXTS"]))
    return Instance(
        id=str(record["pmid"]),
        input=f"Context: {context}\n\nQuestion: {record['QUESTION']}\n",
        choices=ANSWERS,
        correct=ANSWERS.index(record["final_decision"]),
    )


BENCHMARK = Benchmark(
    id="pubmed_qa",
    name="PubMedQA",
    access="public",
    source=Source(upstream=URL, how_to_get="Public (MIT licence).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="pubmed_qa",
    prompt=Prompt(
        instructions="Answer A for yes, B for no or C for maybe. Reply with the letter only.",
        input_noun="Question",
        output_noun="Answer",
        multiple_choice=True,
    ),
    scorer=scorers.multiple_choice,
    main_metric="exact_match",
    max_tokens=1,
)
