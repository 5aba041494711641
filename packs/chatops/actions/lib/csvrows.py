"""Reading and checking a CSV of job rows. Pure: bytes in, a table or the problems out.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2. Blank lines
are skipped. Every value must be present (no empty cell), be one line (no line break, tab or other control
character) and the header must hold the configured columns once each.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CsvError", "CsvTable", "parse_csv"]

#: At most this many problems are listed in one error (the rest are counted).
MAX_PROBLEMS = 10


class CsvError(Exception):
    """The CSV cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class CsvTable:
    columns: list[str]
    rows: list[list[str]]


def parse_csv(
    content: bytes, *, name: str, required_columns: Sequence[str] = (), max_rows: int, max_bytes: int
) -> CsvTable:
    """The header and data rows of ``content``; :class:`CsvError` listing the problems otherwise."""
    if len(content) > max_bytes:
        raise CsvError(
            f"'{name}' is {len(content)} bytes, over the limit of {max_bytes} bytes (max_bytes in the chatops "
            "pack config); split it into smaller files"
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(
            f"'{name}' is not UTF-8 text (byte {exc.start}); export it as 'CSV UTF-8' and post it again"
        ) from None
    if "\x00" in text:
        raise CsvError(f"'{name}' holds NUL bytes, so it is not a CSV text file; post a .csv export")
    try:
        lines = [(n, row) for n, row in _numbered(text) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise CsvError(f"'{name}' is not valid CSV: {exc}") from None
    if not lines:
        raise CsvError(f"'{name}' is empty; it needs a header row and at least one data row")
    header_at, header = lines[0]
    columns = [cell.strip() for cell in header]
    _check_header(name, header_at, columns, required_columns)
    data = lines[1:]
    if not data:
        raise CsvError(f"'{name}' has a header but no data rows; add one row per job")
    if len(data) > max_rows:
        raise CsvError(
            f"'{name}' has {len(data)} data rows, over the limit of {max_rows} (max_rows in the chatops pack "
            "config); split it into smaller files"
        )
    problems = [problem for number, row in data for problem in _row_problems(number, row, columns)]
    if problems:
        raise CsvError(_listing(name, problems))
    return CsvTable(columns=columns, rows=[row for _n, row in data])


def _numbered(text: str) -> list[tuple[int, list[str]]]:
    """Each record with the row (line) it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    found = []
    start = 1
    for row in reader:
        found.append((start, row))
        start = reader.line_num + 1
    return found


def _check_header(name: str, at: int, columns: list[str], required: Sequence[str]) -> None:
    problems = []
    for index, column in enumerate(columns, start=1):
        if not column:
            problems.append(f"row {at} (header), column {index} has no name")
    seen: set[str] = set()
    for column in columns:
        if column and column in seen:
            problems.append(f"row {at} (header): column '{column}' appears twice")
        seen.add(column)
    missing = [c for c in required if c not in seen]
    if missing:
        problems.append(
            f"row {at} (header) lacks the required column(s) {', '.join(missing)}; "
            f"it has: {', '.join(c for c in columns if c) or '(none)'}"
        )
    if problems:
        raise CsvError(_listing(name, problems))


def _row_problems(number: int, row: list[str], columns: list[str]) -> list[str]:
    if len(row) != len(columns):
        return [f"row {number} has {len(row)} values, the header has {len(columns)} columns"]
    problems = []
    for column, value in zip(columns, row, strict=True):
        if not value.strip():
            problems.append(f"row {number}, column '{column}' is empty")
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            problems.append(f"row {number}, column '{column}' holds a line break, tab or other control character")
    return problems


def _listing(name: str, problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_PROBLEMS])
    more = len(problems) - MAX_PROBLEMS
    tail = f"; and {more} more problem(s)" if more > 0 else ""
    return f"'{name}' has {len(problems)} problem(s): {shown}{tail}. Fix the file and post it again"
