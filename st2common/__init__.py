"""StackStorm compatibility: lets packs written for StackStorm import ``st2common`` names unchanged."""

from __future__ import annotations
