"""MTSamples: propose a treatment plan from a transcribed medical report (mtsamples.com).

Quirks of HELM's loader reproduced: the files are listed with the GitHub contents API, which
returns at most 1,000 of the folder's 1,269 files; a section is detected on the upper-cased text
but the text is split on the exact-case marker, so a file with ``Plan:`` but no ``PLAN:`` fails
and is skipped; the reference is only the FIRST LINE after ``PLAN:`` (else ``SUMMARY:``, else
``FINDINGS:``); the input is the text before ``PLAN:`` (the other sections stay in).
"""

from pytest_medhelm import Benchmark, Fetcher, Instance, Prompt, Record, Source, mtsamples

REF = "ebc104a4f96c5b7602242f301e081e9934a23344"
LISTING = f"https://api.github.com/repos/raulista1997/benchmarkdata/contents/mtsamples_processed?ref={REF}"
RAW = f"https://raw.githubusercontent.com/raulista1997/benchmarkdata/{REF}/mtsamples_processed/"


def fetch(fetcher: Fetcher) -> list[Record]:
    return mtsamples.fetch_files(fetcher, LISTING, RAW)


def to_instance(record: Record) -> Instance | None:
    text = record["text"].strip()
    reference = mtsamples.reference(text)
    if reference is None:
        return None
    return Instance(id=record["file_name"], input=text.split("PLAN:")[0].strip(), reference=reference)


BENCHMARK = Benchmark(
    id="mtsamples_replicate",
    name="MTSamples",
    access="public",
    source=Source(upstream=LISTING, how_to_get="Public (MTSamples.com content; no licence stated).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="mtsamples_replicate",
    prompt=Prompt(
        instructions="From the information about this patient below, propose a reasonable treatment plan.",
        output_noun="Answer",
    ),
    open_ended=True,
    max_tokens=512,
)
