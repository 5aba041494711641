"""StackStorm compatibility: ``from st2reactor.sensor.base import Sensor, PollingSensor``.

The names are the same class objects as in :mod:`st2lite.sensors.base`.
"""

from __future__ import annotations

from st2lite.sensors.base import PollingSensor, Sensor

__all__ = ["PollingSensor", "Sensor"]
