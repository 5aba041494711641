"""The timer engine: fires the timers enabled rules use, exactly once per tick across every engine.

Any number of engines (one per sensor container) may run on one Redis; one of
them is the *leader* and fires every timer, the others wait to take over:

* **Leadership** is a Redis key (:data:`st2lite.keys.TIMER_LEADER`) set with
  ``SET NX PX`` to a token unique to the engine, renewed every third of
  ``timer_lease_seconds`` and deleted on a clean stop. A leader that dies stops
  renewing; another engine takes over within ``timer_lease_seconds`` plus
  ``timer_loop_interval``.
* **Schedule state** lives in Redis (:func:`st2lite.keys.timer_state`): each
  timer's next tick and the fingerprint of its spec. A new leader reads it, so it
  fires what fell due while nobody led; a spec whose fingerprint changed starts
  a fresh schedule.
* **Firing** is one Lua script (``timer_fire.lua``) that checks the caller still
  holds the leadership (fencing) and that the stored next tick is the one being
  fired, then appends the trigger instance and its audit event exactly as
  :meth:`st2lite.bus.redis.RedisBus.publish_in` does and stores the next tick. A
  tick therefore fires at most once, even if two engines briefly both believe
  they lead.
* **Missed ticks** (no leader alive for a while) are coalesced: the due tick
  fires once, late, and the schedule continues with the first tick after now
  (APScheduler's ``coalesce`` behaviour).

Timers come and go with the rules that use them: each registry version is
turned into the set of concrete timer triggers; a timer no enabled rule uses
any more stops and its state is deleted.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog, encode_event
from st2lite.bus.redis import FIELD as TRIGGER_FIELD
from st2lite.bus.redis import encode_instance
from st2lite.config import Settings
from st2lite.redisdb import RECOVERABLE, Redis, load_script
from st2lite.registry import RegistryCache, RegistryStore, Snapshot
from st2lite.sensors.timers import TIMER_TYPES, TimerSpec, next_fire, specs_of, timer_payload
from st2lite.sensors.triggers import concrete_triggers
from st2lite.triggers import TriggerInstance

__all__ = ["TimerEngine", "main", "timer_status"]

log = logging.getLogger(__name__)

#: Fire script results.
_FIRED, _NOT_LEADER, _STALE = 1, 0, -1


def _ms(moment: datetime) -> str:
    """A tick as stored: epoch milliseconds."""
    return str(round(moment.timestamp() * 1000))


def _from_ms(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat(timespec="milliseconds")


class TimerEngine:
    """One timer engine; call :meth:`run` in a thread (the sensor container) or a process.

    Args:
        settings: ``timer_lease_seconds``, ``timer_loop_interval`` and the stream lengths are used.
        client: A Redis client (``decode_responses=True``).
        name: This engine's name (in its leadership token and the audit events' actor ``timers:<name>``).
    """

    def __init__(self, settings: Settings, client: Redis, name: str) -> None:
        self.name = name
        self.actor = f"timers:{name}"
        self._client = client
        self._lease_ms = max(1, round(settings.timer_lease_seconds * 1000))
        self._loop = settings.timer_loop_interval
        self._trigger_maxlen = settings.trigger_stream_maxlen
        self._audit_maxlen = settings.audit_stream_maxlen
        self._token = f"{name}:{uuid.uuid4().hex}"
        self._registry = RegistryCache(RegistryStore(client), refresh_interval=min(0.5, self._loop))
        self._lease = load_script(client, "timer_lease")
        self._state = load_script(client, "timer_state")
        self._fire = load_script(client, "timer_fire")
        self._specs: dict[str, TimerSpec] = {}
        self._synced: int | None = None
        self._renew_at = 0.0
        #: True while this engine holds the leadership (as of its last round).
        self.is_leader = False
        #: Ticks this engine fired (for tests and logs).
        self.fired = 0

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Lead or stand by until ``stop`` is set, then give up the leadership (if held)."""
        log.info("Timer engine %s: started (lease %.1fs)", self.name, self._lease_ms / 1000)
        try:
            while not stop.is_set():
                try:
                    delay = self.step()
                except RECOVERABLE as exc:
                    log.warning("Timer engine %s: %s; retrying", self.name, exc)
                    delay = self._loop
                except Exception:  # a bug must not stop every timer for good: log it and go on
                    log.exception("Timer engine %s: unexpected error; retrying", self.name)
                    delay = self._loop
                stop.wait(delay)
        finally:
            self.release()
            log.info("Timer engine %s: stopped", self.name)

    def step(self) -> float:
        """One round: keep or seek the leadership; as leader, follow the registry and fire due ticks.

        Returns the seconds to wait before the next round.
        """
        self._hold_lease()
        if not self.is_leader:
            return self._loop
        snapshot = self._registry.current()
        if snapshot.version != self._synced:
            self._sync(snapshot)
        wait = self._fire_due()
        return max(0.005, min(wait, self._renew_at - time.monotonic()))

    def release(self) -> None:
        """Give up the leadership now, so another engine takes over without waiting for the lease."""
        if not self.is_leader:
            return
        self.is_leader = False
        try:
            self._lease(keys=[keys.TIMER_LEADER], args=[self._token, "release"])
        except RECOVERABLE as exc:
            log.warning("Timer engine %s: could not release the leadership (%s); it lapses by itself", self.name, exc)

    # -- leadership -------------------------------------------------------------------------------

    def _hold_lease(self) -> None:
        now = time.monotonic()
        if self.is_leader:
            if now < self._renew_at:
                return
            if self._lease(keys=[keys.TIMER_LEADER], args=[self._token, "renew", self._lease_ms]) == 1:
                self._renew_at = now + self._lease_ms / 3000
                return
            log.warning("Timer engine %s: lost the timer leadership", self.name)
            self.is_leader = False
        if self._client.set(keys.TIMER_LEADER, self._token, nx=True, px=self._lease_ms):
            log.info("Timer engine %s: leading the timers", self.name)
            self.is_leader = True
            self._renew_at = now + self._lease_ms / 3000
            self._synced = None  # read the schedules again: another leader moved them on

    def _lost(self) -> None:
        log.warning("Timer engine %s: no longer the timer leader", self.name)
        self.is_leader = False

    # -- timers from the registry -----------------------------------------------------------------

    def _sync(self, snapshot: Snapshot) -> None:
        """Schedule the timers the enabled rules use and forget the others."""
        triggers = concrete_triggers(snapshot.content.rules.values(), TIMER_TYPES)
        specs, errors = specs_of(triggers.values())
        for trigger_id, error in errors.items():
            log.error("Timer %s (%s) is invalid and does not fire: %s", trigger_id, triggers[trigger_id]["ref"], error)
        known = set(self._client.smembers(keys.TIMERS_ALL))
        for timer_id in sorted(known - specs.keys()):
            if not self._forget(timer_id):
                return
            log.info("Timer %s: removed (no enabled rule uses it)", timer_id)
        now = datetime.now(UTC)
        for spec in specs.values():
            if not self._schedule(spec, now):
                return
        self._specs = specs
        self._synced = snapshot.version

    def _schedule(self, spec: TimerSpec, now: datetime) -> bool:
        first = next_fire(spec, now)
        fields: dict[str, str] = {
            "fingerprint": spec.fingerprint,
            "type": spec.type,
            "name": spec.name,
            "parameters": orjson.dumps(spec.parameters).decode(),
            "timezone": spec.timezone,
            "next": "" if first is None else _ms(first),
            "next_at": _iso(first),
            "scheduled_at": _iso(now),
        }
        flat = [item for pair in fields.items() for item in pair]
        result = self._state(
            keys=[keys.TIMER_LEADER, keys.timer_state(spec.id), keys.TIMERS_ALL],
            args=[self._token, "schedule", spec.id, spec.fingerprint, *flat],
        )
        if result == _NOT_LEADER:
            self._lost()
            return False
        if result == 1:
            if first is None:
                log.warning(
                    "Timer %s (%s %s): its date %s is in the past; it is not scheduled",
                    spec.id,
                    spec.type,
                    spec.parameters,
                    spec.parameters.get("date"),
                )
            else:
                log.info("Timer %s (%s %s): first tick at %s", spec.id, spec.type, spec.parameters, _iso(first))
        return True

    def _forget(self, timer_id: str) -> bool:
        state_keys = [keys.TIMER_LEADER, keys.timer_state(timer_id), keys.TIMERS_ALL]
        result = self._state(keys=state_keys, args=[self._token, "forget", timer_id])
        if result == _NOT_LEADER:
            self._lost()
            return False
        return True

    # -- firing -----------------------------------------------------------------------------------

    def _fire_due(self) -> float:
        """Fire every due tick; return the seconds until the next one (at most the loop interval)."""
        specs = list(self._specs.values())
        if not specs:
            return self._loop
        with self._client.pipeline(transaction=False) as pipe:
            for spec in specs:
                pipe.hmget(keys.timer_state(spec.id), "fingerprint", "next")
            states = pipe.execute()
        now = datetime.now(UTC)
        wait = self._loop
        for spec, (fingerprint, stored) in zip(specs, states, strict=True):
            if fingerprint != spec.fingerprint or stored is None:
                self._synced = None  # state missing or from another spec: schedule again next round
                continue
            if not stored:
                continue  # a date timer that fired, or whose date had passed
            tick = _from_ms(stored)
            if tick > now:
                wait = min(wait, (tick - now).total_seconds())
                continue
            following = next_fire(spec, now, previous=tick)
            result = self._fire_tick(spec, stored, tick, following)
            if result == _NOT_LEADER:
                self._lost()
                return self._loop
            if result == _STALE:
                continue
            if following is not None:
                wait = min(wait, max(0.0, (following - datetime.now(UTC)).total_seconds()))
        return wait

    def _fire_tick(self, spec: TimerSpec, stored: str, tick: datetime, following: datetime | None) -> int:
        instance = TriggerInstance(
            trigger=spec.type,
            parameters=spec.parameters,
            payload=timer_payload(tick),
            trace_tag=spec.trace_tag,
            source=self.actor,
        )
        event = encode_event(
            AuditKind.TRIGGER_RECEIVED,
            self.actor,
            trigger=instance.trigger,
            trigger_instance=instance.id,
            data={"parameters": instance.parameters} if instance.parameters else {},
        )
        result = int(
            self._fire(
                keys=[keys.TIMER_LEADER, keys.timer_state(spec.id), keys.TRIGGER_STREAM, keys.AUDIT_STREAM],
                args=[
                    self._token,
                    spec.fingerprint,
                    stored,
                    "" if following is None else _ms(following),
                    _iso(following),
                    _iso(tick),
                    TRIGGER_FIELD,
                    encode_instance(instance),
                    self._trigger_maxlen,
                    AuditLog.FIELD,
                    event,
                    self._audit_maxlen,
                    instance.id,
                    _iso(datetime.now(UTC)),
                ],
            )
        )
        if result == _FIRED:
            self.fired += 1
            log.debug("Timer %s: fired tick %s as %s", spec.id, _iso(tick), instance.id)
        return result


