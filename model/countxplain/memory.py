"""Giving freed memory back to the system between images.

glibc's allocator keeps the pages of freed tensors for reuse, so a process that counts images of
many sizes one after another grows in steps and never shrinks, though nothing leaks
(``benchmarks/batch_memory.py``). ``release_freed_memory`` asks it to return what it holds free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        function = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to ask
        return None
    if function is not None:
        function.argtypes, function.restype = [ctypes.c_size_t], ctypes.c_int
    return function


def release_freed_memory() -> bool:
    """Return the allocator's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    return bool(trim is not None and trim(0) >= 0)
