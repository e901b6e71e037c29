"""MedDialog: summarise a patient-doctor conversation in one sentence (BioBART's processed splits).

HELM runs the HealthCareMagic and iCliniq subsets as two separate runs, samples up to 1,000
instances from each, and scores the benchmark as the unweighted mean of the two run means, so the
smaller iCliniq run weighs as much as HealthCareMagic. Mirror layout: ``med_dialog/test.jsonl``
holds both subsets' ``test.json`` entries (``src``, ``tgt``) with an added ``subset`` field; the
upstream layout (``med_dialog/<subset>/test.json``, as CodaLab serves it) is read as well.

Files: public, no credential: CodaLab's ``<subset>/test.json`` (or ``medhelm download``'s mirror).

Differences from HELM 0.5.16, deliberate: none.
"""

import hashlib
import json
from pathlib import Path

from pytest_medhelm import Benchmark, DataError, DataUnavailable, Fetcher, Instance, Prompt, Record, Source

BUNDLE = "https://worksheets.codalab.org/rest/bundles/0x82f0c47f6d3e4462ae9ef8ea39eebe64/contents/blob/"
SUBSETS = ("healthcaremagic", "icliniq")


def fetch(fetcher: Fetcher) -> list[Record]:
    return [
        {"subset": subset, **entry}
        for subset in SUBSETS
        for entry in fetcher.json(f"{BUNDLE}{subset}/test.json")["data"]
    ]


def read_local(folder: Path) -> list[Record]:
    """The upstream layout placed in ``DIR/med_dialog/``: CodaLab's ``<subset>/test.json`` files."""
    paths = {subset: folder / subset / "test.json" for subset in SUBSETS}
    missing = [f"{subset}/test.json" for subset, path in paths.items() if not path.is_file()]
    if missing:
        raise DataUnavailable(
            f"{folder} has no {' or '.join(missing)}: put both subsets' test.json from {BUNDLE} "
            f"there (<subset>/test.json), or run `medhelm download`."
        )
    records = []
    for subset, path in paths.items():
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))["data"]
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", file=path, line=exc.lineno) from None
        except (KeyError, TypeError):
            raise DataError('expected an object with a "data" list', file=path, field="data") from None
        records.extend({"subset": subset, **entry} for entry in entries)
    return records


def to_instance(record: Record) -> Instance:
    if record["subset"] not in SUBSETS:
        raise DataError(f"unknown subset {record['subset']!r} (expected one of {', '.join(SUBSETS)})", field="subset")
    digest = hashlib.sha1(record["src"].encode()).hexdigest()[:12]
    return Instance(
        id=f"{record['subset']}-{digest}", input=record["src"], reference=record["tgt"], run=record["subset"]
    )


BENCHMARK = Benchmark(
    id="med_dialog",
    name="MedDialog",
    access="public",
    source=Source(
        upstream=BUNDLE,
        how_to_get="Public CodaLab bundle (copyright of healthcaremagic.com and icliniq.com; licence unknown).",
        fetch=fetch,
        read_local=read_local,
    ),
    to_instance=to_instance,
    helm_prompt="med_dialog",
    prompt=Prompt(
        instructions="Summarise this patient-doctor conversation in one sentence.",
        input_noun="Patient-Doctor",
        output_noun="Summary",
    ),
    open_ended=True,
    max_tokens=80,
)
