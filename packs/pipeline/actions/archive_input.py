"""pipeline.archive_input: the run succeeded; move the input to archive_dir and delete the run's work folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_csv.errors import PipelineError
from pipeline_csv.folders import move_unique, remove_job
from pipeline_csv.settings import Settings

from st2common.runners.base_action import Action


class ArchiveInput(Action):
    def run(self, path: str, job_dir: str) -> Any:
        try:
            settings = Settings.from_config(self.config)
            archived = move_unique(Path(path), Path(settings.archive_dir))
            remove_job(Path(job_dir), settings.work_dir)
        except PipelineError as exc:
            return False, {"error": str(exc)}
        except OSError as exc:
            return False, {"error": f"cannot archive {path}: {exc}"}
        return {"archived": str(archived)}
