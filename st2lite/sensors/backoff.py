"""Pure: how long a sensor waits before trying again after consecutive failures."""

from __future__ import annotations

__all__ = ["backoff_delay"]


def backoff_delay(interval: float, failures: int, cap: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures: ``interval`` doubled per failure, at most ``cap``.

    No failure means the normal ``interval``; the cap never shortens the normal interval.
    """
    if failures <= 0:
        return interval
    return min(interval * 2.0 ** min(failures, 60), max(cap, interval))
