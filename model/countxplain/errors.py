"""Errors raised for bad user input: each names the file and the reason in one line."""

from __future__ import annotations

import os
from pathlib import Path


def shown_path(path: str | Path) -> str:
    """A path as one line of printable text: bytes that are not UTF-8 as ``\\xNN``, line breaks,
    tabs and other control characters as ``\\n``, ``\\r``, ``\\t`` or ``\\xNN``."""
    text = os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return "".join(c if c.isprintable() else named.get(c, f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
                   for c in text)


class CountXplainError(Exception):
    """Base class of every error meant to be shown to a user as one line."""


class Cancelled(CountXplainError):
    """Raised inside a job (counting, training, a gallery search) when its cancel flag was set."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class InputFileError(CountXplainError):
    """A file a user gave us cannot be used; the message names the file and why."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{shown_path(self.path)}: {reason}")


class ImageReadError(InputFileError):
    """An image file is missing, corrupt, truncated or of an unsupported layout."""


class AnnotationError(InputFileError):
    """A dot annotation file is malformed or does not fit its image."""


class ModelFileError(InputFileError):
    """A model file is refused by the safe loader (never executed)."""