def timer_status(client: Redis) -> list[dict[str, Any]]:
    """Every scheduled timer's stored state (for the API and CLI), sorted by id."""
    ids = sorted(client.smembers(keys.TIMERS_ALL))
    with client.pipeline(transaction=False) as pipe:
        for timer_id in ids:
            pipe.hgetall(keys.timer_state(timer_id))
        states = pipe.execute()
    return [{"id": timer_id, **state} for timer_id, state in zip(ids, states, strict=True) if state]


def main(argv: list[str] | None = None) -> None:
    """``python -m st2lite.sensors.timer_engine [NAME]``: one engine until SIGINT/SIGTERM."""
    import os
    import socket
    import sys

    from st2lite.config import load_settings
    from st2lite.exceptions import St2liteError
    from st2lite.redisdb import connect, wait_until_ready
    from st2lite.services import redis_url_for, stop_on_signals

    args = sys.argv[1:] if argv is None else argv
    name = args[0] if args else f"{socket.gethostname()}:{os.getpid()}"
    try:
        settings = load_settings()
        url = redis_url_for(settings)
    except St2liteError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from exc
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = connect(url)
    wait_until_ready(client, timeout=30)
    stop = threading.Event()
    with stop_on_signals(stop):
        TimerEngine(settings, client, name).run(stop)


if __name__ == "__main__":
    main()
