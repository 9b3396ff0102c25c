"""Errors raised for bad user input: each names the file and the reason in one line."""

from __future__ import annotations

from pathlib import Path


class CountXplainError(Exception):
    """Base class of every error meant to be shown to a user as one line."""


class InputFileError(CountXplainError):
    """A file a user gave us cannot be used; the message names the file and why."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageReadError(InputFileError):
    """An image file is missing, corrupt, truncated or of an unsupported layout."""


class AnnotationError(InputFileError):
    """A dot annotation file is malformed or does not fit its image."""


class ModelFileError(InputFileError):
    """A model file is refused by the safe loader (never executed)."""
