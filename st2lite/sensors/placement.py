"""Placement: which sensor container runs which sensor, when several share one Redis.

Each container heartbeats into a membership sorted set (member: its node
name, score: when its heartbeat ends, by Redis's clock) and holds one *lease*
per sensor it runs: the key ``st2lite:sensors:lease:<ref>`` set with ``SET NX
PX`` to the container's random token. Holding the lease is what entitles a
container to run the sensor, so a sensor runs at most once in the steady
state and every enabled sensor is claimed by some live container.

Every :attr:`Placement.interval` (a third of the lease) a container:

1. renews its heartbeat and counts the live containers;
2. renews its leases with a fenced script (``sensor_leases.lua``): a lease that
   expired and was claimed by another container is *lost*, never renewed back
   (one that expired unclaimed, because the loop ran late, is taken back);
3. gives up the leases of sensors no longer wanted (disabled, removed) and,
   when more containers joined, those above its fair share
   (:func:`fair_share`): ``ceil(sensors / live containers)``;
4. claims unowned sensors up to its fair share.

The container stops a sensor's process *before* releasing its lease, so the
next owner starts it only once the old process is gone.

**Failover bound.** A container that dies stops renewing: its leases expire
after at most ``sensor_lease_seconds`` and a live container claims them at its
next step, at most :attr:`Placement.interval` later. So a dead container's
sensors run again within ``lease + lease / 3`` seconds (20 s with the default
15 s lease), plus the time the sensor takes to start. A container that cannot
reach Redis for a whole lease stops its sensors itself (see
:mod:`st2lite.sensors.container`), so a partitioned container does not keep
running sensors that another container has taken over.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from st2lite import keys
from st2lite.redisdb import Redis, load_script

__all__ = ["Assignment", "Placement", "PlacementPlan", "fair_share", "members", "plan_step"]

log = logging.getLogger(__name__)


def fair_share(sensors: int, containers: int) -> int:
    """The most sensors one container should run: ``ceil(sensors / containers)`` (0 when there are none)."""
    if sensors <= 0:
        return 0
    return -(-sensors // max(1, containers))


@dataclass(frozen=True)
class PlacementPlan:
    """Pure result of :func:`plan_step`: what to give up and how many more sensors to claim."""

    #: Owned sensors to give up: not wanted any more, or above the fair share (sorted).
    release: tuple[str, ...]
    #: Wanted sensors nobody might own, in the order to try claiming them.
    candidates: tuple[str, ...]
    #: How many of ``candidates`` this container may claim.
    room: int


def _spread(node: str, ref: str) -> str:
    """A per-node order of sensors, so containers starting together try different sensors first."""
    return hashlib.sha256(f"{node}|{ref}".encode()).hexdigest()


def plan_step(wanted: Collection[str], owned: Collection[str], live: int, node: str) -> PlacementPlan:
    """What a container owning ``owned`` does when ``wanted`` sensors should run on ``live`` containers.

    It keeps at most its fair share of the wanted sensors it owns (the first
    ones by name; the rest are released so that joining containers get work),
    releases those no longer wanted, and may claim as many unowned ones as
    leaves it at its fair share.
    """
    share = fair_share(len(wanted), live)
    wanted_set = set(wanted)
    kept = sorted(ref for ref in owned if ref in wanted_set)
    surplus = kept[share:]
    kept = kept[:share]
    release = sorted({ref for ref in owned if ref not in wanted_set} | set(surplus))
    owned_set = set(owned)
    candidates = sorted((ref for ref in wanted_set if ref not in owned_set), key=lambda ref: _spread(node, ref))
    return PlacementPlan(release=tuple(release), candidates=tuple(candidates), room=max(0, share - len(kept)))


@dataclass(frozen=True)
class Assignment:
    """The outcome of one :meth:`Placement.step`."""

    #: The sensors this container holds and should run now.
    run: frozenset[str]
    #: Sensors to stop and then :meth:`Placement.release` (not wanted any more, or above the fair share).
    release: frozenset[str]
    #: Sensors whose lease another container holds now: stop them at once.
    lost: frozenset[str]
    #: Live sensor containers (this one included).
    live: int


class Placement:
    """One container's membership and sensor leases in Redis.

    Args:
        client: Redis.
        node: This container's name (unique among the containers).
        lease_seconds: How long a lease and a heartbeat last without renewal.
    """

    def __init__(self, client: Redis, node: str, *, lease_seconds: float) -> None:
        self._client = client
        self.node = node
        self.token = f"{node}:{secrets.token_hex(8)}"
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._leases = load_script(client, "sensor_leases")
        #: The sensors whose lease this container holds (as of its last step).
        self.owned: set[str] = set()
        #: ``time.monotonic()`` of the last step that reached Redis (0: none yet).
        self.last_ok = 0.0

    @property
    def interval(self) -> float:
        """Seconds between two steps: a third of the lease, so a lease is renewed twice before it ends."""
        return self.lease_ms / 3000

    @property
    def lease_seconds(self) -> float:
        return self.lease_ms / 1000

    def heartbeat(self) -> int:
        """Renew this container's membership, forget expired members; return how many are live."""
        seconds, micros = self._client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        with self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.SENSOR_MEMBERS, {self.node: now_ms + self.lease_ms})
            pipe.zremrangebyscore(keys.SENSOR_MEMBERS, "-inf", now_ms)
            pipe.zcard(keys.SENSOR_MEMBERS)
            *_, live = pipe.execute()
        return max(1, int(live))

    def step(self, wanted: Collection[str]) -> Assignment:
        """One round (see the module doc); raises the Redis errors (the caller retries next round)."""
        live = self.heartbeat()
        lost = self._renew(self.owned)
        self.owned -= lost
        if lost:
            log.warning("Sensor placement: lost the lease of %s to another container", ", ".join(sorted(lost)))
        plan = plan_step(wanted, self.owned, live, self.node)
        claimed = self._claim(plan.candidates, plan.room)
        self.owned |= claimed
        self.last_ok = time.monotonic()
        release = frozenset(plan.release)
        return Assignment(run=frozenset(self.owned - release), release=release, lost=frozenset(lost), live=live)

    def release(self, refs: Iterable[str]) -> None:
        """Give up the leases of ``refs`` (only where this container still holds them)."""
        names = sorted(set(refs))
        if names:
            self._leases(keys=[keys.sensor_lease(r) for r in names], args=[self.token, 0])
        self.owned -= set(names)

    def leave(self) -> None:
        """Release every lease and leave the membership (a clean stop: others take over at their next step)."""
        self.release(self.owned)
        self._client.zrem(keys.SENSOR_MEMBERS, self.node)

    def _renew(self, refs: Collection[str]) -> set[str]:
        """Renew the leases of ``refs``; return those this container does not hold any more."""
        names = sorted(refs)
        if not names:
            return set()
        replies = self._leases(keys=[keys.sensor_lease(r) for r in names], args=[self.token, self.lease_ms])
        results = dict(zip(names, (int(r) for r in replies), strict=True))
        late = [ref for ref, result in results.items() if result == 2]
        if late:
            log.warning(
                "Sensor placement: the leases of %s expired before renewal (this container's loop ran late);"
                " nobody had claimed them, so they were taken back",
                ", ".join(late),
            )
        return {ref for ref, result in results.items() if result == 0}

    def _claim(self, candidates: Iterable[str], room: int) -> set[str]:
        claimed: set[str] = set()
        for ref in candidates:
            if len(claimed) >= room:
                break
            if self._client.set(keys.sensor_lease(ref), self.token, nx=True, px=self.lease_ms):
                claimed.add(ref)
        return claimed


def members(client: Redis) -> dict[str, float]:
    """The live sensor containers: node name -> epoch seconds their heartbeat ends."""
    seconds, micros = client.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    entries = client.zrangebyscore(keys.SENSOR_MEMBERS, now_ms, "+inf", withscores=True)
    return {str(node): float(score) / 1000 for node, score in entries}
