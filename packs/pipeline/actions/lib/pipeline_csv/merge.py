"""Merge the chunks' results into one output, one chunk result at a time."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import IO, Any

from .errors import PipelineError
from .process import ColumnStats, result_path

__all__ = ["concat_results", "merge_aggregates", "write_atomically"]


def _results(chunks: list[dict[str, Any]], processor: str) -> list[Path]:
    paths = [result_path(str(chunk["path"]), processor) for chunk in chunks]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise PipelineError(
            f"{len(missing)} chunk result(s) missing ({', '.join(missing[:5])}); a chunk was not processed"
        )
    return paths


class write_atomically:
    """Write ``target`` through a temporary file next to it, renamed into place only when the block succeeds."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.partial = target.with_name(f".{target.name}.partial")
        self._out: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.partial.open("wb")
        return self._out

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        assert self._out is not None
        self._out.close()
        if kind is None:
            os.replace(self.partial, self.target)
        else:
            self.partial.unlink(missing_ok=True)


def merge_aggregates(
    chunks: list[dict[str, Any]], target: Path, *, source: str, numeric_columns: list[str]
) -> dict[str, Any]:
    """Add up the chunks' column statistics; write the summary (JSON) to ``target`` and return it."""
    totals = {name: ColumnStats() for name in numeric_columns}
    rows = 0
    for path in _results(chunks, "aggregate"):
        part = json.loads(path.read_text())
        rows += int(part["rows"])
        for name, stats in part["columns"].items():
            totals.setdefault(name, ColumnStats()).merge(ColumnStats.from_json(stats))
    summary = {
        "source": source,
        "rows": rows,
        "chunks": len(chunks),
        "columns": {name: stats.to_json() for name, stats in totals.items()},
    }
    with write_atomically(target) as out:
        out.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


def concat_results(chunks: list[dict[str, Any]], target: Path, *, has_header: bool) -> int:
    """Concatenate the chunks' command outputs into ``target`` (the first output's header kept once); bytes written."""
    with write_atomically(target) as out:
        for index, path in enumerate(_results(chunks, "command")):
            with path.open("rb") as part:
                if has_header and index > 0:
                    part.readline()
                shutil.copyfileobj(part, out, 1 << 20)
        written = out.tell()
    return written
