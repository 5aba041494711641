"""Moving the input out of the inbox, and the work folder of one run."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .errors import PipelineError

__all__ = ["job_dir", "move_unique", "remove_job"]


def job_dir(work_dir: str, source: Path, run_id: str) -> Path:
    """The work folder of one run: ``<work_dir>/<file stem>.<run id>`` (the run id is the chain's execution id)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id) or "run"
    return Path(work_dir) / f"{source.stem}.{safe}"


def move_unique(source: Path, folder: Path) -> Path:
    """Move ``source`` into ``folder`` under its own name, or ``<stem>.<n><suffix>`` when that name is taken."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    n = 1
    while target.exists():
        target = folder / f"{source.stem}.{n}{source.suffix}"
        n += 1
    try:
        os.rename(source, target)  # same file system: atomic
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another file system, copy then delete
            raise PipelineError(
                f"cannot move {source} to {folder}: {exc.strerror}; check the folder's permissions"
            ) from exc
        shutil.move(str(source), str(target))
    return target


def remove_job(path: Path, work_dir: str) -> bool:
    """Delete a run's work folder (only one under ``work_dir``); True when there was one."""
    root = Path(work_dir).resolve()
    resolved = path.resolve()
    if root not in resolved.parents:
        raise PipelineError(f"refusing to delete {path}: not inside work_dir {root}")
    if not resolved.exists():
        return False
    shutil.rmtree(resolved)
    return True
