"""Reading the files a data owner holds: gated exports (PhysioNet, Redivis, n2c2) and hospital data.

These files come straight from their owners, in the owners' formats, so every problem must say
where it is: a missing file is :class:`DataUnavailable` (the item is skipped with how to get it), a
file that is there but malformed is :class:`DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import gzip
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import IO

from pytest_medhelm.data.sources import DataError, DataUnavailable, Record

# The cells pandas' readers (read_csv, read_excel) take for missing by default (their na_values):
# HELM reads owners' files with pandas, so these are the cells it sees as empty.
PANDAS_NA_VALUES = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)

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


def _open_text(path: Path, newline: str | None) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline=newline)
    return open(path, encoding="utf-8-sig", newline=newline)  # -sig: spreadsheet exports add a BOM


def read_csv(
    path: Path, columns: Iterable[str], *, delimiter: str = ",", universal_newlines: bool = False
) -> Iterator[tuple[int, Record]]:
    """(line, row) for each row of an owner's CSV or TSV (gzipped if ``.gz``), cells as strings.

    ``line`` is the file line the row starts on (quoted cells may span lines). A column missing
    from the header (line 1) or a row with fewer cells than the header is a :class:`DataError`.
    ``universal_newlines`` reads as HELM's scenarios that open the file without ``newline=""`` do:
    a "\r\n" or "\r" inside a quoted cell becomes "\n".
    """
    wanted = list(columns)
    with _open_text(path, None if universal_newlines else "") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = reader.fieldnames or []
        for column in wanted:
            if column not in header:
                raise DataError(
                    f"missing column (the header has {', '.join(map(repr, header)) or 'nothing'})",
                    file=path,
                    line=1,
                    field=column,
                )
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
