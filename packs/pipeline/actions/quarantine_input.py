"""pipeline.quarantine_input: a step failed; move the input to failed_dir with the reason next to it, and fail.

The input is never deleted: it is in ``failed_dir`` (``<name>.error.txt`` says why), or still in the inbox
when even the move failed. The run's work folder is deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_csv.errors import PipelineError
from pipeline_csv.folders import job_dir as job_dir_for
from pipeline_csv.folders import move_unique, remove_job
from pipeline_csv.reasons import failure_reason
from pipeline_csv.settings import Settings

from st2common.runners.base_action import Action


class QuarantineInput(Action):
    def run(self, path: str, run_id: str, results: dict[str, Any] | None = None) -> Any:
        reason = failure_reason(results or {})
        source = Path(path)
        outcome: dict[str, Any] = {"error": f"{source.name} was not processed: {reason}", "reason": reason}
        try:
            settings = Settings.from_config(self.config)
            remove_job(job_dir_for(settings.work_dir, source, run_id), settings.work_dir)
            if source.is_file():
                moved = move_unique(source, Path(settings.failed_dir))
                moved.with_name(f"{moved.name}.error.txt").write_text(reason + "\n")
                outcome["error"] += f"; the file is in {moved}"
                outcome["failed_path"] = str(moved)
        except (PipelineError, OSError) as exc:
            outcome["error"] += f"; it could not be moved to failed_dir and stays at {path}: {exc}"
        return False, outcome
