"""The sensor container (``st2lite sensors``): runs the sensors this host owns, each in its own process.

Each round (every 0.2 s) the container:

* reads the registry (:class:`~st2lite.registry.RegistryCache`) and works out
  which sensors should run anywhere (:func:`runnable_sensors`): every enabled
  pack sensor, and a built-in ``core`` sensor only while some enabled rule uses
  one of its trigger types (they are idle otherwise);
* every :attr:`~st2lite.sensors.placement.Placement.interval`, or at once when
  the registry changed, takes its share of them through
  :class:`~st2lite.sensors.placement.Placement` (leases in Redis);
* starts a process (:mod:`st2lite.sensors.child`) for each sensor it owns,
  stops those it no longer owns or that were disabled or removed (and
  restarts one whose metadata changed), then releases their leases;
* restarts a sensor process that exited with exponential backoff, for ever:
  ``sensor_restart_backoff`` doubling up to ``sensor_restart_backoff_max``,
  back to the start once it ran ``sensor_stable_seconds``;
* records each sensor's state (:mod:`st2lite.sensors.status`) and audits
  ``sensor.started`` / ``sensor.exited``.

Background services run as threads next to this loop, each called as
``service(stop_event)`` and expected to return soon after ``stop_event`` is set
(the timer engine is wired in this way). On stop, the sensor processes get
SIGTERM (``stop()`` then ``cleanup()``), are killed after
``sensor_stop_timeout``, and the leases are released so another container takes
over at its next step. A container that cannot reach Redis for a whole lease
stops its sensors: another container may own them by then.

The container itself stays small: it never imports a sensor, jsonschema or
the dispatcher; those live in the sensor processes.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from st2lite.audit import AuditEvent, AuditKind, AuditLog, now_iso
from st2lite.config import Settings
from st2lite.content import ContentSet, SensorMeta
from st2lite.pack_configs import unconfigured
from st2lite.processes import die_with_parent
from st2lite.redisdb import RECOVERABLE, Redis
from st2lite.registry import RegistryCache, RegistryStore
from st2lite.sensors.backoff import backoff_delay
from st2lite.sensors.child import EXIT_LOAD_FAILED
from st2lite.sensors.placement import Placement
from st2lite.sensors.status import SensorState, SensorStatusStore

__all__ = [
    "BUILTIN_PACK",
    "BackgroundService",
    "SensorContainer",
    "default_node_name",
    "node_name",
    "restart_delay",
    "missing_config",
    "missing_config_message",
    "runnable_sensors",
]

log = logging.getLogger(__name__)

#: A service run as a thread of the container: ``service(stop_event)``, returning soon after the event is set.
BackgroundService = Callable[[threading.Event], None]
#: The pack whose sensors only run while some enabled rule uses their trigger types.
BUILTIN_PACK = "core"
#: Seconds between two rounds of the container's loop (child exits are noticed this fast).
TICK = 0.2


def default_node_name() -> str:
    """``<hostname>-<pid>``: unique per container process."""
    return f"{socket.gethostname()}-{os.getpid()}"


def node_name(settings: Settings) -> str:
    """This container's name: ``sensor_node_name``, else ``<hostname>-<pid>``."""
    return settings.sensor_node_name or default_node_name()


def runnable_sensors(content: ContentSet, rule_trigger_types: frozenset[str]) -> dict[str, SensorMeta]:
    """The sensors that should run somewhere, by ref (pure).

    Every enabled sensor of a pack whose config it can run with (see
    :func:`missing_config`); an enabled built-in (``core``) sensor only while an
    enabled rule uses one of its trigger types.
    """
    return {
        ref: meta
        for ref, meta in content.sensors.items()
        if meta.enabled
        and (meta.pack != BUILTIN_PACK or rule_trigger_types.intersection(meta.trigger_type_refs))
        and not missing_config(content, meta)
    }


