"""pipeline.process_chunk: process one chunk file with the configured processor; its result goes next to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_csv.errors import PipelineError
from pipeline_csv.process import aggregate_chunk, run_command
from pipeline_csv.settings import Settings

from st2common.runners.base_action import Action


class ProcessChunk(Action):
    def run(self, chunk: dict[str, Any], source: str, numeric_columns: list[str] | None = None) -> Any:
        try:
            settings = Settings.from_config(self.config)
            path, first_line, rows = Path(chunk["path"]), int(chunk["first_line"]), int(chunk["rows"])
            name = Path(source).name
            if settings.processor == "aggregate":
                done = aggregate_chunk(path, first_line, list(numeric_columns or []), name)
            else:
                done = run_command(path, first_line, rows, settings.command, name, settings.command_timeout)
        except PipelineError as exc:
            return False, {"error": str(exc), "chunk": chunk.get("path")}
        except (OSError, KeyError, ValueError) as exc:
            return False, {"error": f"cannot process chunk {chunk!r}: {exc}", "chunk": chunk.get("path")}
        return {"chunk": str(path), "first_line": first_line, **done}
