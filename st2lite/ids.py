"""Identifiers: 24 hex digits, time-ordered, shaped like StackStorm's (MongoDB ObjectId) ids.

The first 8 digits are the creation second, so ids sort by time; the rest are
random per process plus a counter, so they are unique across processes and hosts.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

__all__ = ["new_id"]

_lock = threading.Lock()
_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_pid = os.getpid()
_random = os.urandom(5).hex()


def new_id() -> str:
    """Return a new unique id of 24 lower-case hex digits."""
    global _pid, _random
    with _lock:
        if os.getpid() != _pid:  # forked: never share the random part with the parent
            _pid = os.getpid()
            _random = os.urandom(5).hex()
        count = next(_counter) & 0xFFFFFF
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_random}{count:06x}"
