"""core.FileWatchSensor: the code lives in st2lite.sensors.file_watch (typed, tested)."""

from st2lite.sensors.file_watch import FileWatchSensor

__all__ = ["FileWatchSensor"]