def missing_config(content: ContentSet, meta: SensorMeta) -> list[str]:
    """The config keys the sensor's pack requires while the site wrote no ``configs/<pack>.yaml`` (pure).

    Such a sensor would only fail and restart in a loop (a bundled pack nobody set up yet): it is not
    started until the config is written and the pack registered again.
    """
    pack = content.packs.get(meta.pack)
    return unconfigured(pack) if pack is not None else []


def missing_config_message(pack: str, keys_needed: Iterable[str], configs_dir: str = "configs") -> str:
    """What to do about a sensor waiting for its pack's config."""
    return (
        f"not started: pack '{pack}' has no config; write {configs_dir}/{pack}.yaml with "
        f"{', '.join(keys_needed)} (see the pack's README), then run 'st2lite pack register'"
    )


def restart_delay(failures: int, initial: float, ceiling: float) -> float:
    """Seconds to wait before restart number ``failures`` in a row (1, 2, ...): ``initial`` doubling to ``ceiling``."""
    return backoff_delay(initial, failures - 1, ceiling)


@dataclass
class _Proc:
    """One sensor this container runs (or waits to restart)."""

    ref: str
    #: What the process was started from (:func:`_fingerprint`); it is restarted when this changes.
    fingerprint: tuple[Any, ...]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    #: Restarts since this container took the sensor.
    restarts: int = 0
    #: Exits in a row without a stable run (drives the backoff).
    failures: int = 0
    next_start: float = 0.0


