"""Reading the files a data owner holds: gated exports (PhysioNet, Redivis, n2c2) and hospital data.

These files come straight from their owners, in the owners' formats, so every problem must say
where it is: a missing file is :class:`DataUnavailable` (the item is skipped with how to get it), a
file that is there but malformed is :class:`DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import gzip
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import IO

from pytest_medhelm.data.sources import DataError, DataUnavailable, Record

# Clinical notes are long: a single CSV cell can exceed the csv module's default 128 KB limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def find_file(folder: Path, name: str, how_to_get: str, *, suffix: str | None = None) -> Path:
    """``folder/name``; failing that, the folder's only ``*suffix`` file (an export renamed by its
    owner); otherwise :class:`DataUnavailable` naming the file and how to get it."""
    path = folder / name
    if path.is_file():
        return path
    if suffix is not None:
        others = sorted(p for p in folder.glob(f"*{suffix}") if p.is_file())
        if len(others) == 1:
            return others[0]
    raise DataUnavailable(f"{folder} has no {name}. {how_to_get}")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # -sig: spreadsheet exports add a BOM


def read_csv(path: Path, columns: Iterable[str], *, delimiter: str = ",") -> Iterator[tuple[int, Record]]:
    """(line, row) for each row of an owner's CSV or TSV (gzipped if ``.gz``), cells as strings.

    ``line`` is the file line the row starts on (quoted cells may span lines). A column missing
    from the header (line 1) or a row with fewer cells than the header is a :class:`DataError`.
    """
    wanted = list(columns)
    with _open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = reader.fieldnames or []
        for column in wanted:
            if column not in header:
                raise DataError(f"missing column (the header has {', '.join(map(repr, header)) or 'nothing'})",
                                file=path, line=1, field=column)
        line = reader.line_num + 1
        for row in reader:
            for column in wanted:
                if row.get(column) is None:
                    raise DataError("row has fewer cells than the header", file=path, line=line, field=column)
            yield line, row
            line = reader.line_num + 1


def import_pyarrow(what: str) -> ModuleType:
    """pyarrow, or :class:`DataUnavailable` saying how to install it (it reads parquet and feather)."""
    try:
        import pyarrow
        import pyarrow.compute  # noqa: F401  (submodules used by the callers)
        import pyarrow.feather  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise DataUnavailable(f"reading {what} needs pyarrow: pip install pyarrow") from None
    return pyarrow


# An offline stand-in for tiktoken's cl100k_base count, which HELM uses to cap EHRSHOT and MedAlign
# prompts: tiktoken would download its vocabulary at run time. cl100k splits digits into groups of up
# to three and punctuation into single tokens, and common words are one token; long words cost about
# one token per four letters. On code lists ("- SNOMED/1201005") and note text this lands close to
# the real count, but it is an estimate: prompts near the limit may be kept or dropped differently.
_PIECE = re.compile(r"[^\W\d_]+|\d{1,3}|\n|[^\w\s]|_")


def _cost(piece: str) -> int:
    return (len(piece) + 3) // 4 if piece[0].isalpha() else 1


def approx_tokens(text: str) -> int:
    """Approximate cl100k_base token count of ``text`` (see the note above)."""
    return sum(_cost(piece) for piece in _PIECE.findall(text))


def last_tokens(text: str, limit: int) -> str:
    """The end of ``text`` holding at most ``limit`` approximate tokens (HELM keeps the most recent part)."""
    if limit <= 0:
        return ""
    total = 0
    for match in reversed(list(_PIECE.finditer(text))):
        total += _cost(match.group())
        if total > limit:
            return text[match.end():]
    return text
