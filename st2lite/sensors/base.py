"""The base classes of sensors, with StackStorm's API (``st2reactor.sensor.base`` re-exports them).

A sensor is a class in a pack's ``sensors/`` folder, named by the sensor's
metadata file. The sensor container builds it as ``cls(sensor_service=...,
config=...)`` (a :class:`PollingSensor` also gets ``poll_interval``), calls
:meth:`Sensor.setup` once, then :meth:`Sensor.run` until the sensor is
stopped, then :meth:`Sensor.cleanup`. ``add_trigger``, ``update_trigger`` and
``remove_trigger`` are called as enabled rules using the sensor's trigger
types with parameters come and go.

Differences from StackStorm, all additive: :meth:`Sensor.stop` ends ``run``
for a polling sensor (a passive sensor's ``run`` is ended by the container),
and an exception raised by ``poll`` is reported (sensor status and audit) and
the sensor polls again at the next interval instead of dying.
"""

from __future__ import annotations

import abc
import logging
import threading
from typing import Any

__all__ = ["PollingSensor", "Sensor"]

log = logging.getLogger(__name__)


class Sensor(abc.ABC):
    """A sensor whose :meth:`run` blocks (a server loop, a subscription).

    Args:
        sensor_service: :class:`st2lite.sensors.service.SensorService` (dispatch, logger, datastore).
        config: The pack configuration; ``{}`` when the pack has none.
    """

    def __init__(self, sensor_service: Any, config: dict[str, Any] | None = None) -> None:
        self._sensor_service = sensor_service
        self.sensor_service = sensor_service
        self._config: dict[str, Any] = config if config is not None else {}
        self.config = self._config
        self._stopped = threading.Event()

    @abc.abstractmethod
    def setup(self) -> None:
        """Called once before :meth:`run`."""

    @abc.abstractmethod
    def run(self) -> None:
        """Do the sensing; dispatch trigger instances with ``self.sensor_service.dispatch``."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Called once when the sensor stops."""

    @abc.abstractmethod
    def add_trigger(self, trigger: dict[str, Any]) -> None:
        """A trigger of this sensor's types was created (an enabled rule uses it with these parameters).

        ``trigger`` is ``{id, ref, uid, name, pack, type, parameters, description}``.
        """

    @abc.abstractmethod
    def update_trigger(self, trigger: dict[str, Any]) -> None:
        """A trigger of this sensor's types changed."""

    @abc.abstractmethod
    def remove_trigger(self, trigger: dict[str, Any]) -> None:
        """No enabled rule uses this trigger any more."""

    def stop(self) -> None:
        """Ask :meth:`run` to return (st2lite's addition; a polling sensor returns within one interval)."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopped.is_set()


class PollingSensor(Sensor):
    """A sensor that calls :meth:`poll` every ``poll_interval`` seconds."""

    def __init__(self, sensor_service: Any, config: dict[str, Any] | None = None, poll_interval: float = 5) -> None:
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self) -> None:
        """Check once; dispatch what changed."""

    def run(self) -> None:
        """Poll until stopped; an exception in ``poll`` is reported and the next poll happens as usual."""
        while not self._stopped.is_set():
            try:
                self.poll()
            except Exception as exc:
                report = getattr(self._sensor_service, "report_error", None)
                if report is not None:
                    report(f"poll raised {type(exc).__name__}: {exc}", exc)
                else:
                    log.exception("Sensor %s: poll raised", type(self).__name__)
            self._stopped.wait(self._poll_interval)

    def get_poll_interval(self) -> float:
        """Seconds between two polls."""
        return self._poll_interval

    def set_poll_interval(self, poll_interval: float) -> None:
        """Change the seconds between two polls (takes effect after the current wait)."""
        self._poll_interval = poll_interval
