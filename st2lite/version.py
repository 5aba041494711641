"""The st2lite version (read by hatch and reported by ``st2lite --version``)."""

__version__ = "0.1.0"
