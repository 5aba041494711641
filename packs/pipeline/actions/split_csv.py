"""pipeline.split_csv: split the landed CSV into chunk files in a work folder of this run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_csv.errors import PipelineError
from pipeline_csv.folders import job_dir
from pipeline_csv.settings import Settings
from pipeline_csv.split import split_file

from st2common.runners.base_action import Action


class SplitCsv(Action):
    def run(self, path: str, run_id: str, rows_per_chunk: int | None = None) -> Any:
        try:
            settings = Settings.from_config(self.config)
            source = Path(path)
            if not source.is_file():
                raise PipelineError(f"{path} is not there any more (moved or deleted before it was processed)")
            folder = job_dir(settings.work_dir, source, run_id)
            result = split_file(
                source,
                folder,
                chunk_rows=rows_per_chunk or settings.chunk_rows,
                max_chunks=settings.max_chunks,
                numeric_columns=settings.numeric_columns,
            )
        except PipelineError as exc:
            return False, {"error": str(exc)}
        except OSError as exc:
            return False, {"error": f"cannot split {path}: {exc}"}
        return {"job_dir": str(folder), **result.to_json()}
