"""Process one chunk file: validate and aggregate its numeric columns, or run a configured command on it.

Both read the chunk as a stream and write their result next to it (``<chunk>.result.json`` or
``<chunk>.result.csv``); the result's path, never its content, goes back to the chain.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PipelineError

__all__ = [
    "ColumnStats",
    "aggregate_chunk",
    "result_path",
    "run_command",
]

PROCESSORS = ("aggregate", "command")
#: Bytes of a failing command's stderr kept in the error message.
STDERR_TAIL = 2000


@dataclass
class ColumnStats:
    """count, sum, min and max of the numbers of one column; ``empty`` counts blank cells."""

    count: int = 0
    empty: int = 0
    total: float = 0.0
    #: What the float additions to ``total`` lost (Neumaier's compensated sum): millions of cents add up exactly.
    lost: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def _accumulate(self, value: float) -> None:
        total = self.total + value
        if abs(self.total) >= abs(value):
            self.lost += (self.total - total) + value
        else:
            self.lost += (value - total) + self.total
        self.total = total

    def add(self, value: float) -> None:
        self.count += 1
        self._accumulate(value)
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value

    def merge(self, other: ColumnStats) -> None:
        self.count += other.count
        self.empty += other.empty
        self._accumulate(other.total)
        self._accumulate(other.lost)
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)

    def to_json(self) -> dict[str, Any]:
        total = self.total + self.lost
        return {
            "count": self.count,
            "empty": self.empty,
            "sum": total,
            "min": self.low if self.count else None,
            "max": self.high if self.count else None,
            "mean": total / self.count if self.count else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnStats:
        count = int(data["count"])
        return cls(
            count=count,
            empty=int(data["empty"]),
            total=float(data["sum"]),
            low=float(data["min"]) if count else math.inf,
            high=float(data["max"]) if count else -math.inf,
        )


def result_path(chunk: str, processor: str) -> Path:
    """Where the result of ``chunk`` is written by ``processor``."""
    return Path(f"{chunk}.result.{'json' if processor == 'aggregate' else 'csv'}")


def aggregate_chunk(chunk: Path, first_line: int, numeric_columns: list[str], source: str) -> dict[str, Any]:
    """Check every record of ``chunk`` and sum its ``numeric_columns``; write and return the result.

    A record with another number of fields than the header, or a numeric column holding something that is not
    a number, fails the chunk with the input's line number (``first_line`` is the chunk's first record's).
    """
    stats = {name: ColumnStats() for name in numeric_columns}
    rows = 0
    with chunk.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        width = len(header)
        indexes = [(header.index(name), stats[name], name) for name in numeric_columns]
        while True:
            before = reader.line_num
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise PipelineError(f"{source} line {first_line + before - 1}: {exc}") from exc
            line = first_line + before - 1
            if not row:
                continue  # a blank line is not a record
            if len(row) != width:
                raise PipelineError(
                    f"{source} line {line}: {len(row)} fields where the header has {width}; "
                    "check the delimiters and quoting of this line"
                )
            for index, column, name in indexes:
                text = row[index].strip()
                if not text:
                    column.empty += 1
                    continue
                try:
                    value = float(text)
                except ValueError:
                    raise PipelineError(
                        f"{source} line {line}: column '{name}' holds {text[:40]!r}, not a number"
                    ) from None
                if not math.isfinite(value):
                    raise PipelineError(
                        f"{source} line {line}: column '{name}' holds {text[:40]!r}, not a finite number"
                    )
                column.add(value)
            rows += 1
    result = {"rows": rows, "columns": {name: column.to_json() for name, column in stats.items()}}
    target = result_path(str(chunk), "aggregate")
    target.write_text(json.dumps(result))
    return {"rows": rows, "result_path": str(target)}


def run_command(
    chunk: Path, first_line: int, rows: int, command: list[str], source: str, timeout: float
) -> dict[str, Any]:
    """Run ``command`` with the chunk on its stdin and its stdout written to the result file."""
    if not command:
        raise PipelineError(
            "processor 'command' needs a command (a list: program and arguments) in configs/pipeline.yaml"
        )
    target = result_path(str(chunk), "command")
    env = {
        **os.environ,
        "PIPELINE_CHUNK": str(chunk),
        "PIPELINE_FIRST_LINE": str(first_line),
        "PIPELINE_SOURCE": source,
    }
    errors = Path(f"{chunk}.stderr")
    with chunk.open("rb") as stdin, target.open("wb") as stdout, errors.open("w+b") as stderr:
        try:
            done = subprocess.run(command, stdin=stdin, stdout=stdout, stderr=stderr, env=env, timeout=timeout)
        except FileNotFoundError as exc:
            raise PipelineError(
                f"command {command[0]!r} not found: {exc}; fix command in configs/pipeline.yaml"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise PipelineError(f"command {command} did not finish within {timeout:g}s on {chunk.name}") from exc
        stderr.seek(max(0, stderr.tell() - STDERR_TAIL))
        tail = stderr.read().decode("utf-8", "replace").strip()
    if done.returncode != 0:
        last = first_line + rows - 1
        raise PipelineError(
            f"{source} lines {first_line}-{last}: command {command} exited with code {done.returncode}: {tail}"
        )
    return {"rows": rows, "result_path": str(target)}
