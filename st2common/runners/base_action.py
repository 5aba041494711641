"""StackStorm compatibility: ``from st2common.runners.base_action import Action``.

The name is the same class object as :class:`st2lite.action_base.Action`.
"""

from __future__ import annotations

from st2lite.action_base import Action

__all__ = ["Action"]
