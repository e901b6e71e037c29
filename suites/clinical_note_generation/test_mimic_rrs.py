"""MIMIC-RRS: write the impression of a radiology report from its findings (MIMIC-III reports of the
radiology report summarisation benchmark, Chen et al., ACL 2023).

HELM reads the test split's line-aligned ``test.findings.tok`` and ``test.impression.tok``, strips
each line, and skips pairs where either side is empty.

Owner files: ``test.findings.tok`` and ``test.impression.tok`` (MIMIC-III via PhysioNet credentialed
access, split as in Chen et al. 2023).

Differences from HELM 0.5.16, deliberate: none in the instances (lines end at "\\n", "\\r\\n" or "\\r" as
HELM's ``readlines()``; not at a form feed or U+2028). The files are read as UTF-8 (HELM: the
locale's encoding), and unequal line counts are an error naming the file and line.
"""

from pathlib import Path

from pytest_medhelm import Benchmark, DataError, Instance, Prompt, Record, Source, find_file

HOW = (
    "Gated: PhysioNet credentialed access to MIMIC-III (data-use agreement signed), processed into the "
    "radiology report summarisation splits: put the test split's line-aligned test.findings.tok and "
    "test.impression.tok in DIR/mimic_rrs/ or a folder named by the ini key medhelm_data_paths."
)


def read_lines(path: Path) -> list[str]:
    """HELM's ``readlines()`` in text mode: lines end at "\n", "\r\n" or "\r" only (not at the form
    feed or U+2028 that ``str.splitlines`` also splits at), then each is stripped."""
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle.readlines()]


def read_local(folder: Path) -> list[Record]:
    findings_path = find_file(folder, "test.findings.tok", HOW)
    impressions_path = find_file(folder, "test.impression.tok", HOW)
    findings, impressions = read_lines(findings_path), read_lines(impressions_path)
    if len(findings) != len(impressions):
        raise DataError(
            f"{len(impressions)} impressions for {len(findings)} findings: the files must be line-aligned",
            file=impressions_path,
            line=min(len(findings), len(impressions)) + 1,
        )
    return [
        {"line": number, "findings": finding, "impression": impression}
        for number, (finding, impression) in enumerate(zip(findings, impressions), start=1)
        if finding and impression
    ]


def to_instance(record: Record) -> Instance:
    return Instance(id=f"line{record['line']}", input=record["findings"], reference=record["impression"])


BENCHMARK = Benchmark(
    id="mimic_rrs",
    name="MIMIC-RRS",
    access="gated",
    source=Source(
        upstream="https://physionet.org/content/mimiciii/ (reports split as in Chen et al. 2023)",
        how_to_get=HOW,
        read_local=read_local,
    ),
    to_instance=to_instance,
    helm_prompt="mimic_rrs",
    prompt=Prompt(
        instructions="Write the impression section of the radiology report from its findings. It will "
        "not be used to diagnose or treat any patient. Be as concise as you can.",
        input_noun="Findings",
        newline_after_input_noun=True,
        output_noun="Impression",
    ),
    open_ended=True,
    max_tokens=128,
)
