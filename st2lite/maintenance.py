"""Periodic housekeeping: drop index entries whose records expired with the retention."""

from __future__ import annotations

import logging
import threading

from st2lite.enforcements import EnforcementStore
from st2lite.executions import ExecutionStore
from st2lite.redisdb import RECOVERABLE
from st2lite.trigger_instances import TriggerInstanceStore

__all__ = ["Maintenance"]

log = logging.getLogger(__name__)

#: Seconds between two passes.
INTERVAL = 600.0


class Maintenance:
    """Prunes the execution, enforcement and trigger instance indexes (records expire by TTL; entries do not)."""

    def __init__(
        self,
        executions: ExecutionStore,
        enforcements: EnforcementStore,
        trigger_instances: TriggerInstanceStore | None = None,
        *,
        interval: float = INTERVAL,
    ):
        self._executions = executions
        self._enforcements = enforcements
        self._trigger_instances = trigger_instances
        self._interval = interval

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self._interval):
            try:
                self.prune()
            except RECOVERABLE as exc:
                log.warning("Maintenance: %s", exc)

    def prune(self) -> int:
        dropped = self._executions.prune_all() + self._enforcements.prune_all()
        if self._trigger_instances is not None:
            dropped += self._trigger_instances.prune_all()
        if dropped:
            log.info("Maintenance: dropped %d expired index entries", dropped)
        return dropped
