"""A harness for the sensor container tests: the ``sensortest`` fixture pack, containers, the trigger stream.

The pack (tests/fixtures/sensors/sensortest) holds one sensor per behaviour;
:func:`make_pack` copies it with only the sensors a test wants (and the rules
it writes), so each test registers exactly what it runs.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from conftest import REPO, wait_for

from st2lite import keys
from st2lite.audit import AuditEvent, AuditLog
from st2lite.config import Settings
from st2lite.redisdb import Redis, connect
from st2lite.registration import register_from_disk
from st2lite.sensors.container import BackgroundService, SensorContainer
from st2lite.sensors.status import SensorStatus, SensorStatusStore

__all__ = [
    "SENSORTEST",
    "audit_events",
    "fast",
    "instances",
    "make_pack",
    "register",
    "running_container",
    "status_of",
    "wait_for",
]

SENSORTEST = REPO / "tests" / "fixtures" / "sensors" / "sensortest"


def fast(settings: Settings, **more: Any) -> Settings:
    """``settings`` with short leases and restart pauses, so tests take seconds."""
    update: dict[str, Any] = {
        "sensor_lease_seconds": 1.0,
        "sensor_restart_backoff": 0.2,
        "sensor_restart_backoff_max": 5.0,
        "sensor_stop_timeout": 3.0,
        **more,
    }
    return settings.model_copy(update=update)


def make_pack(root: Path, sensors: Sequence[str], rules: dict[str, str] | None = None) -> Path:
    """A copy of the ``sensortest`` pack under ``root`` with only the metadata files ``sensors`` (stems)."""
    pack = root / "sensortest"
    if pack.exists():
        shutil.rmtree(pack)
    shutil.copytree(SENSORTEST, pack)
    for meta in (pack / "sensors").glob("*.yaml"):
        if meta.stem not in sensors:
            meta.unlink()
    if rules:
        (pack / "rules").mkdir()
        for name, text in rules.items():
            (pack / "rules" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return pack


def register(settings: Settings, client: Redis, pack: Path) -> int:
    report, version = register_from_disk(settings, client, [pack], actor="test")
    assert not report.problems, report.problems
    return version


@contextmanager
def running_container(
    settings: Settings, *, node: str = "test-node", background: Sequence[BackgroundService] = ()
) -> Iterator[SensorContainer]:
    """A sensor container running in a thread of this process until the block ends."""
    stop = threading.Event()
    container = SensorContainer(
        settings, connect(settings.redis_url), settings.redis_url, node=node, background=background
    )
    thread = threading.Thread(target=container.run, args=(stop,), name=f"container-{node}")
    thread.start()
    try:
        yield container
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the sensor container did not stop within 30s"


def instances(client: Redis, trigger: str | None = None) -> list[dict[str, Any]]:
    """The trigger instances on the trigger stream (of type ``trigger``), oldest first."""
    found = [orjson.loads(fields["t"]) for _id, fields in client.xrange(keys.TRIGGER_STREAM)]
    return [i for i in found if trigger is None or i["trigger"] == trigger]


def status_of(client: Redis, ref: str) -> SensorStatus | None:
    return SensorStatusStore(client).get(ref)


def audit_events(client: Redis, kind: str, **match: Any) -> list[AuditEvent]:
    """The audit events of ``kind`` whose fields (or ``data`` items) equal ``match``."""
    events = AuditLog(client, maxlen=10_000).read(count=100_000)
    out = []
    for event in events:
        if event.kind != kind:
            continue
        fields = {**event.data, **event.model_dump(exclude={"data"})}
        if all(fields.get(k) == v for k, v in match.items()):
            out.append(event)
    return out
