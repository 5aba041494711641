"""st2lite: event-driven automation in the style of StackStorm, on Redis alone."""

from st2lite.version import __version__

__all__ = ["__version__"]
