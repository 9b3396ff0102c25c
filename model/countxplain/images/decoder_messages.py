"""The decoders' own warnings and log messages (Pillow, tifffile, numpy), kept from the terminal while an image is
read, and the first of them added to a refusal's reason where it explains it."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import warnings

import numpy as np

from ..errors import ImageReadError

# Image reading swaps the process-wide warning filters and the tifffile logger's handlers;
# one read at a time keeps two threads from restoring each other's state.
READ_LOCK = threading.RLock()


@contextlib.contextmanager
def decoder_messages_caught():
    """Collect the warnings and tifffile log messages raised inside; none reaches the terminal."""
    heard: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            heard.append(record.getMessage())

    logger = logging.getLogger("tifffile")
    handler = Collect(logging.WARNING)
    with READ_LOCK:
        propagate = logger.propagate
        logger.addHandler(handler)
        logger.propagate = False
        try:
            with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
                warnings.simplefilter("always")
                try:
                    yield heard
                finally:
                    heard.extend(str(w.message) for w in caught)
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate


def with_first_message(error: ImageReadError, heard: list[str]) -> ImageReadError:
    """The error, with the first decoder message added to its reason where it says something new."""
    for message in heard:
        line = re.sub(r"^<[^>]*>\s*", "", " ".join(message.split()))  # tifffile's '<tifffile.TiffPages @8>'
        if line and line not in error.reason:
            if len(line) > 160:
                line = line[:159] + "…"
            return ImageReadError(error.path, f"{error.reason} (decoder: {line})")
    return error
