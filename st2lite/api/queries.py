"""Query-string values every list endpoint reads the same way (StackStorm's conventions)."""

from __future__ import annotations

from datetime import datetime

from st2lite.api.errors import ApiError

__all__ = ["MAX_PAGE", "page_size", "parse_time"]

#: Most items one list request returns.
MAX_PAGE = 1000


def parse_time(value: str | None, name: str) -> datetime | None:
    """``timestamp_gt``/``timestamp_lt``: an ISO 8601 time (``Z`` allowed), or None when not given."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an ISO 8601 time such as 2026-01-01T00:00:00Z, got {value!r}") from exc
    return parsed


def page_size(limit: int) -> int:
    """``limit``: a positive number (capped at :data:`MAX_PAGE`), or -1 for all (as many as :data:`MAX_PAGE`)."""
    if limit == 0 or limit < -1:
        raise ApiError(400, "limit must be a positive number, or -1 for all")
    return MAX_PAGE if limit == -1 else min(limit, MAX_PAGE)
