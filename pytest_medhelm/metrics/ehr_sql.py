"""EHRSQL execution accuracy (MedHELM spec §2.4), faithful and corrected.

Reproduces HELM's ``annotation/ehr_sql_annotator.py`` + ``metrics/ehr_sql_metrics.py``:

* the gold query is run on the toy eICU SQLite file; if it returns no rows, the gold *result* falls
  back to the question's template slot values (a list of strings), so an answerable item whose gold
  result is empty but which has slot values can never score (a set of strings never equals a set of
  row tuples);
* the model's SQL is taken from a ``<sql>`` block if present, backticks and a leading ``sql`` line
  are removed, and it is executed; results are compared as *sets* of rows (order and duplicates are
  ignored, ``1 == 1.0``, ``None == None``);
* an empty gold result scores 1 only when the model produced no output at all (abstention), judged on
  the raw stripped completion, so a bare ``"```"`` counts as output.

Safety deviations from HELM (they change no score of a gold query or of a ``SELECT``): the database
is opened read-only; only reading statements run (an authorizer refuses ``ATTACH``, ``PRAGMA``,
``CREATE``, writes and transactions, so ``query_validity`` is 0 for them, where HELM, running on a
writable file, would count a ``DELETE`` as valid and lose the rows for every later item); every
query runs under a step, time, row and memory budget; and at most :data:`MAX_CONCURRENT_QUERIES`
run at once in a process, whatever the number of scorer threads (see :func:`execute`).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_MAX_STEPS",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_MAX_ROWS",
    "NO_QUERY_ERROR",
    "extract_sql",
    "is_select",
    "execute",
    "gold_result",
    "ehr_sql",
]

#: SQLite virtual-machine instructions one query may run. The costliest gold query of the shared
#: EHRSQL sample needs about 7e4 on ``eicu.sqlite``, so this leaves a ~700x margin, and it is about
#: one second of CPU on a current machine. Being a step count, the cut-off is deterministic.
DEFAULT_MAX_STEPS = 50_000_000
#: Wall-clock backstop (seconds) for a query, whatever the step count (e.g. on a very slow host).
DEFAULT_TIMEOUT_S = 10.0
#: Rows one query may return before it is aborted, so a cross join cannot exhaust memory. The
#: largest table of the toy eICU DB has 4,949 rows; HELM itself has no such limit.
DEFAULT_MAX_ROWS = 200_000
#: Bytes one value may hold (SQLite's ``SQLITE_LIMIT_LENGTH``): a string or blob built larger fails
#: with "string or blob too big" before it is allocated. The longest value of the toy eICU DB is
#: under 200 bytes.
MAX_VALUE_BYTES = 1_000_000
#: Bytes of SQL text accepted (``SQLITE_LIMIT_SQL_LENGTH``); a completion is at most 1,024 tokens.
MAX_SQL_BYTES = 100_000
#: Bytes a query's rows may add up to in Python (text and blobs counted by length, other values
#: as 8), checked row by row as they are fetched.
MAX_RESULT_BYTES = 64 << 20
#: SQLite's page cache per connection, in KiB (``PRAGMA cache_size``): sorts and temporary
#: B-trees that outgrow it spill to temporary files instead of memory.
PAGE_CACHE_KIB = 8192
#: Queries executed at once per process: each may use its page cache and a value up to
#: ``MAX_VALUE_BYTES``, and the scorers run on up to 32 threads.
MAX_CONCURRENT_QUERIES = 4
_running = threading.BoundedSemaphore(MAX_CONCURRENT_QUERIES)
#: Instructions between two progress-handler calls.
_PROGRESS_INTERVAL = 10_000
#: HELM's error text when no SQL is left after cleaning.
NO_QUERY_ERROR = "No query generated"

_SQL_BLOCK = re.compile(r"<\s*sql\s*>(.*?)<\/?\s*sql\s*>", re.DOTALL | re.IGNORECASE)
_SQL_LINE = re.compile(r"^sql\n", re.MULTILINE)


def extract_sql(output: str) -> str:
    """The SQL HELM executes for a completion.

    Steps: strip; if a ``<sql>...</sql>`` block exists (case-insensitive, the closing slash is
    optional) keep its stripped content; delete every backtick; strip; delete ``"sql\\n"`` at the
    start of any line. Quirks kept: ``"SQL\\n"`` (upper case) is not removed, and ``"```sql```"``
    leaves the bare word ``sql`` (no newline follows it after stripping), which then fails to run.
    """
    text = output.strip()
    block = _SQL_BLOCK.search(text)
    sql = block.group(1).strip() if block else text
    sql = sql.replace("`", "").strip()
    return _SQL_LINE.sub("", sql)


def _readonly_uri(db_path: str | os.PathLike[str]) -> str:
    return Path(db_path).resolve().as_uri() + "?mode=ro"


# What a query may do: read tables and call functions (``randomblob`` included: its size is
# capped by MAX_VALUE_BYTES). Everything else (ATTACH, PRAGMA, CREATE TEMP, INSERT into a temporary
# table, BEGIN) is refused with "not authorized".
_ALLOWED = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
)


def _read_only(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)


def is_select(sql: str) -> bool:
    """Does ``sql`` start (after comments) with ``SELECT`` or ``WITH``?"""
    rest = _LEADING_COMMENTS.sub("", sql, count=1)
    return re.match(r"(?i)(select|with)\b", rest) is not None


def _size(row: tuple) -> int:
    return sum(len(value) if isinstance(value, (str, bytes)) else 8 for value in row)


def execute(
    db_path: str | os.PathLike[str],
    sql: str,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> tuple[list[tuple], str | None]:
    """Run ``sql`` on a read-only connection; return ``(rows, error)``, rows ``[]`` on error.

    Never raises for a bad query or database: the error text is returned instead (HELM records
    ``str(exception)`` too). Empty SQL returns HELM's ``"No query generated"``. A query is aborted,
    with an error starting ``"query budget exceeded"``, after ``max_steps`` SQLite VM instructions
    (checked every 10,000 via a progress handler), after ``timeout_s`` seconds, or once it has
    produced more than ``max_rows`` rows or ``MAX_RESULT_BYTES`` of them; a value over
    ``MAX_VALUE_BYTES`` fails as "string or blob too big". Only reading statements run. Executing
    several statements at once is an error (``sqlite3`` refuses it), as in HELM.
    """
    if not sql.strip():
        return [], NO_QUERY_ERROR
    deadline = time.monotonic() + timeout_s
    steps = 0
    exceeded: str | None = None

    def progress() -> int:
        nonlocal steps, exceeded
        steps += _PROGRESS_INTERVAL
        if steps > max_steps:
            exceeded = f"more than {max_steps} SQLite VM steps"
        elif time.monotonic() > deadline:
            exceeded = f"more than {timeout_s} s"
        return 1 if exceeded else 0

    with _running:
        try:
            conn = sqlite3.connect(_readonly_uri(db_path), uri=True)
        except (sqlite3.Error, ValueError, OSError) as exc:
            return [], str(exc)
        try:
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
            conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            conn.execute("PRAGMA temp_store = FILE")
            conn.set_authorizer(_read_only)
            conn.set_progress_handler(progress, _PROGRESS_INTERVAL)
            cursor = conn.execute(sql)
            rows: list[tuple] = []
            size = 0
            for row in cursor:
                rows.append(row)
                size += _size(row)
                if len(rows) > max_rows:
                    return [], f"query budget exceeded: more than {max_rows} rows"
                if size > MAX_RESULT_BYTES:
                    return [], f"query budget exceeded: more than {MAX_RESULT_BYTES >> 20} MB of rows"
            return rows, None
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError, MemoryError) as exc:
            if exceeded:
                return [], f"query budget exceeded: {exceeded}"
            return [], str(exc) or type(exc).__name__
        finally:
            conn.close()


def _fallback_to_values(
    db_path: str | os.PathLike[str], gold_sql: str, values: Mapping[str, Any] | None, **budget: Any
) -> list:
    """Spec step 2, reached when the first gold execution gave no rows."""
    slot_values = list((values or {}).values())
    if not slot_values:
        return []  # HELM ends with [] here too (its cast of an empty list is empty)
    rows, error = execute(db_path, gold_sql, **budget)
    if error is None and rows:
        # HELM casts each value to the type of the matching column of the first row. Unreachable
        # in practice (the same query gave no rows a moment ago); a failing cast, which would crash
        # HELM, keeps the values as they are.
        first = rows[0]
        try:
            return [type(first[i])(slot_values[i]) for i in range(len(slot_values))]
        except (IndexError, TypeError, ValueError):
            return slot_values
    return slot_values


def gold_result(
    db_path: str | os.PathLike[str], gold_sql: str, values: Mapping[str, Any] | None, **budget: Any
) -> list:
    """The gold result HELM compares against: rows of the gold query, else the slot values.

    ``gold_sql`` is stripped and executed; non-empty rows are returned as a list of tuples. If it
    returns nothing or fails, the result is ``list(values.values())`` -- the question's template
    slot values, not an answer -- re-executing the query first and casting the values to its
    first row's column types if (against all odds) it now returns a row. ``values`` of None (the
    JSON of unanswerable items) behaves like ``{}`` and yields ``[]``. ``budget`` is passed to
    :func:`execute`.
    """
    sql = gold_sql.strip()
    rows, _ = execute(db_path, sql, **budget)
    if rows:
        return rows
    return _fallback_to_values(db_path, sql, values, **budget)


def _same_rows(pred_rows: list, gold: list) -> bool:
    try:
        return set(pred_rows) == set(gold)
    except TypeError:  # unhashable slot values (not in the data; HELM would crash)
        return False


def ehr_sql(
    output: str,
    gold_sql: str,
    gold_values: Mapping[str, Any] | None,
    is_impossible: bool,
    db_path: str | os.PathLike[str],
    **budget: Any,
) -> dict[str, float]:
    """Score one EHRSQL completion; returns the four HELM metrics plus the corrected accuracy.

    * ``ehr_sql_execution_accuracy``: gold result and prediction rows both non-empty -> 1 iff equal
      as sets; both empty and the raw stripped output empty -> 1 (abstention); else 0.
    * ``ehr_sql_query_validity``: 1 iff the output is non-empty and its SQL ran without error.
    * ``ehr_sql_precision_answerable`` / ``ehr_sql_recall_answerable``: ``correct_answerable`` (=
      answerable and output non-empty) if the output is non-empty / the item is answerable, else 0;
      answerable means ``not is_impossible`` and a non-empty gold query text.
    * ``ehr_sql_execution_accuracy_corrected`` (not HELM): answerable items are compared with the
      gold query's real rows, even when empty, so a ``SELECT`` (or ``WITH``) that runs without
      error and returns the same (possibly empty) row set scores 1; any other statement scores 0; abstaining on an answerable item, or any item
      whose gold query fails to run, scores 0. Unanswerable items score as in HELM (1 iff no output).

    ``budget`` (``max_steps``, ``timeout_s``, ``max_rows``) is passed to :func:`execute`.
    """
    prediction = output.strip()
    gold_text = gold_sql.strip()

    gold_rows, gold_error = execute(db_path, gold_text, **budget)
    gold = gold_rows if gold_rows else _fallback_to_values(db_path, gold_text, gold_values, **budget)

    sql = extract_sql(output)
    pred_rows, pred_error = execute(db_path, sql, **budget)

    is_answerable = (not is_impossible) and bool(gold_text)
    predicted_answerable = bool(prediction)
    correct_answerable = float(is_answerable and predicted_answerable)

    accuracy = 0.0
    if gold_text:
        if gold and pred_rows:
            accuracy = float(_same_rows(pred_rows, gold))
        elif not gold and not pred_rows and not prediction:
            accuracy = 1.0

    if not is_answerable:
        corrected = float(not prediction)
    elif gold_error is not None or pred_error is not None or not is_select(sql):
        corrected = 0.0
    else:
        corrected = float(_same_rows(pred_rows, gold_rows))

    return {
        "ehr_sql_execution_accuracy": accuracy,
        "ehr_sql_query_validity": float(bool(prediction) and pred_error is None),
        "ehr_sql_precision_answerable": correct_answerable if predicted_answerable else 0.0,
        "ehr_sql_recall_answerable": correct_answerable if is_answerable else 0.0,
        "ehr_sql_execution_accuracy_corrected": corrected,
    }