class SensorContainer:
    """Runs this container's share of the sensors until ``stop`` is set (see the module doc).

    Args:
        settings: The settings (``sensor_*`` ones drive placement and restarts).
        client: Redis.
        redis_url: Given to the sensor processes.
        node: This container's name (default ``sensor_node_name``, else ``<hostname>-<pid>``).
        background: Services run as threads, each called ``service(stop_event)``.
    """

    def __init__(
        self,
        settings: Settings,
        client: Redis,
        redis_url: str,
        *,
        node: str = "",
        background: Sequence[BackgroundService] = (),
    ) -> None:
        self.settings = settings
        self.node = node or node_name(settings)
        self.redis_url = redis_url
        self._client = client
        self._registry = RegistryCache(RegistryStore(client), refresh_interval=0.25)
        self.placement = Placement(client, self.node, lease_seconds=settings.sensor_lease_seconds)
        self.statuses = SensorStatusStore(client)
        self._audit = AuditLog(client, maxlen=settings.audit_stream_maxlen)
        self._background = list(background)
        self._procs: dict[str, _Proc] = {}
        self._assigned: frozenset[str] = frozenset()
        self._next_step = 0.0
        self._version: int | None = None
        self._child_input = json.dumps(
            {"settings": json.loads(settings.model_dump_json()), "redis_url": redis_url}
        ).encode()

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set, then stop the sensors and release their leases."""
        threads = [
            threading.Thread(target=service, args=(stop,), name=f"sensors-bg-{i}", daemon=True)
            for i, service in enumerate(self._background)
        ]
        for thread in threads:
            thread.start()
        log.info("Sensor container %s started (lease %.1fs)", self.node, self.placement.lease_seconds)
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(TICK)
        finally:
            self.shutdown()
            for thread in threads:
                thread.join(timeout=self.settings.sensor_stop_timeout)

    def tick(self) -> None:
        """One round: placement when due, stop what is not ours, reap exits, start what is due."""
        now = time.monotonic()
        try:
            snapshot = self._registry.current()
            if now >= self._next_step or snapshot.version != self._version:
                if snapshot.version != self._version:
                    self._report_unconfigured(snapshot.content)
                self._place(snapshot.content, snapshot.rule_trigger_types)
                self._version = snapshot.version
                self._next_step = now + self.placement.interval
            self._reap(now)
            self._start_due(now)
        except RECOVERABLE as exc:
            log.warning("Sensor container %s: cannot reach Redis or the registry: %s", self.node, exc)
            self._next_step = now + TICK * 5
            if self.placement.last_ok and now - self.placement.last_ok > self.placement.lease_seconds:
                if self._assigned:
                    log.error("Sensor container %s: no lease renewed for a whole lease; stopping sensors", self.node)
                self._assigned = frozenset()
                self.placement.owned.clear()
                self._stop_procs(list(self._procs), record=False)

    def _report_unconfigured(self, content: ContentSet) -> None:
        """Once per registry version: the enabled sensors waiting for their pack's config (not started)."""
        configs = str(self.settings.resolved_configs_dir)
        for ref, meta in sorted(content.sensors.items()):
            needed = missing_config(content, meta) if meta.enabled else []
            if needed:
                log.warning("Sensor %s: %s", ref, missing_config_message(meta.pack, needed, configs))

    def _place(self, content: ContentSet, rule_trigger_types: frozenset[str]) -> None:
        wanted = runnable_sensors(content, rule_trigger_types)
        assignment = self.placement.step(wanted)
        self._assigned = assignment.run
        fingerprints = {ref: _fingerprint(content, meta) for ref, meta in wanted.items()}
        changed = [ref for ref, proc in self._procs.items() if ref in wanted and fingerprints[ref] != proc.fingerprint]
        lost = [ref for ref in self._procs if ref in assignment.lost]  # the new owner writes their status
        gone = [ref for ref in self._procs if ref not in assignment.run and ref not in assignment.lost]
        self._stop_procs(lost, record=False)
        self._stop_procs(gone + changed, record=True)
        self.placement.release(assignment.release)
        for ref in sorted(assignment.run):
            if ref not in self._procs:
                self._procs[ref] = _Proc(ref=ref, fingerprint=fingerprints[ref])

    def _start_due(self, now: float) -> None:
        for proc in self._procs.values():
            if proc.process is None and now >= proc.next_start and proc.ref in self._assigned:
                self._spawn(proc, now)

    def _spawn(self, proc: _Proc, now: float) -> None:
        argv = [sys.executable, "-m", "st2lite.sensors.child", proc.ref, "--node", self.node]
        env = dict(os.environ)
        env["ST2LITE_REDIS_URL"] = self.redis_url
        try:
            process = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, preexec_fn=die_with_parent)
            assert process.stdin is not None
            process.stdin.write(self._child_input)
            process.stdin.close()
        except OSError as exc:
            delay = self._fail(proc, now)
            log.error("Sensor %s: cannot start its process: %s; retrying in %.1fs", proc.ref, exc, delay)
            self.statuses.record_error(proc.ref, f"cannot start the sensor process: {exc}")
            return
        proc.process = process
        proc.started_at = now
        self.statuses.update(
            proc.ref,
            state=SensorState.RUNNING,
            node=self.node,
            pid=process.pid,
            restarts=proc.restarts,
            exit_code=None,
            backoff=None,
            started_at=now_iso(),
        )
        self._audit.append(
            AuditEvent(
                kind=AuditKind.SENSOR_STARTED,
                actor=f"sensor_container:{self.node}",
                message=f"sensor {proc.ref} started (pid {process.pid})",
                data={"sensor": proc.ref, "node": self.node, "pid": process.pid, "restarts": proc.restarts},
            )
        )
        log.info("Sensor %s: started (pid %d)", proc.ref, process.pid)

    def _fail(self, proc: _Proc, now: float) -> float:
        """Count one more exit in a row; schedule the restart; return its delay."""
        if proc.started_at and now - proc.started_at >= self.settings.sensor_stable_seconds:
            proc.failures = 0  # it ran stably: start the backoff over
        proc.failures += 1
        proc.restarts += 1
        delay = restart_delay(
            proc.failures, self.settings.sensor_restart_backoff, self.settings.sensor_restart_backoff_max
        )
        proc.next_start = now + delay
        return delay

    def _reap(self, now: float) -> None:
        for proc in self._procs.values():
            process = proc.process
            if process is None or process.poll() is None:
                continue
            proc.process = None
            code = process.returncode
            delay = self._fail(proc, now)
            state = SensorState.FAILED if code == EXIT_LOAD_FAILED else SensorState.RESTARTING
            if code is not None and code < 0:
                self.statuses.record_error(proc.ref, f"the sensor process was killed by {_signal_name(-code)}")
            elif code not in (0, 1, EXIT_LOAD_FAILED):
                self.statuses.record_error(proc.ref, f"the sensor process exited with code {code}")
            self.statuses.update(
                proc.ref, state=state, pid=None, exit_code=code, restarts=proc.restarts, backoff=round(delay, 3)
            )
            self._audit.append(
                AuditEvent(
                    kind=AuditKind.SENSOR_EXITED,
                    actor=f"sensor_container:{self.node}",
                    status=str(state),
                    message=f"sensor {proc.ref} exited with code {code}; restarting in {delay:.1f}s",
                    data={
                        "sensor": proc.ref,
                        "node": self.node,
                        "exit_code": code,
                        "restarts": proc.restarts,
                        "backoff": round(delay, 3),
                    },
                )
            )
            log.error("Sensor %s: exited with code %s; restarting in %.1fs", proc.ref, code, delay)

    def _stop_procs(self, refs: Sequence[str], *, record: bool) -> None:
        """SIGTERM the processes of ``refs``, wait up to ``sensor_stop_timeout``, kill the rest; forget them."""
        procs = [self._procs.pop(ref) for ref in refs if ref in self._procs]
        running = [p for p in procs if p.process is not None and p.process.poll() is None]
        for proc in running:
            assert proc.process is not None
            proc.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.sensor_stop_timeout
        for proc in running:
            assert proc.process is not None
            try:
                proc.process.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timeout = self.settings.sensor_stop_timeout
                log.warning("Sensor %s did not stop within %.1fs; killing it", proc.ref, timeout)
                proc.process.kill()
                proc.process.wait()
        for proc in procs:
            if not record:
                continue
            try:
                self.statuses.update(proc.ref, state=SensorState.STOPPED, pid=None, backoff=None)
                code = proc.process.returncode if proc.process is not None else None
                self._audit.append(
                    AuditEvent(
                        kind=AuditKind.SENSOR_EXITED,
                        actor=f"sensor_container:{self.node}",
                        status=str(SensorState.STOPPED),
                        message=f"sensor {proc.ref} stopped",
                        data={"sensor": proc.ref, "node": self.node, "exit_code": code, "requested": True},
                    )
                )
            except RECOVERABLE as exc:
                log.warning("Sensor %s: could not record its stop: %s", proc.ref, exc)
            log.info("Sensor %s: stopped", proc.ref)

    def shutdown(self) -> None:
        """Stop every sensor process, release the leases, leave the membership."""
        self._assigned = frozenset()
        self._stop_procs(list(self._procs), record=True)
        try:
            self.placement.leave()
        except RECOVERABLE as exc:
            log.warning("Sensor container %s: could not release its leases (they will expire): %s", self.node, exc)
        log.info("Sensor container %s stopped", self.node)

    # -- introspection (tests, status) --------------------------------------------------------------

    def running(self) -> dict[str, int]:
        """The sensors whose process is up: ref -> pid."""
        return {
            ref: proc.process.pid
            for ref, proc in self._procs.items()
            if proc.process is not None and proc.process.poll() is None
        }


def _fingerprint(content: ContentSet, meta: SensorMeta) -> tuple[Any, ...]:
    """The sensor's metadata and its pack's configuration: a sensor restarts when either is registered anew."""
    pack = content.packs.get(meta.pack)
    config = (pack.config, pack.config_schema) if pack is not None else None
    return (meta, json.dumps(config, sort_keys=True, default=str))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
