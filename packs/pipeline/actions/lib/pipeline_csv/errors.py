"""The one error the pipeline's steps report: a message for the person who dropped the file."""

from __future__ import annotations

__all__ = ["PipelineError"]


class PipelineError(Exception):
    """A step cannot go on; the message says what is wrong with the input or the setup, and what to do."""
