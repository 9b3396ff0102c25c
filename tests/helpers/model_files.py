"""Damaged copies of model files, made the way a bad disk or copy damages them."""

from __future__ import annotations

import io
import struct
import zipfile


def with_weight_byte_flipped(data: bytes) -> tuple[bytes, str]:
    """``data`` with one byte inverted in the middle of its largest stored tensor, and that part's name.

    The archive's structure is untouched, so only the part's CRC-32 tells the change."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part = max((info for info in archive.infolist() if "/data/" in info.filename), key=lambda info: info.file_size)
    name_length, extra_length = struct.unpack("<HH", data[part.header_offset + 26:part.header_offset + 30])
    start = part.header_offset + 30 + name_length + extra_length
    where = start + part.file_size // 2
    damaged = bytearray(data)
    damaged[where] ^= 0xFF
    return bytes(damaged), part.filename
