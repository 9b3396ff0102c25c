"""The bad-input corpus (issue 31): broken, hostile and merely odd files, each with the outcome
``countxplain count`` must give it when it meets the file in a folder.

``CASES`` lists them; ``make_corpus(folder)`` writes them all into ``folder``. Outcomes:

* ``refused``: exactly one ``error: FILE: reason`` line on stderr, whose reason holds ``words``;
* ``counted``: a legitimately readable odd image, counted (a line on stdout and a CSV row);
* ``ignored``: not an image name, so a folder walk passes it by in silence.

A case with ``named`` is also given on the command line by its path (a folder walk skips names
without an image suffix; named, they are refused).

``python tests/helpers/bad_inputs.py`` prints the table of ``docs/bad-inputs.md``; ``--write`` puts it there.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import tifffile
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "resources" / "samples" / "dsb2018-fluo-693bc645.png"
BOMB_SIDE = 30_000


@dataclass(frozen=True)
class Case:
    name: str  # file name in the corpus folder (os.fsdecode form for bytes that are not UTF-8)
    group: str
    what: str
    expect: str  # "refused", "counted" or "ignored"
    make: Callable[[Path], None]
    words: str = ""  # part of the refusal's reason
    named: bool = False


# --- pixel sources ---------------------------------------------------------------------------

def cells() -> np.ndarray:
    """A 96×96 RGB crop of a bundled fluorescence sample (uint8)."""
    rgb = np.asarray(Image.open(SAMPLE).convert("RGB"))
    return np.ascontiguousarray(rgb[64:160, 64:160])


def gray() -> np.ndarray:
    return cells()[:, :, 1]


def scaled_float(with_value=None, every=35) -> np.ndarray:
    """The gray crop as float32 in 0-1000, with 1 pixel in ``every`` set to ``with_value``."""
    values = gray().astype(np.float32) * (1000.0 / 255.0)
    if with_value is not None:
        values.reshape(-1)[::every] = with_value
    return values


def png_bytes(array: np.ndarray, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def bmp_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="BMP")
    return buffer.getvalue()


def tiff_bytes(array: np.ndarray, **write) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **write)
    return buffer.getvalue()


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


# --- writers ---------------------------------------------------------------------------------

def write(data_or_function) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(data_or_function() if callable(data_or_function) else data_or_function)
    return make


def imwrite(array_function, **kwargs) -> Callable[[Path], None]:
    return write(lambda: tiff_bytes(array_function(), **kwargs))


def pillow(image_function, format, **save) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        image_function().save(path, format=format, **save)
    return make


def cut(data_function, keep) -> Callable[[Path], None]:
    """The file truncated to ``keep`` bytes (an int, or a function of the length)."""
    def make(path: Path) -> None:
        data = data_function()
        path.write_bytes(data[: keep(len(data)) if callable(keep) else keep])
    return make


def folder(path: Path) -> None:
    path.mkdir()


def fifo(path: Path) -> None:
    os.mkfifo(path)


def link_to(target: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        os.symlink(target, path)
    return make


def _pages_one_at_a_time() -> bytes:
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as writer:
        for plane in (gray(), 255 - gray(), gray() // 2):
            writer.write(plane)
    return buffer.getvalue()


def _broken_second_page() -> bytes:
    """Two pages; the offset to the second IFD points past the end of the file."""
    data = bytearray(_pages_one_at_a_time())
    first_ifd = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[first_ifd:first_ifd + 2])[0]
    next_at = first_ifd + 2 + 12 * count
    data[next_at:next_at + 4] = struct.pack("<I", len(data) + 10_000)
    return bytes(data)


def _strip_past_end() -> bytes:
    data = bytearray(tiff_bytes(gray()))
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        tag = tif.pages[0].tags["StripOffsets"]
        at, offset = tag.valueoffset, tag.value
    if isinstance(offset, tuple):
        offset = offset[0]
    data[at:at + 4] = struct.pack("<I", len(data) + 4096)
    return bytes(data)


def _ifd_past_end() -> bytes:
    data = bytearray(tiff_bytes(gray()))
    data[4:8] = struct.pack("<I", len(data) * 4)
    return bytes(data)


def _png_bad_crc() -> bytes:
    data = png_bytes(cells())
    return with_bytes(data, 29, bytes([data[29] ^ 0xFF]))  # the IHDR checksum's first byte


def _png_header(width=96, height=96, depth=8, colour=2) -> bytes:
    data = png_bytes(cells())
    return data[:8] + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)) + data[33:]


def _ztxt_bomb() -> bytes:
    text = png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"A" * (64 * 1024 * 1024), 9))
    data = png_bytes(cells())
    return data[:33] + text + data[33:]


def _jpeg_noise() -> bytes:
    data = jpeg_bytes(cells())
    return data[:2] + np.random.default_rng(0).integers(0, 256, len(data) - 2, dtype=np.uint8).tobytes()


def _bmp_bad_depth() -> bytes:
    return with_bytes(bmp_bytes(Image.fromarray(cells())), 28, struct.pack("<H", 7))


def _bmp_data_offset_past_end() -> bytes:
    data = bmp_bytes(Image.fromarray(cells()))
    return with_bytes(data, 10, struct.pack("<I", len(data) * 3))


def _cmyk_tiff() -> bytes:
    cmyk = np.asarray(Image.fromarray(cells()).convert("CMYK"))
    return tiff_bytes(cmyk, photometric="separated")


def _palette(colours=48) -> Image.Image:
    return Image.fromarray(cells()).quantize(colours)


def _rgba_palette_png() -> Image.Image:
    image = _palette()
    image.info["transparency"] = 0
    return image


def _gray_reversed_palette_bmp() -> bytes:
    image = Image.fromarray(255 - gray()).convert("P")
    image.putpalette([v for i in range(256) for v in (255 - i,) * 3])
    return bmp_bytes(image)


def _imagej(shape, axes) -> bytes:
    planes = int(np.prod(shape[:-2]))
    stack = np.stack([np.roll(gray(), 7 * i, axis=1) for i in range(planes)]).reshape(shape)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, stack, imagej=True, metadata={"axes": axes})
    return buffer.getvalue()


def _zip_bytes() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cells.png", png_bytes(cells()))
    return buffer.getvalue()


def _cielab_tiff() -> bytes:
    return tiff_bytes(cells(), photometric="cielab")


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(cells()).save(buffer, format="GIF")
    return buffer.getvalue()


def _webp() -> bytes:
    return b"RIFF" + struct.pack("<I", 4096) + b"WEBPVP8 " + bytes(4088)


def _complex() -> np.ndarray:
    values = scaled_float()
    return (values + 1j * values[::-1]).astype(np.complex64)


def _bool() -> np.ndarray:
    return gray() > 40


NON_UTF8_NAME = os.fsdecode(b"latin-1 caf\xe9.png")
CASES: list[Case] = []


def case(name, group, what, expect, make, words="", named=False):
    CASES.append(Case(name, group, what, expect, make, words, named))


# --- empty, renamed, wrong content -------------------------------------------------------------
for suffix in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"):
    case(f"empty{suffix}", "empty", f"0 bytes named {suffix}", "refused", write(b""), "empty")
case("png named.jpg", "renamed", "a PNG named .jpg", "counted", write(lambda: png_bytes(cells())))
case("jpeg named.png", "renamed", "a JPEG named .png", "counted", write(lambda: jpeg_bytes(cells())))
case("tiff named.png", "renamed", "a TIFF named .png", "counted", write(lambda: tiff_bytes(cells(), photometric="rgb")))
case("png named.tif", "renamed", "a PNG named .tif", "counted", write(lambda: png_bytes(cells())))
case("bmp named.tiff", "renamed", "a BMP named .tiff", "counted",
     write(lambda: bmp_bytes(Image.fromarray(cells()))))
case("jpeg named.bmp", "renamed", "a JPEG named .bmp", "counted", write(lambda: jpeg_bytes(cells())))
case("UPPER CASE.PNG", "renamed", "a PNG named .PNG", "counted", write(lambda: png_bytes(cells())))
case("png named.gif", "renamed", "a PNG named .gif", "refused", write(lambda: png_bytes(cells())),
     "unsupported file type '.gif'", named=True)
case("png without suffix", "renamed", "a PNG with no suffix", "refused",
     write(lambda: png_bytes(cells())), "unsupported file type ''", named=True)
case("notes.txt", "renamed", "a text file with no image suffix, in the folder", "ignored", write(b"x,y\n1,2\n"))
case("text.png", "wrong content", "text named .png", "refused", write(b"this is not an image\n" * 20), "not an image")
case("text.tif", "wrong content", "text named .tif", "refused", write(b"this is not a TIFF\n" * 20), "not an image")
case("gif named.png", "wrong content", "a GIF named .png", "refused", write(_gif), "not an image")
case("webp named.jpg", "wrong content", "a WebP header named .jpg", "refused", write(_webp), "not an image")
case("zip named.tiff", "wrong content", "a ZIP archive named .tiff", "refused", write(_zip_bytes), "not an image")
case("noise.bmp", "wrong content", "random bytes named .bmp", "refused",
     write(lambda: np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()), "not an image")

# --- truncated -------------------------------------------------------------------------------
for keep, label in ((8, "after the signature"), (33, "after IHDR"), (80, "inside IDAT"),
                    (lambda n: n // 2, "at half")):
    case(f"png cut {label}.png", "truncated", f"PNG cut {label}", "refused", cut(lambda: png_bytes(cells()), keep),
         "truncated" if keep != 8 and keep != 33 else "")
case("png without IEND.png", "truncated", "PNG missing only its IEND chunk (all pixels present)", "counted",
     cut(lambda: png_bytes(cells()), lambda n: n - 12))
for keep, label in ((2, "after SOI"), (300, "inside the tables"), (lambda n: n // 2, "at half"),
                    (lambda n: n - 2, "missing EOI")):
    case(f"jpeg cut {label}.jpg", "truncated", f"JPEG cut {label}", "refused", cut(lambda: jpeg_bytes(cells()), keep))
for keep, label in ((4, "after the magic"), (8, "after the header"), (lambda n: n // 2, "at half"),
                    (lambda n: n - 1, "by one byte")):
    case(f"tiff cut {label}.tif", "truncated", f"TIFF cut {label}", "refused",
         cut(lambda: tiff_bytes(gray()), keep))
for keep, label in ((14, "after the file header"), (54, "after the info header"), (lambda n: n // 2, "at half")):
    case(f"bmp cut {label}.bmp", "truncated", f"BMP cut {label}", "refused",
         cut(lambda: bmp_bytes(Image.fromarray(cells())), keep))

# --- corrupt headers ---------------------------------------------------------------------------
case("png bad crc.png", "corrupt header", "PNG whose IHDR checksum is wrong", "refused", write(_png_bad_crc))
case("png width 0.png", "corrupt header", "PNG declaring width 0", "refused", write(lambda: _png_header(width=0)))
case("png depth 3.png", "corrupt header", "PNG declaring bit depth 3", "refused", write(lambda: _png_header(depth=3)))
case("jpeg noise.jpg", "corrupt header", "JPEG start marker followed by noise", "refused", write(_jpeg_noise))
case("bmp depth 7.bmp", "corrupt header", "BMP declaring 7 bits per pixel", "refused", write(_bmp_bad_depth))
case("bmp data past end.bmp", "corrupt header", "BMP whose pixel data offset lies past the end", "refused",
     write(_bmp_data_offset_past_end))
case("tiff ifd past end.tif", "corrupt header", "TIFF whose first IFD offset lies past the end", "refused",
     write(_ifd_past_end))
case("tiff strip past end.tif", "corrupt header", "TIFF whose strip offset lies past the end", "refused",
     write(_strip_past_end), "truncated")
case("tiff broken second page.tif", "corrupt header",
     "three-page TIFF whose second-page offset lies past the end (tifffile logs 'invalid offset')", "counted",
     write(_broken_second_page))
case("tiff bad byte order.tif", "corrupt header", "TIFF with byte order 'IM'", "refused",
     write(lambda: with_bytes(tiff_bytes(gray()), 0, b"IM")), "not an image")

# --- bombs -------------------------------------------------------------------------------------
case("bomb zlib 30000x30000.tif", "bomb", f"zlib-tiled TIFF decoding to {BOMB_SIDE}×{BOMB_SIDE} zeros (a few kB)",
     "refused", write(zlib_bomb_tiff), "too large")
case("bomb zeros 10000x10000.png", "bomb", "10,000×10,000 all-zero PNG (about 100 kB)", "refused",
     write(lambda: png_declaring(10_000, 10_000)), "too large")
case("bomb header png.png", "bomb", "PNG header declaring 100,000×100,000 with one row of data", "refused",
     write(lambda: png_declaring(100_000, 100_000, rows_of_zeros=1)), "too large")
case("bomb header jpeg.jpg", "bomb", "JPEG header declaring 65,000×65,000", "refused",
     write(lambda: jpeg_declaring(65_000, 65_000)), "too large")
case("bomb header bmp.bmp", "bomb", "BMP header declaring 50,000×50,000", "refused",
     write(lambda: bmp_declaring(50_000, 50_000)), "too large")
case("bomb header tiff.tif", "bomb", "TIFF header declaring 100,000×100,000 with one short strip", "refused",
     write(lambda: tiff_declaring(100_000, 100_000)), "too large")
case("bomb text chunk.png", "bomb", "PNG with a zTXt chunk inflating to 64 MB", "refused", write(_ztxt_bomb),
     "too large")

# --- sizes -------------------------------------------------------------------------------------
case("one row 1x500.png", "size", "1×500 PNG", "refused", write(lambda: png_bytes(np.zeros((1, 500), np.uint8))),
     "at least 8×8")
case("one column 500x1.png", "size", "500×1 PNG", "refused",
     write(lambda: png_bytes(np.zeros((500, 1), np.uint8))), "at least 8×8")
case("one row 1x1000.tif", "size", "1×1000 TIFF", "refused", imwrite(lambda: np.zeros((1, 1000), np.uint16)),
     "at least 8×8")
case("seven 7x7.png", "size", "7×7 PNG", "refused", write(lambda: png_bytes(cells()[:7, :7])), "at least 8×8")
case("eight 8x8.png", "size", "8×8 PNG (the smallest counted)", "counted", write(lambda: png_bytes(cells()[:8, :8])))

# --- pixel values ------------------------------------------------------------------------------
case("nan float32.tif", "values", "float32, 1 pixel in 35 NaN", "counted", imwrite(lambda: scaled_float(np.nan)))
case("inf float32.tif", "values", "float32, 1 pixel in 35 +Inf", "counted", imwrite(lambda: scaled_float(np.inf)))
case("minus inf float32.tif", "values", "float32, 1 pixel in 35 -Inf", "counted",
     imwrite(lambda: scaled_float(-np.inf)))
case("all nan float32.tif", "values", "float32, every pixel NaN", "refused",
     imwrite(lambda: np.full((32, 32), np.nan, np.float32)), "no pixel has a finite value")
case("constant uint16.tif", "values", "uint16, every pixel 1234", "counted",
     imwrite(lambda: np.full((64, 64), 1234, np.uint16)))
case("constant zero.png", "values", "8-bit, every pixel 0", "counted",
     write(lambda: png_bytes(np.zeros((64, 64), np.uint8))))
case("complex64.tif", "values", "complex64 pixels", "refused", imwrite(_complex), "complex")
case("bool.tif", "values", "bool pixels", "counted", imwrite(_bool))
case("int8.tif", "values", "int8 pixels (negative values)", "counted",
     imwrite(lambda: (gray().astype(np.int16) - 128).astype(np.int8)))
case("int16 negative.tif", "values", "int16 pixels from -30,000", "counted",
     imwrite(lambda: (gray().astype(np.int16) * 100 - 30_000).astype(np.int16)))
case("uint32.tif", "values", "uint32 pixels", "counted", imwrite(lambda: gray().astype(np.uint32) * 1_000_000))
case("float64.tif", "values", "float64 pixels in 0-1000", "counted", imwrite(lambda: scaled_float().astype(np.float64)))
case("float64 huge.tif", "values", "float64 pixels near 1e300 (beyond float32)", "counted",
     imwrite(lambda: gray().astype(np.float64) * 1e298))
case("float16.tif", "values", "float16 pixels", "counted", imwrite(lambda: (gray() / 255.0).astype(np.float16)))
case("uint16.png", "values", "16-bit grayscale PNG", "counted",
     write(lambda: png_bytes(gray().astype(np.uint16) * 200)))

# --- channels and colour -----------------------------------------------------------------------
case("two channel.tif", "channels", "gray + alpha TIFF (2 samples)", "counted",
     imwrite(lambda: np.dstack([gray(), np.full_like(gray(), 255)]), photometric="minisblack",
             extrasamples=["unassalpha"]))
case("gray alpha.png", "channels", "gray + alpha PNG (LA)", "counted",
     pillow(lambda: Image.fromarray(gray()).convert("LA"), "PNG"))
case("rgba.tif", "channels", "RGBA TIFF (4 samples)", "counted",
     imwrite(lambda: np.dstack([cells(), np.full_like(gray(), 255)]), photometric="rgb", extrasamples=["unassalpha"]))
case("five channel.tif", "channels", "5-channel TIFF", "refused",
     imwrite(lambda: np.dstack([gray()] * 5), photometric="minisblack", planarconfig="contig"), "channel")
case("planar rgb.tif", "channels", "RGB TIFF stored planar (one plane per colour)", "counted",
     imwrite(lambda: np.moveaxis(cells(), 2, 0), photometric="rgb", planarconfig="separate"))
case("cmyk.tif", "channels", "CMYK TIFF", "counted", write(_cmyk_tiff))
case("cmyk.jpg", "channels", "CMYK JPEG", "counted", pillow(lambda: Image.fromarray(cells()).convert("CMYK"), "JPEG"))
case("min is white.tif", "channels", "gray TIFF storing 0 as white", "counted",
     imwrite(lambda: 255 - gray(), photometric="miniswhite"))
case("cielab.tif", "channels", "CIELAB TIFF", "refused", write(_cielab_tiff), "colour space")
case("one bit.png", "channels", "1-bit PNG", "counted", pillow(lambda: Image.fromarray(gray() > 40), "PNG"))
case("palette.png", "palette", "8-bit palette PNG", "counted", pillow(_palette, "PNG"))
case("palette transparent.png", "palette", "palette PNG with a transparent colour", "counted",
     pillow(_rgba_palette_png, "PNG"))
case("palette.bmp", "palette", "8-bit palette BMP", "counted", pillow(_palette, "BMP"))
case("palette 16 colours.bmp", "palette", "4-bit palette BMP", "counted", pillow(lambda: _palette(16), "BMP"))
case("palette reversed gray.bmp", "palette", "8-bit BMP whose palette runs white to black", "counted",
     write(_gray_reversed_palette_bmp))
case("one bit.bmp", "palette", "1-bit BMP", "counted", pillow(lambda: Image.fromarray(gray() > 40), "BMP"))
case("palette.tif", "palette", "TIFF with a colormap", "counted", pillow(_palette, "TIFF"))
case("lzw.tif", "compression", "LZW-compressed RGB TIFF (read by Pillow: tifffile needs imagecodecs)", "counted",
     pillow(lambda: Image.fromarray(cells()), "TIFF", compression="tiff_lzw"))

# --- pages -------------------------------------------------------------------------------------
case("three pages.tif", "pages", "3-page TIFF", "refused", imwrite(lambda: np.stack([gray()] * 3),
                                                                   photometric="minisblack"), "page")
case("pages one at a time.tif", "pages", "3 pages written one at a time", "refused", write(_pages_one_at_a_time),
     "page")
case("five d TZCYX.tif", "pages", "5-D ImageJ hyperstack (T2 Z3 C2)", "refused",
     write(lambda: _imagej((2, 3, 2, 96, 96), "TZCYX")), "page")
case("three channels CYX.tif", "pages", "ImageJ stack of 3 channels (read as RGB)", "counted",
     write(lambda: _imagej((3, 96, 96), "CYX")))

# --- not files ---------------------------------------------------------------------------------
case("folder.png", "not a file", "an empty folder named .png", "refused", folder, "is a folder")
case("pipe.png", "not a file", "a named pipe (FIFO) named .png", "refused", fifo, "named pipe")
case("loop.png", "not a file", "a symbolic link to itself", "refused", link_to("loop.png"), "link loop")
case("ping.tif", "not a file", "a link to pong.tif, which links back", "refused", link_to("pong.tif"), "link loop")
case("pong.tif", "not a file", "a link to ping.tif, which links back", "refused", link_to("ping.tif"), "link loop")
case("dangling.png", "not a file", "a link to a file that does not exist", "refused", link_to("gone.png"),
     "does not exist")
case("link to good.png", "not a file", "a link to a readable PNG", "counted", link_to("png named.jpg"))
case("folder loop", "not a file", "a link to its own folder (not followed)", "ignored", link_to("."))

# --- odd names ---------------------------------------------------------------------------------
case("name with  spaces .png", "names", "spaces, two of them together", "counted", write(lambda: png_bytes(cells())))
case("new\nline.png", "names", "a line break in the name", "counted", write(lambda: png_bytes(cells())))
case("new\nline broken.png", "names", "a line break in the name of a broken file", "refused",
     write(b"not a png"), "not an image")
case("tab\tname.tif", "names", "a tab in the name", "counted", imwrite(gray))
case(NON_UTF8_NAME, "names", "bytes that are not UTF-8 (Latin-1 é)", "counted", write(lambda: png_bytes(cells())))
case(os.fsdecode(b"broken caf\xe9.jpg"), "names", "bytes that are not UTF-8, broken file", "refused",
     write(b"not a jpeg"), "not an image")
case("unicode ünï 細胞 🦠.png", "names", "accents, CJK and an emoji", "counted", write(lambda: png_bytes(cells())))
case('comma, "quote".png', "names", "a comma and quotes (CSV quoting)", "counted", write(lambda: png_bytes(cells())))
case("-starts-with-dash.png", "names", "a leading dash", "counted", write(lambda: png_bytes(cells())))
case("long " + "n" * 240 + ".png", "names", "a 249-character name", "counted", write(lambda: png_bytes(cells())))


def make_corpus(folder_path: Path) -> list[tuple[Case, Path]]:
    """Write every case into ``folder_path`` (created); return each case with its path."""
    folder_path.mkdir(parents=True, exist_ok=True)
    made = []
    for item in CASES:
        path = folder_path / item.name
        item.make(path)
        made.append((item, path))
    return made


def markdown_table() -> str:
    from countxplain.errors import shown_path

    counts = {expect: sum(c.expect == expect for c in CASES) for expect in ("refused", "counted", "ignored")}
    lines = [f"{len(CASES)} cases: {counts['refused']} refused in one line, {counts['counted']} counted, "
             f"{counts['ignored']} passed by in a folder walk.", "",
             "| # | group | file name | what it is | outcome |", "|---|---|---|---|---|"]
    for number, item in enumerate(CASES, 1):
        outcome = item.expect + (f": \"…{item.words}…\"" if item.words else "")
        if item.named:
            outcome += " (given by name)"
        name = shown_path(item.name).replace("|", "\\|")
        lines.append(f"| {number} | {item.group} | `{name}` | {item.what} | {outcome} |")
    return "\n".join(lines) + "\n"


DOCUMENT = REPO_ROOT / "docs" / "bad-inputs.md"
TABLE_START, TABLE_END = "<!-- corpus-table:start -->\n", "<!-- corpus-table:end -->"


def write_document_table() -> None:
    """Put the current table between the markers of docs/bad-inputs.md."""
    text = DOCUMENT.read_text(encoding="utf-8")
    before, rest = text.split(TABLE_START)
    _, after = rest.split(TABLE_END)
    DOCUMENT.write_text(before + TABLE_START + markdown_table() + TABLE_END + after, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_document_table()
    else:
        sys.stdout.write(markdown_table())
