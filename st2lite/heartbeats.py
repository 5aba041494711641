"""Heartbeats of long-running processes (rules engines), for ``/api/v1/health``.

Each process writes its name into a sorted set scored by the time of its last
beat (epoch ms, Redis's clock). A member is alive while its last beat is at
most :data:`ALIVE_FOR` seconds old; a stopped process removes itself, a dead
one stays listed (not alive) until :data:`FORGET_AFTER` and is then dropped by
the next beat of any process of its kind. One beat is one pipelined round trip.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from st2lite import keys
from st2lite.redisdb import Redis

__all__ = ["ALIVE_FOR", "BEAT_EVERY", "FORGET_AFTER", "Heartbeat", "ProcessBeat", "redis_now_ms", "to_beats"]

#: Seconds between two beats of one process.
BEAT_EVERY = 5.0
#: A process whose last beat is older than this many seconds is reported not alive.
ALIVE_FOR = 3 * BEAT_EVERY
#: Seconds after which a silent process is dropped from the set.
FORGET_AFTER = 3600.0


class ProcessBeat(BaseModel):
    """One process as health reports it."""

    model_config = ConfigDict(frozen=True)

    name: str
    last_heartbeat: str
    alive: bool


def redis_now_ms(client: Redis) -> int:
    """Redis's clock in epoch ms (one clock for every host)."""
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def iso(epoch_ms: float) -> str:
    """Epoch ms as ISO 8601 UTC (the format of every st2lite timestamp)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="microseconds")


def to_beats(entries: list[tuple[str, float]], now_ms: int, *, alive_for: float = ALIVE_FOR) -> list[ProcessBeat]:
    """The members of a heartbeat set (name, last beat ms) as health entries, by name."""
    return [
        ProcessBeat(name=str(name), last_heartbeat=iso(score), alive=now_ms - score <= alive_for * 1000)
        for name, score in sorted(entries)
    ]


class Heartbeat:
    """The heartbeat of one process of ``kind``; call :meth:`maybe_beat` from its loop."""

    def __init__(self, client: Redis, kind: str, name: str, *, every: float = BEAT_EVERY) -> None:
        self._client = client
        self._key = keys.heartbeats(kind)
        self.name = name
        self._every = every
        self._next = 0.0

    def maybe_beat(self) -> None:
        """Beat if the last beat is :data:`BEAT_EVERY` old (a clock read otherwise: cheap in any loop)."""
        if time.monotonic() >= self._next:
            self.beat()

    def beat(self) -> None:
        now_ms = redis_now_ms(self._client)  # Redis's clock: the reader compares with it
        with self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(self._key, {self.name: now_ms})
            pipe.zremrangebyscore(self._key, "-inf", now_ms - int(FORGET_AFTER * 1000))
            pipe.execute()
        self._next = time.monotonic() + self._every

    def leave(self) -> None:
        """A clean stop: no longer listed."""
        self._client.zrem(self._key, self.name)
