"""EHRSQL (eICU): write the SQL query that answers a clinician's question, or abstain.

HELM pools the valid and test questions as its test split (2,909, of which 950 unanswerable) and
runs queries on a tiny eICU demo database, so most gold results are empty and then fall back to
the question's slot values (spec 2.4; see :mod:`pytest_medhelm.metrics.ehr_sql`). The prompt
embeds every ``CREATE TABLE`` statement of ``eicu.sql``. Side files beside ``test.jsonl``:
``eicu.sqlite`` (the database) and ``eicu_schema.txt`` (the schema; ``eicu.sql`` itself when
downloaded by ``medhelm download``).
"""

import asyncio
from pathlib import Path

from pytest_medhelm import Benchmark, DataError, Fetcher, Instance, Prompt, Record, ScoreContext, Source, helm, metrics

BASE = "https://raw.githubusercontent.com/glee4810/EHRSQL/e172ec8e61391ecae2d872c8d0ba02a622222f54/dataset/ehrsql/eicu/"
DB_URL = "https://github.com/raulista1997/benchmarkdata/raw/c4c252443fa9c52afb6960f53e51be278639bea2/eicu.sqlite"
DB, SCHEMA = "eicu.sqlite", "eicu_schema.txt"


def fetch(fetcher: Fetcher) -> list[Record]:
    return [entry for split in ("valid", "test") for entry in fetcher.json(f"{BASE}{split}.json")]


def fetch_side_file(fetcher: Fetcher, name: str) -> Path:
    return fetcher.url({DB: DB_URL, SCHEMA: BASE + "eicu.sql"}[name])


def create_tables(sql: str) -> str:
    """HELM's schema text: each ``CREATE TABLE`` block up to the line ending in ";", lines stripped."""
    tables, current = [], None
    for line in (raw.strip() for raw in sql.splitlines()):
        if line.startswith("CREATE TABLE"):
            current = [line]
        elif current is not None:
            current.append(line)
            if line.endswith(";"):
                tables.append("\n".join(current))
                current = None
    return "\n\n".join(tables)


def shared_fields(folder: Path) -> dict[str, str]:
    for path in (folder / DB, folder / SCHEMA):
        if not path.is_file():
            raise DataError(
                f"side file missing: put {path.name} beside test.jsonl (`medhelm download` does)", file=path
            )
    return {"_schema": create_tables((folder / SCHEMA).read_text(encoding="utf-8"))}


def to_instance(record: Record) -> Instance | None:
    if "question" not in record or "query" not in record:  # HELM skips such entries
        return None
    template = helm.scenario_value("ehr_sql_scenario", "EhrSqlScenario.process_json", "input_text")
    if template is not None:
        text = template.fill({"schema_prompt": record["_schema"], "entry['question']": record["question"]})
    else:  # our wording without HELM's package
        text = f"-- Tables:\n{record['_schema']}\n\n-- Asked:\n{record['question']}\n\n"
    return Instance(
        id=str(record["id"]),
        input=text,
        reference=record["query"],
        extra={"value": record.get("value"), "is_impossible": bool(record.get("is_impossible", False))},
    )


async def score(instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
    db = ctx.data_dir / DB if ctx.data_dir is not None else None
    if db is None or not db.is_file():
        raise FileNotFoundError(f"ehr_sql scores on {DB}, which is not in the data folder {ctx.data_dir}")
    # Off the event loop: a query may run for up to the metric's time budget.
    return await asyncio.to_thread(
        metrics.ehr_sql.ehr_sql,
        output,
        instance.reference,
        instance.extra["value"],
        instance.extra["is_impossible"],
        db,
    )


BENCHMARK = Benchmark(
    id="ehr_sql",
    name="EHRSQL",
    access="public",
    source=Source(
        upstream=BASE,
        how_to_get="Public (questions CC BY 4.0; eicu.sqlite has no licence stated).",
        fetch=fetch,
        side_files=(DB, SCHEMA),
        fetch_side_file=fetch_side_file,
        shared_fields=shared_fields,
    ),
    to_instance=to_instance,
    helm_prompt="ehr_sql",
    prompt=Prompt(
        instructions="You write SQL for clinical research. From the database schema and the medical question "
        "below, write one valid SQLite query that retrieves the answer.\n\n"
        "Input: a database schema, then a question in plain language.\n"
        "Output: only the SQL query, ending with ;, with no explanation or other text.\n\n"
        "If the question cannot be answered from this database, return an empty string and "
        "nothing else.",
        input_noun="Schema and question",
        output_noun="SQL Query",
    ),
    scorer=score,
    main_metric="ehr_sql_execution_accuracy",
    max_tokens=1024,
)
