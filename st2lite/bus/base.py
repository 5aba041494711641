"""The bus interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from st2lite.triggers import TriggerInstance

__all__ = ["Bus", "Delivery"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One trigger instance handed to a consumer, or the reason its entry could not be decoded.

    A plain dataclass: one is made per trigger instance on the hot path, and its
    instance was validated already.
    """

    entry_id: str
    instance: TriggerInstance | None = None
    error: str | None = None
    #: True when this entry was reclaimed from a consumer that stopped acknowledging.
    reclaimed: bool = False


class Bus(Protocol):
    """Publishes trigger instances and hands them to consumers, at least once until acknowledged."""

    def publish(self, instance: TriggerInstance, *, actor: str) -> str:
        """Append ``instance``; return its entry id."""
        ...

    def consume(self, consumer: str, *, count: int, block_ms: int | None) -> list[Delivery]:
        """New deliveries for ``consumer`` (waits up to ``block_ms`` when there are none)."""
        ...

    def reclaim(self, consumer: str, *, min_idle_ms: int, count: int) -> list[Delivery]:
        """Deliveries left unacknowledged by other consumers for ``min_idle_ms``, now owned by ``consumer``."""
        ...
