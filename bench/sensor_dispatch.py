"""``sensor_dispatch``: trigger instances/s a sensor publishes through ``SensorService.dispatch``.

One process, one thread, a private Redis: the pack ``bench_sensor`` registers the
trigger type ``bench_sensor.reading`` with a ``payload_schema`` (5 typed
properties, 4 required, an enum, no extra properties); a :class:`SensorService`
on a real :class:`TriggerDispatcher` (registry lookup, size limit, schema
validation on, publish with its audit event) dispatches ``DISPATCHES`` valid
readings one after the other, as a sensor's ``poll()`` does, after a warm-up.
Check: the trigger stream holds one entry per dispatch, none was rejected.

Baseline ``sensor_raw_xadd_per_s``: the same process appends the same bytes (the
encoded instances the dispatches published) with one plain XADD per round trip
on the same Redis: what Redis and the client library cost per event at least.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import PACKS_DIR, Context, Figure, cpu_seconds, lab, profile_call, register_packs
from st2lite import keys
from st2lite.audit import AuditLog
from st2lite.dispatch import TriggerDispatcher
from st2lite.sensors.service import SensorService

__all__ = ["run"]

DISPATCHES = 20_000
WARMUP = 500
TRIGGER = "bench_sensor.reading"


def _payload(seq: int) -> dict[str, Any]:
    return {"host": f"web-{seq % 16:02d}", "metric": "queue_depth", "value": seq * 0.5, "tags": ["a", "b"], "seq": seq}


def run(ctx: Context) -> list[Figure]:
    n = ctx.size(DISPATCHES, minimum=1_000)
    errors: list[str] = []
    with lab() as env:
        register_packs(env.client, PACKS_DIR / "bench_sensor")
        dispatcher = TriggerDispatcher(env.settings, env.client)
        audit = AuditLog(env.client, maxlen=env.settings.audit_stream_maxlen)
        service = SensorService(
            "bench_sensor.BenchSensor",
            "BenchSensor",
            dispatcher,
            audit=audit,
            on_error=lambda message, _exc: errors.append(message),
        )
        for seq in range(WARMUP):
            service.dispatch(TRIGGER, _payload(seq))
        before = int(env.client.xlen(keys.TRIGGER_STREAM))
        payloads = [_payload(seq) for seq in range(WARMUP, WARMUP + n)]

        def dispatch_all() -> None:
            for payload in payloads:
                service.dispatch(TRIGGER, payload, trace_tag="bench")

        if ctx.profile:
            profile_call("sensor_dispatch", dispatch_all)
            return []
        redis_pid = int(env.client.info("server")["process_id"])
        redis_cpu, cpu, started = cpu_seconds(redis_pid), time.process_time(), time.perf_counter()
        dispatch_all()
        seconds = time.perf_counter() - started
        cpu, redis_cpu = time.process_time() - cpu, cpu_seconds(redis_pid) - redis_cpu
        published = int(env.client.xlen(keys.TRIGGER_STREAM)) - before
        entries = env.client.xrevrange(keys.TRIGGER_STREAM, count=n)
        fields = [entry_fields for _eid, entry_fields in reversed(entries)]
        raw_redis_cpu, raw_cpu, started = cpu_seconds(redis_pid), time.process_time(), time.perf_counter()
        for entry_fields in fields:
            env.client.xadd("bench:raw", entry_fields)
        raw_seconds = time.perf_counter() - started
        raw_cpu, raw_redis_cpu = time.process_time() - raw_cpu, cpu_seconds(redis_pid) - raw_redis_cpu
    failures = []
    if published != n or errors:
        failures.append(f"{n} dispatches published {published} instances; rejected: {errors[:3]}")
    details = {
        "dispatches": n,
        "seconds": round(seconds, 3),
        "published": published,
        "us_per_dispatch": round(seconds * 1e6 / n, 1),
        # CPU moves less than wall time when other work shares the 2 CPUs.
        "cpu_us_per_dispatch": {"sensor process": round(cpu * 1e6 / n, 1), "redis": round(redis_cpu * 1e6 / n, 1)},
        "schema": "5 properties, 4 required, enum, additionalProperties false",
        "check_failures": failures,
    }
    raw_details = {
        "xadds": len(fields),
        "seconds": round(raw_seconds, 3),
        "us_per_xadd": round(raw_seconds * 1e6 / n, 1),
        "cpu_us_per_xadd": {"client": round(raw_cpu * 1e6 / n, 1), "redis": round(raw_redis_cpu * 1e6 / n, 1)},
    }
    return [
        Figure("sensor_dispatch_per_s", n / seconds, "instances/s", baseline="sensor_raw_xadd_per_s", details=details),
        Figure("sensor_raw_xadd_per_s", len(fields) / raw_seconds, "XADDs/s", details=raw_details),
    ]
