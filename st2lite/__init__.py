"""st2lite: event-driven automation in the style of StackStorm, on Redis alone.

The package root re-exports only the version: importing it must stay cheap,
because every service process (and every Python action's wrapper) imports it,
and each module is imported by the processes that need it (a worker never
loads the rules engine or the API). See docs/architecture.md for the map.
"""

from st2lite.version import __version__

__all__ = ["__version__"]
