"""One sensor's process: load the sensor class, feed it its triggers, run it until told to stop.

Started by the sensor container as ``python -m st2lite.sensors.child <ref>
--node <node>``, with ``{"settings": ..., "redis_url": ...}`` as JSON on
stdin. Steps:

1. load the sensor's module by path (``entry_point`` relative to
   ``<pack>/sensors``, with that folder and the pack's ``lib`` folder on
   ``sys.path``) and take the class named ``class_name`` from it (it may be
   imported into the module rather than defined there);
2. build it with a :class:`~st2lite.sensors.service.SensorService`, the
   pack's configuration (:mod:`st2lite.pack_configs`: datastore templates
   rendered, secrets decrypted, defaults applied; ``{}`` when the pack has
   none) and, for a
   :class:`~st2lite.sensors.base.PollingSensor`, its ``poll_interval``;
3. ``setup()``; then ``add_trigger`` for each trigger the enabled rules ask
   for (:func:`~st2lite.sensors.triggers.concrete_triggers`), and from a
   thread ``add/update/remove_trigger`` whenever the registry changes;
4. ``run()`` in a thread until it returns or SIGTERM arrives; on SIGTERM,
   ``stop()``, up to half of ``sensor_stop_timeout`` for ``run`` to return,
   then ``cleanup()``.

Errors are recorded in the sensor's status (``last_error``) and audited
(``sensor.error``). Exit codes tell the container what happened:
:data:`EXIT_OK` (stopped, or ``run`` returned by itself),
:data:`EXIT_RUN_RAISED`, :data:`EXIT_LOAD_FAILED` (import, class or setup).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from st2lite.exceptions import SensorError, St2liteError
from st2lite.pack_modules import import_pack_file

__all__ = [
    "EXIT_LOAD_FAILED",
    "EXIT_OK",
    "EXIT_RUN_RAISED",
    "TriggerFeed",
    "build_sensor",
    "find_sensor_class",
    "load_sensor_class",
    "main",
    "resolved_pack_config",
    "sensor_path",
]

#: The sensor was stopped, or its ``run`` returned.
EXIT_OK = 0
#: ``run`` raised.
EXIT_RUN_RAISED = 1
#: The module could not be imported, the class was not found or could not be built, or ``setup`` raised.
EXIT_LOAD_FAILED = 3

log = logging.getLogger("st2lite.sensors.child")


def sensor_path(pack_path: str, entry_point: str) -> Path:
    """The sensor's Python file: ``entry_point`` relative to ``<pack_path>/sensors`` (or absolute)."""
    entry = Path(entry_point)
    return entry if entry.is_absolute() else Path(pack_path) / "sensors" / entry


def load_sensor_class(path: Path, pack_path: Path, class_name: str) -> type[Any]:
    """Import the file at ``path`` and return its attribute ``class_name``, a sensor class.

    Raises:
        SensorError: The file is missing or not Python, or the class is not in it.
        Exception: Whatever importing the file raises.
    """
    if not path.is_file():
        raise SensorError(f"sensor file {path} does not exist; check entry_point in the sensor's metadata")
    module_name = f"st2lite_pack_sensor_{pack_path.name}_{path.stem}"
    module = import_pack_file(path, module_name, (pack_path / "lib", path.parent))
    if module is None:
        raise SensorError(f"{path}: cannot be imported as Python; sensor entry points must be .py files")
    return find_sensor_class(module, class_name, path)


def find_sensor_class(module: ModuleType, class_name: str, path: Path) -> type[Any]:
    """``module.<class_name>``, checked to be a :class:`~st2lite.sensors.base.Sensor` subclass."""
    from st2lite.sensors.base import Sensor

    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(
            name
            for name, obj in vars(module).items()
            if isinstance(obj, type) and issubclass(obj, Sensor) and obj is not Sensor and not name.startswith("_")
        )
        listed = ", ".join(found) if found else "none"
        raise SensorError(
            f"class '{class_name}' not found in {path} (sensor classes there: {listed}); "
            "fix class_name in the sensor's metadata or the class name in the file"
        )
    if not isinstance(cls, type) or not issubclass(cls, Sensor):
        raise SensorError(
            f"'{class_name}' in {path} is not a sensor class; it must extend Sensor or PollingSensor "
            "(from st2reactor.sensor.base or st2lite.sensors.base)"
        )
    return cls


