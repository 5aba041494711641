"""StackStorm compatibility: ``st2reactor`` (sensor base classes arrive with the sensor container)."""

from __future__ import annotations
