"""Waiting for an execution to end (``st2lite run``, ``execution re-run``), with a spinner on a terminal.

The wait polls ``GET /api/v1/executions/{id}`` every :data:`POLL_SECONDS`. When
standard error is a terminal (and the output is not ``--json``), a spinner there
shows the action, the live status (requested, scheduled, running ...) and the
elapsed time; it is erased when the wait ends, so nothing of it stays in the
scrollback or reaches a pipe.
"""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.text import Text

from st2lite.cli import FINAL, _call, err
from st2lite.config import Settings

__all__ = ["POLL_SECONDS", "progress_line", "wait_execution"]

#: Seconds between two polls of the execution.
POLL_SECONDS = 0.25

_STYLES = {"requested": "dim", "scheduled": "cyan", "running": "yellow"}


def progress_line(execution: dict[str, Any], elapsed: float) -> Text:
    """The spinner's text: ``core.local 6b15...: running (3.2s)``."""
    ref = (execution.get("action") or {}).get("ref", "")
    status = str(execution.get("status", ""))
    return (
        Text(f"{ref} {execution['id']}: ")
        + Text(status, style=_STYLES.get(status, "bold"))
        + Text(f" ({elapsed:.1f}s)", style="dim")
    )


def wait_execution(settings: Settings, execution: dict[str, Any], *, spinner: bool) -> dict[str, Any]:
    """Poll until ``execution``'s status is one of :data:`FINAL`; return it as it ended.

    Ctrl-C stops waiting (exit 130) and says how to follow the execution, which goes on.
    """
    started = time.monotonic()
    status = err.status(progress_line(execution, 0.0), spinner="dots") if spinner else None
    try:
        if status is not None:
            status.start()
        while execution["status"] not in FINAL:
            time.sleep(POLL_SECONDS)
            execution = _call(settings, "GET", f"/api/v1/executions/{execution['id']}").json()
            if status is not None:
                status.update(progress_line(execution, time.monotonic() - started))
    except KeyboardInterrupt:
        if status is not None:
            status.stop()
        err.print(f"stopped waiting; execution {execution['id']} goes on: st2lite execution get {execution['id']}")
        raise typer.Exit(130) from None
    finally:
        if status is not None:
            status.stop()
    return execution