def build_sensor(
    cls: type[Any], service: Any, poll_interval: float | None, config: dict[str, Any] | None = None
) -> Any:
    """``cls(sensor_service=..., config=...)``, plus ``poll_interval`` for a polling sensor when one is set."""
    from st2lite.sensors.base import PollingSensor

    kwargs: dict[str, Any] = {"sensor_service": service, "config": config if config is not None else {}}
    if issubclass(cls, PollingSensor) and poll_interval is not None:
        kwargs["poll_interval"] = poll_interval
    return cls(**kwargs)


class TriggerFeed:
    """Tells a sensor about the triggers the enabled rules ask for, as they come and go.

    Args:
        sensor: The sensor (``add_trigger``, ``update_trigger``, ``remove_trigger``).
        trigger_types: The sensor's trigger type refs.
        report: Told about an exception raised by one of those methods (the feed goes on).
    """

    def __init__(self, sensor: Any, trigger_types: list[str], report: Callable[[str, BaseException], None]) -> None:
        self._sensor = sensor
        self._types = trigger_types
        self._report = report
        self._current: dict[str, dict[str, Any]] = {}
        self.version: int | None = None

    def sync(self, snapshot: Any) -> None:
        """Deliver the changes since the last call for registry ``snapshot`` (nothing when its version is known)."""
        from st2lite.sensors.triggers import concrete_triggers, diff_triggers

        if snapshot.version == self.version:
            return
        self.version = snapshot.version
        wanted = concrete_triggers(snapshot.content.enabled_rules(), self._types)
        changes = diff_triggers(self._current, wanted)
        self._current = wanted
        for method, triggers in (
            ("add_trigger", changes.added),
            ("update_trigger", changes.updated),
            ("remove_trigger", changes.removed),
        ):
            for trigger in triggers:
                try:
                    getattr(self._sensor, method)(trigger)
                except Exception as exc:
                    self._report(f"{method} raised {type(exc).__name__}: {exc} (trigger {trigger['ref']})", exc)

    def follow(self, registry: Any, stop: threading.Event, every: float = 0.5) -> None:
        """Call :meth:`sync` with the newest snapshot until ``stop`` is set."""
        from st2lite.redisdb import RECOVERABLE

        while not stop.wait(every):
            try:
                self.sync(registry.current())
            except RECOVERABLE as exc:
                log.warning("Could not read the registry: %s", exc)


def resolved_pack_config(settings: Any, client: Any, pack: Any) -> dict[str, Any]:
    """The configuration of ``pack`` (a :class:`~st2lite.content.PackMeta` or ``None``) as ``self.config``.

    Raises:
        ContentError: The config does not fit the pack's schema once rendered.
        DatastoreError: A template names a missing key, or a secret cannot be decrypted.
    """
    from st2lite.encryption import DatastoreKey
    from st2lite.pack_configs import stored_pack_config

    return stored_pack_config(pack, client, DatastoreKey(settings.datastore_key_path))


