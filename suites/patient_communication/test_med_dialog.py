"""MedDialog: summarise a patient-doctor conversation in one sentence (BioBART's processed splits).

HELM runs the HealthCareMagic and iCliniq subsets as two separate runs, samples up to 1,000
instances from each, and scores the benchmark as the unweighted mean of the two run means, so the
smaller iCliniq run weighs as much as HealthCareMagic. Mirror layout: ``med_dialog/test.jsonl``
holds both subsets' ``test.json`` entries (``src``, ``tgt``) with an added ``subset`` field.
"""

import hashlib

from pytest_medhelm import Benchmark, Fetcher, Instance, Prompt, Source, scorers
from pytest_medhelm.data.sources import DataError, Record

BUNDLE = "https://worksheets.codalab.org/rest/bundles/0x82f0c47f6d3e4462ae9ef8ea39eebe64/contents/blob/"
SUBSETS = ("healthcaremagic", "icliniq")


def fetch(fetcher: Fetcher) -> list[Record]:
    return [{"subset": subset, **entry} for subset in SUBSETS
            for entry in fetcher.json(f"{BUNDLE}{subset}/test.json")["data"]]


def to_instance(record: Record) -> Instance:
    if record["subset"] not in SUBSETS:
        raise DataError(f"unknown subset {record['subset']!r} (expected one of {', '.join(SUBSETS)})",
                        field="subset")
    digest = hashlib.sha1(record["src"].encode()).hexdigest()[:12]
    return Instance(id=f"{record['subset']}-{digest}", input=record["src"], reference=record["tgt"],
                    run=record["subset"])


BENCHMARK = Benchmark(
    id="med_dialog",
    name="MedDialog",
    category="patient_communication",
    subcategory="Patient-Provider Messaging",
    access="public",
    source=Source(
        upstream=BUNDLE,
        how_to_get="Public CodaLab bundle (copyright of healthcaremagic.com and icliniq.com; licence unknown).",
        fetch=fetch,
    ),
    to_instance=to_instance,
    prompt=Prompt(instructions="Summarise this patient-doctor conversation in one sentence.",
                  input_noun="Patient-Doctor", output_noun="Summary"),
    scorer=scorers.rouge_l,
    main_metric="rouge_l",
    # ROUGE-L >= 0.2: a modest overlap with the one-sentence reference (HELM's score is the jury's).
    pass_at=0.2,
    open_ended=True,
    jury_metric="med_dialog_accuracy",
    max_tokens=80,
)
