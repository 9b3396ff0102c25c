"""Dot annotations: one (x, y) point per cell, pixel units, origin at the top-left.

Readers for the formats of the public data sets and for user files:

* CSV with header ``x,y`` (one row per cell; extra columns are ignored), or ``x,y,type`` where each dot
  names its counter type (``read_dot_types``; a file without the column is all ``DEFAULT_DOT_TYPE``).
* Red-dot PNG: one pure red (255, 0, 0) pixel per cell (lossless).
* Binary PNG: one set pixel per cell (1-bit or grayscale, nonzero = dot).
* Red dots inside a lossy JPEG: red channel > 127, 8-connected components, one dot
  at each component's centroid (4-connectivity splits touching dots).
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import tempfile
from pathlib import Path

import numpy as np

from .errors import AnnotationError

DOT_IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")
LOSSY_SUFFIXES = (".jpg", ".jpeg")
RED_THRESHOLD = 127
DEFAULT_DOT_TYPE = "cell"


def read_dots(path: str | Path, image_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read dots as float64 array (N, 2) of (x, y); check them against ``image_shape`` (H, W)."""
    return _read(path, image_shape)[0]


def read_dot_types(path: str | Path, image_shape: tuple[int, int] | None = None) -> tuple[np.ndarray, list[str]]:
    """The dots of ``read_dots`` with each one's counter type: from a CSV's ``type`` column (a blank cell, a
    file without the column and a dot-mask image give ``DEFAULT_DOT_TYPE``)."""
    dots, types = _read(path, image_shape)
    return dots, types or [DEFAULT_DOT_TYPE] * len(dots)


def _read(path: str | Path, image_shape: tuple[int, int] | None) -> tuple[np.ndarray, list[str] | None]:
    path = Path(path)
    if not path.exists():
        raise AnnotationError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise AnnotationError(path, "file is empty (0 bytes)")
    suffix = path.suffix.lower()
    types = None
    if suffix == ".csv":
        dots, types = _read_csv(path)
    elif suffix in DOT_IMAGE_SUFFIXES:
        dots = read_dots_image(path)
    else:
        raise AnnotationError(path, f"unsupported annotation type '{suffix}' (use CSV x,y or a dot-mask PNG)")
    if image_shape is not None:
        check_dots_inside(path, dots, image_shape)
    return dots, types


def read_dots_csv(path: Path) -> np.ndarray:
    return _read_csv(path)[0]


def _read_csv(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """The dots and, where the header names a ``type`` column, each dot's type."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise AnnotationError(path, "not a text CSV file") from None
    reader = csv.reader(io.StringIO(text))
    try:  # keep each row's line number in the file (blank lines are skipped, not renumbered)
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise AnnotationError(path, f"line {reader.line_num}: malformed CSV ({error})") from None
    if not rows:
        raise AnnotationError(path, "CSV has no header; expected a first line 'x,y'")
    header_line, header_row = rows[0]
    header = [cell.strip().lower() for cell in header_row]
    if "x" not in header or "y" not in header:
        raise AnnotationError(path, f"line {header_line}: CSV header must name columns 'x' and 'y', "
                                    f"found {header_row!r}")
    ix, iy = header.index("x"), header.index("y")
    it = header.index("type") if "type" in header else None
    dots = np.empty((len(rows) - 1, 2), dtype=np.float64)
    types = None if it is None else [(row[it].strip() if it < len(row) else "") or DEFAULT_DOT_TYPE
                                     for _, row in rows[1:]]
    for index, (line_no, row) in enumerate(rows[1:]):
        try:
            x, y = float(row[ix]), float(row[iy])
        except (IndexError, ValueError):
            raise AnnotationError(path, f"line {line_no}: expected two numbers x,y, found {','.join(row)!r}") from None
        if not (np.isfinite(x) and np.isfinite(y)):
            raise AnnotationError(path, f"line {line_no}: coordinates must be finite numbers")
        dots[index] = (x, y)
    return dots, types


def read_dots_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            array = dot_image_array(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise AnnotationError(path, f"dot image is too large to read safely ({error})") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise AnnotationError(path, f"cannot read the dot image ({error})") from None
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] >= 3)):
        raise AnnotationError(path, f"unsupported dot image layout (array of shape {array.shape}); "
                                    "use a red-dot RGB or a grayscale/binary PNG")
    lossy = path.suffix.lower() in LOSSY_SUFFIXES
    if array.ndim == 2:
        mask = array > (RED_THRESHOLD if lossy else 0)
        return _component_centroids(mask) if lossy else _pixel_positions(mask)
    red, green, blue = (array[:, :, i].astype(np.int16) for i in range(3))
    if lossy:
        return _component_centroids(red > RED_THRESHOLD)
    return _pixel_positions((red == 255) & (green == 0) & (blue == 0))


def dot_image_array(image) -> np.ndarray:
    """A Pillow image as (H, W) grayscale or (H, W, 3+) RGB(A); alpha is ignored.

    A palette image whose colours are all gray is a grayscale mask."""
    bands = image.getbands()
    if image.mode in ("P", "PA"):
        rgb = np.asarray(image.convert("RGBA"))[:, :, :3]
        gray = (rgb[:, :, 0] == rgb[:, :, 1]).all() and (rgb[:, :, 1] == rgb[:, :, 2]).all()
        return rgb[:, :, 0] if gray else rgb
    if image.mode in ("LA", "La"):
        return np.asarray(image.convert("L"))
    if len(bands) == 1 or bands[:3] == ("R", "G", "B"):
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def _pixel_positions(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.stack([xs, ys], axis=1).astype(np.float64)


def _component_centroids(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return np.zeros((0, 2), dtype=np.float64)
    centroids = ndimage.center_of_mass(mask, labels, index=np.arange(1, n + 1))
    return np.array([(x, y) for y, x in centroids], dtype=np.float64)


def check_dots_inside(path: Path, dots: np.ndarray, image_shape: tuple[int, int]) -> None:
    """Dots must lie inside the image (pixel centres from -0.5 to size - 0.5)."""
    h, w = image_shape[:2]
    if len(dots) == 0:
        return
    outside = (dots[:, 0] < -0.5) | (dots[:, 0] > w - 0.5) | (dots[:, 1] < -0.5) | (dots[:, 1] > h - 0.5)
    if outside.any():
        first = dots[np.argmax(outside)]
        raise AnnotationError(path, f"{int(outside.sum())} dot(s) lie outside the {w}×{h} image, "
                                    f"e.g. at x={first[0]:g}, y={first[1]:g}")


def write_dots_csv(path: str | Path, dots: np.ndarray, types=None) -> None:
    """Write dots as CSV ``x,y`` (with ``types``, one name per dot: ``x,y,type``) atomically: a temporary
    file renamed over the target."""
    path = Path(path)
    dots = np.asarray(dots, dtype=np.float64).reshape(-1, 2)
    if types is not None and len(types) != len(dots):
        raise ValueError(f"{len(dots)} dots but {len(types)} types")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("x", "y") if types is None else ("x", "y", "type"))
    for index, (x, y) in enumerate(dots):
        writer.writerow((f"{x:.2f}", f"{y:.2f}") if types is None else (f"{x:.2f}", f"{y:.2f}", types[index]))
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)  # mkstemp makes it 0600
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where folders can be opened and synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files ``atomic_write_bytes`` left beside ``path`` when a process writing it was
    killed; return them."""
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.") + r"[A-Za-z0-9_]{8}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def _mode_for(path: Path) -> int:
    """The permission bits the written file should have: those of the file it replaces, else
    what ``open`` would give a new file (0o666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask: read from /proc where the system has it, else set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
