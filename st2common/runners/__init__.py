"""StackStorm compatibility: ``st2common.runners``."""

from __future__ import annotations
