"""A user benchmark's data file (spec 7.9): its CSV or JSONL rows read as filled-in records, checked
line by line, and each record as an :class:`Instance`.

Cells are read as text, and a data error names the file, the line and the column (see
:mod:`pytest_medhelm.configurable`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_medhelm.benchmark import Instance
from pytest_medhelm.data.sources import DataError, Record, read_jsonl

# MedHELM's columns: the gold answer, and a JSON list of incorrect references.
MHELM_GOLD, MHELM_INCORRECT = "correct_answer", "incorrect_answers"


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: cell}); the header is row 1, as in a spreadsheet."""
    number = 0
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header: list[str] = []
            for number, row in enumerate(reader, start=1):
                if number == 1:
                    header = row
                    continue
                if not row:
                    continue  # a blank line
                if len(row) != len(header):
                    missing = header[len(row)] if len(row) < len(header) else None
                    raise DataError(
                        f"{len(row)} values for the header's {len(header)} columns",
                        file=path,
                        line=number,
                        field=missing,
                    )
                yield number, dict(zip(header, row))
    except csv.Error as exc:
        raise DataError(f"malformed CSV ({exc})", file=path, line=number + 1) from None
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text (save it as 'CSV UTF-8')", file=path, line=number + 1) from None


def _rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    return _csv_rows(path) if path.suffix.lower() == ".csv" else read_jsonl(path)


def data_columns(path: Path) -> list[str]:
    """The CSV header, or the keys of the first JSONL record."""
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
        if not header:
            raise DataError("no header row", file=path, line=1)
        duplicates = sorted({c for c in header if header.count(c) > 1})
        if duplicates:
            raise DataError("column name used twice", file=path, line=1, field=duplicates[0])
        return header
    first = next(read_jsonl(path), None)
    if first is None:
        raise DataError("no records", file=path)
    return list(first[1])


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _incorrect(value: Any, path: Path, line: int) -> tuple[str, ...]:
    if isinstance(value, str):
        if not value.strip():
            return ()
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, list):
        raise DataError('expected a JSON list of answers, e.g. ["No"]', file=path, line=line, field=MHELM_INCORRECT)
    return tuple(_text(answer) for answer in value)


@dataclass(frozen=True)
class RowReader:
    """``Source.read_local``: the data file's rows as filled-in records, checked line by line."""

    path: Path
    template: str
    fields: tuple[str, ...]
    reference: str | None
    id_column: str | None
    needs_gold: bool

    def __call__(self, folder: Path) -> Iterator[Record]:
        for line, row in _rows(self.path):

            def cell(column: str) -> str:
                if column not in row:
                    raise DataError("missing column", file=self.path, line=line, field=column)
                return _text(row[column])

            reference = cell(self.reference) if self.reference else ""
            if self.needs_gold and not reference.strip():
                raise DataError("empty gold answer", file=self.path, line=line, field=self.reference)
            instance_id = cell(self.id_column).strip() if self.id_column else str(line)
            if not instance_id:
                raise DataError("empty id", file=self.path, line=line, field=self.id_column)
            incorrect = _incorrect(row[MHELM_INCORRECT], self.path, line) if MHELM_INCORRECT in row else ()
            yield {
                "id": instance_id,
                "input": self.template.format_map({f: cell(f) for f in self.fields}),
                "reference": reference,
                "incorrect_answers": list(incorrect),
                "line": line,
            }


def to_instance(record: Mapping[str, Any]) -> Instance:
    return Instance(
        id=record["id"],
        input=record["input"],
        reference=record["reference"],
        extra={"line": record["line"], MHELM_INCORRECT: tuple(record["incorrect_answers"])},
    )
