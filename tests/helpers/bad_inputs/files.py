"""The broken, hostile and odd files of the bad-input corpus, as bytes: headers declaring sizes their data does not
hold (decompression bombs among them), offsets past the end of the file, damaged checksums and depths, and formats
not read here."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import tifffile
from PIL import Image

from helpers.bad_inputs.pixels import bmp_bytes, cells, gray, jpeg_bytes, png_bytes, tiff_bytes

BOMB_SIDE = 30_000


# --- hand-made headers -----------------------------------------------------------------------

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int, rows_of_zeros: int | None = None, extra: bytes = b"") -> bytes:
    """A grayscale PNG declaring ``width``×``height``; its data is ``rows_of_zeros`` zero rows
    (all rows when None), compressed as they stream so no row buffer is ever the whole image."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    squeeze = zlib.compressobj(9)
    rows = height if rows_of_zeros is None else rows_of_zeros
    block = bytes((width + 1) * min(rows, 512))
    data, left = [], rows
    while left > 0:
        take = min(left, 512)
        data.append(squeeze.compress(block[: (width + 1) * take]))
        left -= take
    data.append(squeeze.flush())
    return b"\x89PNG\r\n\x1a\n" + header + extra + png_chunk(b"IDAT", b"".join(data)) + png_chunk(b"IEND", b"")


def tiff_declaring(width: int, height: int, tile: int | None = None, compressed_tile: bytes | None = None,
                   strip: bytes = b"\0" * 64) -> bytes:
    """A little-endian 8-bit gray TIFF declaring ``width``×``height``: either every tile pointing at the
    same zlib-compressed ``compressed_tile`` (a bomb that decodes in full), or one short strip."""
    entries = []
    body = bytearray(b"II*\0\0\0\0\0")

    def put(data: bytes) -> int:
        offset = len(body)
        body.extend(data)
        if len(body) % 2:
            body.append(0)
        return offset

    if tile:
        tiles = -(-width // tile) * -(-height // tile)
        data_at = put(compressed_tile)
        offsets = put(struct.pack(f"<{tiles}I", *[data_at] * tiles))
        counts = put(struct.pack(f"<{tiles}I", *[len(compressed_tile)] * tiles))
        entries += [(259, 3, 1, 8), (322, 4, 1, tile), (323, 4, 1, tile), (324, 4, tiles, offsets),
                    (325, 4, tiles, counts)]
    else:
        data_at = put(strip)
        entries += [(259, 3, 1, 1), (273, 4, 1, data_at), (278, 4, 1, height), (279, 4, 1, len(strip))]
    entries += [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (262, 3, 1, 1), (277, 3, 1, 1)]
    entries.sort()
    ifd_at = len(body)
    body.extend(struct.pack("<H", len(entries)))
    for tag, kind, count, value in entries:
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 and count == 1 else struct.pack("<I", value)
        body.extend(struct.pack("<HHI", tag, kind, count) + packed)
    body.extend(struct.pack("<I", 0))
    body[4:8] = struct.pack("<I", ifd_at)
    return bytes(body)


def zlib_bomb_tiff(side: int = BOMB_SIDE) -> bytes:
    """``side``×``side`` zeros, zlib tiles of 2048², all sharing one compressed tile: tiny on disk,
    ``side``² bytes when decoded."""
    return tiff_declaring(side, side, tile=2048, compressed_tile=zlib.compress(bytes(2048 * 2048), 9))


def jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(jpeg_bytes(cells()))
    at = data.index(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    data = bytearray(bmp_bytes(Image.fromarray(cells())))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def with_bytes(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new):]


# --- broken and odd files --------------------------------------------------------------------

def pages_one_at_a_time() -> bytes:
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as writer:
        for plane in (gray(), 255 - gray(), gray() // 2):
            writer.write(plane)
    return buffer.getvalue()


def broken_second_page() -> bytes:
    """Two pages; the offset to the second IFD points past the end of the file."""
    data = bytearray(pages_one_at_a_time())
    first_ifd = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[first_ifd:first_ifd + 2])[0]
    next_at = first_ifd + 2 + 12 * count
    data[next_at:next_at + 4] = struct.pack("<I", len(data) + 10_000)
    return bytes(data)


def strip_past_end() -> bytes:
    data = bytearray(tiff_bytes(gray()))
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        tag = tif.pages[0].tags["StripOffsets"]
        at, offset = tag.valueoffset, tag.value
    if isinstance(offset, tuple):
        offset = offset[0]
    data[at:at + 4] = struct.pack("<I", len(data) + 4096)
    return bytes(data)


def ifd_past_end() -> bytes:
    data = bytearray(tiff_bytes(gray()))
    data[4:8] = struct.pack("<I", len(data) * 4)
    return bytes(data)


def png_bad_crc() -> bytes:
    data = png_bytes(cells())
    return with_bytes(data, 29, bytes([data[29] ^ 0xFF]))  # the IHDR checksum's first byte


def png_with_ihdr(width=96, height=96, depth=8, colour=2) -> bytes:
    data = png_bytes(cells())
    return data[:8] + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)) + data[33:]


def ztxt_bomb() -> bytes:
    text = png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"A" * (64 * 1024 * 1024), 9))
    data = png_bytes(cells())
    return data[:33] + text + data[33:]


def jpeg_noise() -> bytes:
    data = jpeg_bytes(cells())
    return data[:2] + np.random.default_rng(0).integers(0, 256, len(data) - 2, dtype=np.uint8).tobytes()


def bmp_bad_depth() -> bytes:
    return with_bytes(bmp_bytes(Image.fromarray(cells())), 28, struct.pack("<H", 7))


def bmp_data_offset_past_end() -> bytes:
    data = bmp_bytes(Image.fromarray(cells()))
    return with_bytes(data, 10, struct.pack("<I", len(data) * 3))


def cmyk_tiff() -> bytes:
    cmyk = np.asarray(Image.fromarray(cells()).convert("CMYK"))
    return tiff_bytes(cmyk, photometric="separated")


def gray_reversed_palette_bmp() -> bytes:
    image = Image.fromarray(255 - gray()).convert("P")
    image.putpalette([v for i in range(256) for v in (255 - i,) * 3])
    return bmp_bytes(image)


def imagej_stack(shape, axes) -> bytes:
    planes = int(np.prod(shape[:-2]))
    stack = np.stack([np.roll(gray(), 7 * i, axis=1) for i in range(planes)]).reshape(shape)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, stack, imagej=True, metadata={"axes": axes})
    return buffer.getvalue()


def zip_bytes() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cells.png", png_bytes(cells()))
    return buffer.getvalue()


def cielab_tiff() -> bytes:
    return tiff_bytes(cells(), photometric="cielab")


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(cells()).save(buffer, format="GIF")
    return buffer.getvalue()


def webp_header() -> bytes:
    return b"RIFF" + struct.pack("<I", 4096) + b"WEBPVP8 " + bytes(4088)
