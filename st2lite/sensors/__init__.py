"""Sensors: the StackStorm sensor API, the sensor container, timers and the built-in file and HTTP sensors.

* :mod:`st2lite.sensors.base` - ``Sensor`` and ``PollingSensor`` (re-exported by ``st2reactor.sensor.base``);
* :mod:`st2lite.sensors.service` - ``SensorService``, what ``self.sensor_service`` offers a sensor;
* :mod:`st2lite.sensors.triggers` - pure: which concrete triggers the enabled rules ask a sensor for.
"""
