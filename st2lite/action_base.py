"""The base class of Python actions (StackStorm's ``Action`` API).

A pack's ``python-script`` action is a module holding one subclass of
:class:`Action` whose :meth:`Action.run` takes the action parameters as
keyword arguments. :mod:`st2common.runners.base_action` re-exports this very
class, so StackStorm packs that import it from there load unchanged.

``run`` may return:

* a plain value: the execution succeeds when the process exits normally;
* ``(True, value)`` or ``(False, value)``: the boolean decides the status and
  ``value`` becomes the result;
* any other 2-tuple is an error (return a list to hand back two values).
"""

from __future__ import annotations

import abc
import logging
from typing import Any

__all__ = ["LOGGER_PREFIX", "Action"]

#: Parent logger of every action's :attr:`Action.logger`: ``actions.python.<ClassName>``, as in StackStorm.
LOGGER_PREFIX = "actions.python"


class Action(abc.ABC):
    """A Python action.

    Args:
        config: The pack configuration (``configs/<pack>.yaml``); ``{}`` when the pack has none.
        action_service: Datastore access (``get_value``, ``set_value``, ``delete_value``, ``list_values``).
    """

    def __init__(self, config: dict[str, Any] | None = None, action_service: Any = None) -> None:
        self.config: dict[str, Any] = config if config is not None else {}
        self.action_service = action_service
        self.logger = logging.getLogger(f"{LOGGER_PREFIX}.{type(self).__name__}")

    @abc.abstractmethod
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Do the work; the keyword arguments are the action's parameters.

        Subclasses declare the parameters they take (``def run(self, name, count=1)``);
        ``*args, **kwargs`` here lets type checkers accept any such signature.
        """
