"""Prometheus metrics read from Redis at scrape time (``GET /metrics``).

Every API process answers from Redis, the one shared truth, so any replica
gives the same figures and nothing is lost when one restarts. A scrape costs
two pipelined round trips and never scans the keyspace:

- trigger instances received: ``entries-added`` of the trigger stream (``XINFO STREAM``, Redis 7);
- stream lag and pending entries per consumer group (``XINFO GROUPS``);
- executions stored by status: the status indexes (``ZCARD``);
- completions by action and status and the duration histogram: the counters ``transition.lua``
  keeps in :data:`st2lite.keys.METRICS_EXECUTIONS`;
- enforcements stored: their time index; queue depth: the RQ action queue and the schedulers' lag;
- sensor restarts: the status hashes of the sensors listed in :data:`st2lite.keys.SENSOR_STATUS_INDEX`.

:func:`read_snapshot` does the I/O; :class:`SnapshotCollector` turns a snapshot into metric families.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from pydantic import BaseModel, ConfigDict

from st2lite import keys
from st2lite.jobqueue import QUEUE_KEY
from st2lite.redisdb import Redis
from st2lite.statuses import ExecutionStatus

__all__ = ["DURATION_BUCKETS", "STREAM_GROUPS", "MetricsSnapshot", "SnapshotCollector", "read_snapshot", "registry_for"]

#: Upper bounds (seconds) of the execution duration histogram; ``transition.lua`` has the same list.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

#: The consumer groups whose lag and pending entries are reported: (stream key, group, label).
STREAM_GROUPS = (
    (keys.TRIGGER_STREAM, keys.TRIGGER_GROUP, "triggers"),
    (keys.REQUEST_STREAM, keys.SCHEDULER_GROUP, "requests"),
    (keys.CHAIN_EVENTS, keys.CONDUCTOR_GROUP, "chain-events"),
)


class GroupLag(BaseModel):
    model_config = ConfigDict(frozen=True)

    stream: str
    group: str
    lag: int
    pending: int


class MetricsSnapshot(BaseModel):
    """The figures of one scrape, as read from Redis."""

    model_config = ConfigDict(frozen=True)

    triggers_received: int
    executions_by_status: dict[str, int]
    completed: dict[tuple[str, str], int]
    #: Non-cumulative counts per bucket, one per :data:`DURATION_BUCKETS` bound plus +Inf.
    duration_buckets: tuple[int, ...]
    duration_sum: float
    enforcements: int
    action_queue: int
    groups: tuple[GroupLag, ...]
    sensor_restarts: dict[str, int]


def read_snapshot(client: Redis) -> MetricsSnapshot:
    """Read every figure in two pipelined round trips (connection errors propagate)."""
    statuses = list(ExecutionStatus)
    with client.pipeline(transaction=False) as pipe:
        pipe.xinfo_stream(keys.TRIGGER_STREAM)
        for stream, _group, _label in STREAM_GROUPS:
            pipe.xinfo_groups(stream)
        for status in statuses:
            pipe.zcard(keys.execution_index("status", status.value))
        pipe.hgetall(keys.METRICS_EXECUTIONS)
        pipe.zcard(keys.enforcement_index("all", "all"))
        pipe.llen(QUEUE_KEY)
        pipe.zrange(keys.SENSOR_STATUS_INDEX, 0, -1)
        replies: list[Any] = pipe.execute(raise_on_error=False)
    _raise_connection_errors(replies)
    stream_info, rest = replies[0], replies[1:]
    group_infos, rest = rest[: len(STREAM_GROUPS)], rest[len(STREAM_GROUPS) :]
    counts, rest = rest[: len(statuses)], rest[len(statuses) :]
    counters, enforcements, queue_len, sensors = rest
    restarts: dict[str, int] = {}
    if sensors:
        with client.pipeline(transaction=False) as pipe:
            for ref in sensors:
                pipe.hget(keys.sensor_status(ref), "restarts")
            restarts = {str(ref): int(value or 0) for ref, value in zip(sensors, pipe.execute(), strict=True)}
    completed, buckets, total = _execution_counters(counters)
    return MetricsSnapshot(
        # A missing stream (nothing sent yet) answers an error: nothing received.
        triggers_received=0 if isinstance(stream_info, Exception) else int(stream_info.get("entries-added", 0)),
        executions_by_status={s.value: int(n) for s, n in zip(statuses, counts, strict=True)},
        completed=completed,
        duration_buckets=buckets,
        duration_sum=total,
        enforcements=int(enforcements),
        action_queue=int(queue_len),
        groups=tuple(_groups(group_infos)),
        sensor_restarts=restarts,
    )


def _raise_connection_errors(replies: list[Any]) -> None:
    # Only a missing stream (a ResponseError) is expected; anything else is raised as it came.
    for reply in replies:
        if isinstance(reply, Exception) and "no such key" not in str(reply).lower():
            raise reply


def _groups(group_infos: list[Any]) -> Iterator[GroupLag]:
    for (_stream, group, label), info in zip(STREAM_GROUPS, group_infos, strict=True):
        if isinstance(info, Exception):
            continue
        for entry in info:
            if entry.get("name") == group:
                # lag is None when Redis cannot tell (entries deleted by MAXLEN past the group's position).
                lag = entry.get("lag")
                yield GroupLag(stream=label, group=group, lag=int(lag or 0), pending=int(entry.get("pending") or 0))


def _execution_counters(fields: Mapping[str, str]) -> tuple[dict[tuple[str, str], int], tuple[int, ...], float]:
    """Parse the ``transition.lua`` counters hash (see :data:`st2lite.keys.METRICS_EXECUTIONS`)."""
    completed: dict[tuple[str, str], int] = {}
    buckets = [0] * (len(DURATION_BUCKETS) + 1)
    total = 0.0
    for name, value in fields.items():
        if name.startswith("done|"):
            action, _, status = name[5:].rpartition("|")
            completed[(action, status)] = int(value)
        elif name == "b|inf":
            buckets[-1] = int(value)
        elif name.startswith("b|"):
            index = int(name[2:]) - 1  # Lua counts from 1
            if 0 <= index < len(DURATION_BUCKETS):
                buckets[index] = int(value)
        elif name == "sum":
            total = float(value)
    return completed, tuple(buckets), total


class SnapshotCollector(Collector):
    """The metric families of one :class:`MetricsSnapshot`."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self._snapshot
        yield CounterMetricFamily(
            "st2lite_triggers_received", "Trigger instances ever appended to the trigger stream.", s.triggers_received
        )
        by_status = GaugeMetricFamily(
            "st2lite_executions", "Executions stored (within the retention), by status.", labels=["status"]
        )
        for status, count in s.executions_by_status.items():
            by_status.add_metric([status], count)
        yield by_status
        completed = CounterMetricFamily(
            "st2lite_executions_completed",
            "Executions that reached a completed status, by action and status.",
            labels=["action", "status"],
        )
        for (action, status), count in sorted(s.completed.items()):
            completed.add_metric([action, status], count)
        yield completed
        cumulative, running = [], 0
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), s.duration_buckets, strict=True):
            running += count
            cumulative.append((_le(bound), float(running)))
        yield HistogramMetricFamily(
            "st2lite_execution_duration_seconds",
            "Run time (start to end) of the executions that completed after running.",
            buckets=cumulative,
            sum_value=s.duration_sum,
        )
        yield GaugeMetricFamily(
            "st2lite_enforcements", "Rule enforcements stored (within the retention).", s.enforcements
        )
        depth = GaugeMetricFamily(
            "st2lite_queue_depth",
            "Work waiting: jobs in the RQ action queue, execution requests not yet read by a scheduler.",
            labels=["queue"],
        )
        depth.add_metric(["actions"], s.action_queue)
        depth.add_metric(["requests"], next((g.lag for g in s.groups if g.stream == "requests"), 0))
        yield depth
        lag = GaugeMetricFamily(
            "st2lite_stream_lag",
            "Entries of a stream not yet delivered to its consumer group.",
            labels=["stream", "group"],
        )
        pending = GaugeMetricFamily(
            "st2lite_stream_pending",
            "Entries delivered to a consumer group and not yet acknowledged.",
            labels=["stream", "group"],
        )
        for group in s.groups:
            lag.add_metric([group.stream, group.group], group.lag)
            pending.add_metric([group.stream, group.group], group.pending)
        yield lag
        yield pending
        restarts = CounterMetricFamily(
            "st2lite_sensor_restarts", "Times a sensor's process was restarted by its container.", labels=["sensor"]
        )
        for ref, count in sorted(s.sensor_restarts.items()):
            restarts.add_metric([ref], count)
        yield restarts


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def registry_for(snapshot: MetricsSnapshot) -> CollectorRegistry:
    """A private registry holding only the st2lite metrics of ``snapshot`` (no process metrics of one replica)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return registry
