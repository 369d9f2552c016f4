"""Errors of the task, checkpoint, pipeline and CLI layers (a leaf module every layer imports).

Every error is a ``ValueError`` whose message says what was wrong and what to do; the CLI
prints it as one line and exits 2, the app shows it as it is.
"""
from __future__ import annotations

__all__ = ["PipelineError", "MissingCheckpoint", "CheckpointSourceError", "UnknownTask",
           "VideoError"]


class PipelineError(ValueError):
    """An input or setting the pipeline cannot use; the message says what to do."""


class UnknownTask(PipelineError):
    """A task name that is not registered in :mod:`dynast.tasks`."""


class MissingCheckpoint(PipelineError):
    """No checkpoint was found for a task, or an explicit checkpoint does not exist."""


class CheckpointSourceError(MissingCheckpoint):
    """A checkpoint source (Hub id, URL, Drive id) could not be fetched or verified.

    ``reason`` is the cause in a few plain words ("no network"), for one-line notices; the
    message adds the source and what to do by hand."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class VideoError(PipelineError):
    """A driving clip or pose sequence that cannot be used (unreadable, too long, too large,
    no person in it); the message says the limit or what to do."""
