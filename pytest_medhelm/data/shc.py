"""The ten Stanford Health Care (SHC) benchmarks: one mechanism, declared ten times.

Each is a private CSV with a question (column ``prompt``, or ``question`` for ClinicReferral), a
``context`` (the note or message) and a ``label`` letter. HELM (``scenarios/shc_*_scenario.py``)
builds one prompt per row from a benchmark-specific template, keeps the instances in a dict keyed
by that prompt text (a repeated prompt keeps its first position and takes the LAST row's label), and
asks a multiple-choice question whose options are literally the letters "A", "B" (and "C" for
ENT-Referral and ProxySender), with ``input_noun=""`` (the input starts with ": ") and an empty
output cue (the prompt ends with ":"). ClinicReferral and ENT-Referral number their prompts with a
running counter; ENT-Referral skips rows without a label, and does not count them. The template
itself is HELM's, read from its package (our wording only without it).

Differences from HELM 0.5.16, deliberate (none in the instances of a well-formed file):
- A UTF-8 byte-order mark is accepted (HELM then misses the first column), and the folder's only
  ``.csv`` is read under another name.
- A label outside the options is an error naming the file, line and field (HELM's assert).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from pytest_medhelm import scorers
from pytest_medhelm.benchmark import Benchmark, Instance, Prompt
from pytest_medhelm.data.owner import find_file, read_csv
from pytest_medhelm.data.sources import DataError, Record, Source
from pytest_medhelm.helm.prompts import scenario_value

UPSTREAM = "Stanford Health Care (private; not distributed)"


def benchmark(
    *,
    id: str,
    name: str,
    file: str,
    template: str,
    options: str = "AB",
    question_column: str = "prompt",
    skip_unlabelled: bool = False,
    description: str = "",
    helm_scenario: tuple[str, str] | None = None,
) -> Benchmark:
    """An SHC benchmark. Its instance text is HELM's template, the f-string ``prompt`` of
    ``helm_scenario`` = (scenario module, ``Class.create_benchmark``) read from HELM's package;
    without the package, our own ``template``, filled with ``{question}``, ``{context}`` and
    ``{counter}``."""
    choices = tuple(options)
    how_to_get = (
        f"Private Stanford Health Care data, available only to its owners under their data-use "
        f"approval: put the de-identified export {file} (columns {question_column}, context, "
        f"label in {', '.join(choices)}) in DIR/{id}/ or a folder named by the ini key "
        f"medhelm_data_paths ({id} = folder)."
    )

    def read_local(folder: Path) -> Iterator[Record]:
        path = find_file(folder, file, how_to_get, suffix=".csv")
        counter = 0
        # HELM opens the file without newline="": a "\r\n" inside a quoted cell reads as "\n".
        for line, row in read_csv(path, (question_column, "context", "label"), universal_newlines=True):
            label = row["label"].strip()
            if skip_unlabelled and label == "":
                continue  # HELM drops these rows before numbering (ENT: encoding problems)
            if label not in choices:
                raise DataError(
                    f"label {label!r} is not one of {', '.join(choices)}", file=path, line=line, field="label"
                )
            counter += 1
            yield {
                "question": row[question_column],
                "context": row["context"],
                "label": label,
                "counter": counter,
                "line": line,
            }

    def to_instance(record: Record) -> Instance:
        values = {"question": record["question"], "context": record["context"], "counter": record["counter"]}
        helm = scenario_value(*helm_scenario, "prompt") if helm_scenario else None
        text = helm.fill(values) if helm is not None else template.format(**values)
        # Keyed by the prompt text (hashed: ids are printed, prompts hold patient text); the loader
        # collapses repeated ids in place, so the last label wins as in HELM's dict.
        return Instance(
            id=hashlib.sha1(text.encode()).hexdigest()[:12],
            input=text,
            choices=choices,
            correct=choices.index(record["label"]),
            extra={"line": record["line"]},
        )

    letters = ", ".join(choices[:-1]) + (", or " if len(choices) > 2 else " or ") + choices[-1]
    return Benchmark(
        id=id,
        name=name,
        access="private",
        source=Source(upstream=UPSTREAM, how_to_get=how_to_get, read_local=read_local),
        to_instance=to_instance,
        prompt=Prompt(instructions=f"Reply {letters} only.", input_noun="", output_noun="", multiple_choice=True),
        helm_prompt=id,
        scorer=scorers.multiple_choice,
        main_metric="exact_match",
        max_tokens=1,
        collapse_duplicates=True,
        description=description,
    )
