"""MTSamples Procedures: propose a treatment plan from a transcribed procedure note (mtsamples.com).

Quirks of HELM's loader reproduced: the file list comes from the GitHub contents API with no ref
(the repository's default branch, whatever it holds today) while the files are read at a pinned
commit, and a listed file missing there is skipped; a section is detected on the upper-cased text
but split on the exact-case marker, so a case mismatch drops the file; the reference is only the
FIRST LINE after ``PLAN:`` (else ``SUMMARY:``, else ``FINDINGS:``); the input is the text before
the first of the three markers.
"""

from pytest_medhelm import Benchmark, Fetcher, Instance, Prompt, Record, Source, mtsamples

LISTING = "https://api.github.com/repos/raulista1997/benchmarkdata/contents/mtsample_procedure"
RAW = (
    "https://raw.githubusercontent.com/raulista1997/benchmarkdata/"
    "c4c252443fa9c52afb6960f53e51be278639bea2/mtsample_procedure/"
)


def fetch(fetcher: Fetcher) -> list[Record]:
    return mtsamples.fetch_files(fetcher, LISTING, RAW)


def to_instance(record: Record) -> Instance | None:
    text = record["text"].strip()
    reference = mtsamples.reference(text)
    if reference is None:
        return None
    for section in mtsamples.SECTIONS:  # cut in HELM's order, stripping after each cut
        text = text.split(section)[0].strip()
    return Instance(id=record["file_name"], input=text, reference=reference)


BENCHMARK = Benchmark(
    id="mtsamples_procedures",
    name="MTSamples Procedures",
    access="public",
    source=Source(upstream=LISTING, how_to_get="Public (MTSamples.com content; no licence stated).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="mtsamples_procedures",
    prompt=Prompt(
        instructions="Here is information about a patient; propose a reasonable treatment plan for the patient.",
        input_noun="Patient Notes",
        output_noun="Answer",
    ),
    open_ended=True,
    max_tokens=512,
)
