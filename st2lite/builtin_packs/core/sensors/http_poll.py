"""core.HttpPollSensor: the code lives in st2lite.sensors.http_poll (typed, tested)."""

from st2lite.sensors.http_poll import HttpPollSensor

__all__ = ["HttpPollSensor"]
