"""The trigger bus: how trigger instances travel from sensors and the API to rules engines."""

from st2lite.bus.base import Bus, Delivery
from st2lite.bus.redis import RedisBus

__all__ = ["Bus", "Delivery", "RedisBus"]
