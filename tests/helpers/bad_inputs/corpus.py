"""The cases of the bad-input corpus, each a file name, its group, what it is, the outcome ``countxplain count`` must
give it and how to make it; ``make_corpus(folder)`` writes them all into a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from helpers.bad_inputs.files import (
    BOMB_SIDE,
    bmp_bad_depth,
    bmp_data_offset_past_end,
    bmp_declaring,
    broken_second_page,
    cielab_tiff,
    cmyk_tiff,
    gif_bytes,
    gray_reversed_palette_bmp,
    ifd_past_end,
    imagej_stack,
    jpeg_declaring,
    jpeg_noise,
    pages_one_at_a_time,
    png_bad_crc,
    png_declaring,
    png_with_ihdr,
    strip_past_end,
    tiff_declaring,
    webp_header,
    with_bytes,
    zip_bytes,
    zlib_bomb_tiff,
    ztxt_bomb,
)
from helpers.bad_inputs.pixels import (
    bmp_bytes,
    bool_pixels,
    cells,
    complex_pixels,
    gray,
    jpeg_bytes,
    palette_image,
    png_bytes,
    scaled_float,
    tiff_bytes,
    transparent_palette_image,
)


@dataclass(frozen=True)
class Case:
    name: str  # file name in the corpus folder (os.fsdecode form for bytes that are not UTF-8)
    group: str
    what: str
    expect: str  # "refused", "counted" or "ignored"
    make: Callable[[Path], None]
    words: str = ""  # part of the refusal's reason
    named: bool = False


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
case("gif named.png", "wrong content", "a GIF named .png", "refused", write(gif_bytes), "not an image")
case("webp named.jpg", "wrong content", "a WebP header named .jpg", "refused", write(webp_header), "not an image")
case("zip named.tiff", "wrong content", "a ZIP archive named .tiff", "refused", write(zip_bytes), "not an image")
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
case("png bad crc.png", "corrupt header", "PNG whose IHDR checksum is wrong", "refused", write(png_bad_crc))
case("png width 0.png", "corrupt header", "PNG declaring width 0", "refused", write(lambda: png_with_ihdr(width=0)))
case("png depth 3.png", "corrupt header", "PNG declaring bit depth 3", "refused", write(lambda: png_with_ihdr(depth=3)))
case("jpeg noise.jpg", "corrupt header", "JPEG start marker followed by noise", "refused", write(jpeg_noise))
case("bmp depth 7.bmp", "corrupt header", "BMP declaring 7 bits per pixel", "refused", write(bmp_bad_depth))
case("bmp data past end.bmp", "corrupt header", "BMP whose pixel data offset lies past the end", "refused",
     write(bmp_data_offset_past_end))
case("tiff ifd past end.tif", "corrupt header", "TIFF whose first IFD offset lies past the end", "refused",
     write(ifd_past_end))
case("tiff strip past end.tif", "corrupt header", "TIFF whose strip offset lies past the end", "refused",
     write(strip_past_end), "truncated")
case("tiff broken second page.tif", "corrupt header",
     "three-page TIFF whose second-page offset lies past the end (tifffile logs 'invalid offset')", "counted",
     write(broken_second_page))
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
case("bomb text chunk.png", "bomb", "PNG with a zTXt chunk inflating to 64 MB", "refused", write(ztxt_bomb),
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
case("complex64.tif", "values", "complex64 pixels", "refused", imwrite(complex_pixels), "complex")
case("bool.tif", "values", "bool pixels", "counted", imwrite(bool_pixels))
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
case("cmyk.tif", "channels", "CMYK TIFF", "counted", write(cmyk_tiff))
case("cmyk.jpg", "channels", "CMYK JPEG", "counted", pillow(lambda: Image.fromarray(cells()).convert("CMYK"), "JPEG"))
case("min is white.tif", "channels", "gray TIFF storing 0 as white", "counted",
     imwrite(lambda: 255 - gray(), photometric="miniswhite"))
case("cielab.tif", "channels", "CIELAB TIFF", "refused", write(cielab_tiff), "colour space")
case("one bit.png", "channels", "1-bit PNG", "counted", pillow(lambda: Image.fromarray(gray() > 40), "PNG"))
case("palette.png", "palette", "8-bit palette PNG", "counted", pillow(palette_image, "PNG"))
case("palette transparent.png", "palette", "palette PNG with a transparent colour", "counted",
     pillow(transparent_palette_image, "PNG"))
case("palette.bmp", "palette", "8-bit palette BMP", "counted", pillow(palette_image, "BMP"))
case("palette 16 colours.bmp", "palette", "4-bit palette BMP", "counted", pillow(lambda: palette_image(16), "BMP"))
case("palette reversed gray.bmp", "palette", "8-bit BMP whose palette runs white to black", "counted",
     write(gray_reversed_palette_bmp))
case("one bit.bmp", "palette", "1-bit BMP", "counted", pillow(lambda: Image.fromarray(gray() > 40), "BMP"))
case("palette.tif", "palette", "TIFF with a colormap", "counted", pillow(palette_image, "TIFF"))
case("lzw.tif", "compression", "LZW-compressed RGB TIFF (read by Pillow: tifffile needs imagecodecs)", "counted",
     pillow(lambda: Image.fromarray(cells()), "TIFF", compression="tiff_lzw"))

# --- pages -------------------------------------------------------------------------------------
case("three pages.tif", "pages", "3-page TIFF", "refused", imwrite(lambda: np.stack([gray()] * 3),
                                                                   photometric="minisblack"), "page")
case("pages one at a time.tif", "pages", "3 pages written one at a time", "refused", write(pages_one_at_a_time),
     "page")
case("five d TZCYX.tif", "pages", "5-D ImageJ hyperstack (T2 Z3 C2)", "refused",
     write(lambda: imagej_stack((2, 3, 2, 96, 96), "TZCYX")), "page")
case("three channels CYX.tif", "pages", "ImageJ stack of 3 channels (read as RGB)", "counted",
     write(lambda: imagej_stack((3, 96, 96), "CYX")))

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
