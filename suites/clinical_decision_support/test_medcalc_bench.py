"""MedCalc-Bench: compute a clinical score, dose, date or lab value from a patient note.

Scored exactly as MedHELM: the stripped output with no extraction at all (a number with units or
any explanation scores 0). Known defect, reproduced: HELM's metric has no rule for the "lab test"
category (327 of the 1,047 items), so those always score 0 under ``medcalc_bench_accuracy``;
``medcalc_bench_accuracy_corrected`` scores them with the same inclusive numeric range as
"physical". The upstream file is parquet, read with pyarrow (an optional dependency).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_medhelm import (
    Benchmark,
    DataUnavailable,
    Fetcher,
    Instance,
    Prompt,
    Record,
    ScoreContext,
    Source,
    metrics,
)

REPO = "ncbi/MedCalc-Bench-v1.0"  # the id HELM loaded at paper time; HELM pins no revision
REVISION = "main"
TEST_FILE = "data/test-00000-of-00001.parquet"


def read_parquet(path: Path) -> list[Record]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataUnavailable(f"reading {REPO} (a parquet file) needs pyarrow: pip install pyarrow") from None
    return pq.read_table(path).to_pylist()


def fetch(fetcher: Fetcher) -> list[Record]:
    return read_parquet(fetcher.hf(REPO, TEST_FILE, revision=REVISION))


def to_instance(record: Mapping[str, Any]) -> Instance:
    # The v1.0 CSV copy in the mirror calls the row id "Unique ID"; Hugging Face calls it "Row Number".
    row_id = record["Row Number"] if "Row Number" in record else record["Unique ID"]
    return Instance(
        id=str(row_id),
        input=f"Patient note: {record['Patient Note']}\n\nQuestion: {record['Question']}\n",
        reference=str(record["Ground Truth Answer"]),
        extra={
            "category": record["Category"],
            "lower_limit": str(record["Lower Limit"]),
            "upper_limit": str(record["Upper Limit"]),
        },
    )


def score(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    extra = instance.extra
    return metrics.medcalc_bench(
        output, instance.reference, extra["category"], extra["lower_limit"], extra["upper_limit"]
    )


BENCHMARK = Benchmark(
    id="medcalc_bench",
    name="MedCalc-Bench",
    access="public",
    source=Source(
        upstream=f"https://huggingface.co/datasets/{REPO} (split test)",
        how_to_get="Public (CC-BY-SA 4.0).",
        fetch=fetch,
    ),
    to_instance=to_instance,
    helm_prompt="medcalc_bench",
    prompt=Prompt(
        instructions="Read the patient note and the question, then calculate the clinical value asked for.",
        output_noun="Give the value alone, without units. No explanation needed",
    ),
    scorer=score,
    main_metric="medcalc_bench_accuracy",
    max_tokens=10,
)