def _one_line(exc: BaseException) -> str:
    """``Type: message`` plus where in the sensor's files it happened (the last frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _run(ref: str, node: str, settings: Any, redis_url: str) -> int:
    from st2lite.audit import AuditLog
    from st2lite.datastore import KeyValueStore
    from st2lite.dispatch import TriggerDispatcher
    from st2lite.redisdb import connect
    from st2lite.registry import RegistryCache, RegistryStore
    from st2lite.sensors.service import SensorService
    from st2lite.sensors.status import ErrorRecorder, SensorStatusStore

    stop = threading.Event()
    wake = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    client = connect(redis_url)
    audit = AuditLog(client, maxlen=settings.audit_stream_maxlen)
    record = ErrorRecorder(SensorStatusStore(client), audit, ref)
    registry = RegistryCache(RegistryStore(client), refresh_interval=0.5)
    snapshot = registry.current()
    meta = snapshot.content.sensors.get(ref)
    if meta is None:
        record(f"sensor {ref} is not registered any more", None)
        return EXIT_LOAD_FAILED
    path = sensor_path(meta.pack_path, meta.entry_point or f"{meta.class_name}.py")
    service = SensorService(
        ref,
        meta.class_name,
        TriggerDispatcher(settings, client, registry),
        audit=audit,
        datastore=KeyValueStore.for_settings(client, settings, actor=f"sensor:{ref}"),
        on_error=record,
    )
    try:
        config = resolved_pack_config(settings, client, snapshot.content.packs.get(meta.pack))
    except St2liteError as exc:
        log.error("Sensor %s: the config of pack '%s' cannot be used: %s", ref, meta.pack, exc)
        record(f"the config of pack '{meta.pack}' cannot be used: {exc}", exc)
        return EXIT_LOAD_FAILED
    try:
        cls = load_sensor_class(path, Path(meta.pack_path), meta.class_name)
        sensor = build_sensor(cls, service, meta.poll_interval, config)
    except SensorError as exc:
        record(f"cannot load sensor: {exc}", exc)
        return EXIT_LOAD_FAILED
    except BaseException as exc:  # the module's own code raised (SyntaxError, ImportError, SystemExit, ...)
        log.error("Sensor %s: loading %s raised", ref, path, exc_info=exc)
        record(f"cannot load sensor from {path}: {_one_line(exc)}", exc)
        return EXIT_LOAD_FAILED
    try:
        sensor.setup()
    except Exception as exc:
        log.error("Sensor %s: setup raised", ref, exc_info=exc)
        record(f"setup raised {_one_line(exc)}", exc)
        return EXIT_LOAD_FAILED
    log.info("Sensor %s started on %s (pid %d)", ref, node, os.getpid())
    feed = TriggerFeed(sensor, meta.trigger_type_refs, record)
    feed.sync(snapshot)
    threading.Thread(target=feed.follow, args=(registry, stop), name="trigger-feed", daemon=True).start()

    outcome: dict[str, BaseException | None] = {}

    def run() -> None:
        try:
            sensor.run()
            outcome["error"] = None
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            wake.set()

    runner = threading.Thread(target=run, name="sensor-run", daemon=True)
    runner.start()
    wake.wait()
    code = EXIT_OK
    if stop.is_set():
        sensor.stop()
        runner.join(settings.sensor_stop_timeout / 2)
    else:
        error = outcome.get("error")
        if error is not None:
            log.error("Sensor %s: run raised", ref, exc_info=error)
            record(f"run raised {_one_line(error)}", error)
            code = EXIT_RUN_RAISED
        else:
            record("run returned before the sensor was stopped; it is restarted", None)
    stop.set()
    try:
        sensor.cleanup()
    except Exception as exc:
        log.error("Sensor %s: cleanup raised", ref, exc_info=exc)
        record(f"cleanup raised {_one_line(exc)}", exc)
    return code


def main(argv: list[str] | None = None) -> None:
    """``python -m st2lite.sensors.child <ref> --node <node>`` (settings and Redis URL as JSON on stdin)."""
    from st2lite.config import Settings, load_settings
    from st2lite.processes import die_with_parent

    parser = argparse.ArgumentParser(prog="python -m st2lite.sensors.child")
    parser.add_argument("ref")
    parser.add_argument("--node", default="")
    args = parser.parse_args(argv)
    die_with_parent(signal.SIGTERM)  # also set by the container's preexec_fn; harmless twice
    raw = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    if raw.strip():
        given = json.loads(raw)
        settings = Settings.model_validate(given["settings"])
        redis_url = str(given["redis_url"])
    else:
        settings = load_settings()
        redis_url = settings.redis_url
    fmt = f"%(asctime)s %(levelname)s sensor {args.ref}[%(process)d] %(name)s: %(message)s"
    logging.basicConfig(level=settings.log_level, format=fmt)
    try:
        code = _run(args.ref, args.node, settings, redis_url)
    except Exception:
        log.exception("Sensor %s: the sensor process failed", args.ref)
        code = EXIT_RUN_RAISED
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # threads a sensor started must not keep its process alive


if __name__ == "__main__":
    main()
