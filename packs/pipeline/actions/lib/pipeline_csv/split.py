"""Split a CSV file into chunk files of N records each, the header repeated in every chunk, streaming.

The file is read record by record in binary mode, never whole: a record is one line, or several when a
quoted field holds line breaks (RFC 4180: a line with an odd number of ``"`` opens or closes a quoted
field, since an escaped quote is doubled). Bytes are copied as they are, so the chunks hold exactly the
input's records. At any time the process holds one record and the write buffers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import PipelineError

__all__ = ["Chunk", "SplitResult", "chunk_rows_for", "numeric_columns_for", "records", "split_file"]

#: Bytes read before the rows-per-chunk estimate is made (see :func:`chunk_rows_for`).
SAMPLE_BYTES = 1 << 20


@dataclass(frozen=True)
class Chunk:
    """One chunk file: where it is, the input line of its first record and how many records it holds."""

    path: str
    first_line: int
    rows: int


@dataclass
class SplitResult:
    source: str
    header: list[str]
    numeric_columns: list[str]
    rows: int
    chunk_rows: int
    chunks: list[Chunk] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def records(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(first line number, record bytes)`` for each CSV record of ``stream``, a record ending with its newline.

    Raises :class:`PipelineError` when a quoted field is still open at the end of the file.
    """
    pending: list[bytes] = []
    start = 0
    open_quote = False
    for line_no, line in enumerate(stream, start=1):
        if not pending:
            start = line_no
        pending.append(line)
        if line.count(b'"') % 2:  # a record is complete when its quotes balance
            open_quote = not open_quote
        if not open_quote:
            record = pending[0] if len(pending) == 1 else b"".join(pending)
            pending.clear()
            if not record.endswith(b"\n"):
                record += b"\n"
            yield start, record
    if pending:
        raise PipelineError(
            f"line {start}: a quoted field opened on this line is not closed before the end of the file"
        )


def chunk_rows_for(file_size: int, sample_rows: int, sample_bytes: int, chunk_rows: int, max_chunks: int) -> int:
    """Records per chunk: ``chunk_rows``, raised so an estimated ``file_size`` gives at most ``max_chunks`` chunks.

    The estimate is ``file_size`` over the average record size of the sample. Each chunk becomes one
    ``with-items`` item (one execution, one process), so a 2 GB file of 50-byte rows at 10,000 rows a
    chunk (4,000 items) is split into ``max_chunks`` larger chunks instead.
    """
    if chunk_rows < 1 or max_chunks < 1:
        raise PipelineError(f"chunk_rows ({chunk_rows}) and max_chunks ({max_chunks}) must be at least 1")
    if sample_rows <= 0 or sample_bytes <= 0:
        return chunk_rows
    estimated_rows = file_size * sample_rows / sample_bytes
    return max(chunk_rows, math.ceil(estimated_rows / max_chunks))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() != ""


def numeric_columns_for(header: list[str], first_row: list[str] | None, configured: list[str]) -> list[str]:
    """The columns to validate and aggregate: ``configured`` (all must be in the header) or, when empty,
    those whose value in the first data row is a number."""
    if configured:
        missing = [name for name in configured if name not in header]
        if missing:
            raise PipelineError(
                f"numeric_columns {missing} are not in the header {header}; "
                "fix numeric_columns in configs/pipeline.yaml"
            )
        return list(configured)
    if first_row is None:
        return []
    return [name for name, value in zip(header, first_row, strict=False) if _is_number(value)]


def _decode_record(record: bytes, line: int) -> list[str]:
    try:
        text = record.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PipelineError(f"line {line}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return next(csv.reader([text]), [])


def split_file(
    path: Path, job_dir: Path, *, chunk_rows: int, max_chunks: int, numeric_columns: list[str]
) -> SplitResult:
    """Write ``path``'s records to ``job_dir/chunk-NNNNN.csv`` files, the header first in each."""
    size = path.stat().st_size
    job_dir.mkdir(parents=True, exist_ok=True)
    with path.open("rb", buffering=1 << 20) as stream:
        found = records(stream)
        first = next(found, None)
        if first is None:
            raise PipelineError(f"{path.name} is empty; a CSV file needs at least a header line")
        header_bytes = first[1]
        header = _decode_record(header_bytes, 1)
        if not any(name.strip() for name in header):
            raise PipelineError(f"line 1: the header of {path.name} is blank")
        # Read a sample to estimate the rows per chunk; it is written out as soon as the size is known.
        sample: list[tuple[int, bytes]] = []
        sample_bytes = 0
        for line, record in found:
            sample.append((line, record))
            sample_bytes += len(record)
            if sample_bytes >= SAMPLE_BYTES:
                break
        rows_per_chunk = chunk_rows_for(size, len(sample), sample_bytes, chunk_rows, max_chunks)
        first_row = _decode_record(sample[0][1], sample[0][0]) if sample else None
        columns = numeric_columns_for(header, first_row, numeric_columns)
        result = SplitResult(
            source=str(path), header=header, numeric_columns=columns, rows=0, chunk_rows=rows_per_chunk
        )
        writer = _ChunkWriter(job_dir, header_bytes, rows_per_chunk, result)
        for line, record in sample:
            writer.write(line, record)
        for line, record in found:
            writer.write(line, record)
        writer.close()
    return result


class _ChunkWriter:
    """Writes records to the current chunk file; opens the next one every ``rows_per_chunk`` records."""

    def __init__(self, job_dir: Path, header: bytes, rows_per_chunk: int, result: SplitResult) -> None:
        self._job_dir = job_dir
        self._header = header
        self._rows_per_chunk = rows_per_chunk
        self._result = result
        self._out: IO[bytes] | None = None
        self._path = ""
        self._rows = 0
        self._first_line = 0

    def write(self, line: int, record: bytes) -> None:
        if self._out is None:
            path = self._job_dir / f"chunk-{len(self._result.chunks):05d}.csv"
            self._path = str(path)
            self._out = path.open("wb", buffering=1 << 20)
            self._out.write(self._header)
            self._first_line = line
        self._out.write(record)
        self._rows += 1
        self._result.rows += 1
        if self._rows >= self._rows_per_chunk:
            self.close()

    def close(self) -> None:
        if self._out is None:
            return
        self._out.close()
        self._result.chunks.append(Chunk(path=self._path, first_line=self._first_line, rows=self._rows))
        self._out = None
        self._rows = 0
