"""The work kept between runs, as a plain JSON file: the listed images, each one's cell size and
boxes, and the model in use. Qt-free; written atomically (a temporary file renamed into place).

    {"format": "cxdesktop-session", "version": 1, "model": "/path/model.cxm", "current": "/path/a.png",
     "images": [{"path": "/path/a.png", "cell_diameter_px": 14.5, "boxes": [[x0, y0, x1, y1], ...],
                 "page": 1, "channel": null}],
     "pixel_sizes": {"/path": 0.325}}

``page`` and ``channel`` (0-based; null: the first of several) and ``pixel_sizes`` (µm per pixel given for a
folder) may be absent, as in files written before they were kept.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = "cxdesktop-session"
VERSION = 1
SESSION_FILE_NAME = "session.json"


class SessionFileError(Exception):
    """The session file cannot be read; the message is one line for the user."""


@dataclass
class SavedImage:
    path: str
    cell_diameter_px: float | None = None  # None: automatic
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # image pixels
    page: int | None = None
    channel: int | None = None


@dataclass
class SavedSession:
    images: list[SavedImage] = field(default_factory=list)
    model: str | None = None
    current: str | None = None
    pixel_sizes: dict[str, float] = field(default_factory=dict)  # folder: µm per pixel

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "model": self.model, "current": self.current,
                "images": [{"path": image.path, "cell_diameter_px": image.cell_diameter_px,
                            "boxes": [list(box) for box in image.boxes], "page": image.page,
                            "channel": image.channel} for image in self.images],
                "pixel_sizes": dict(self.pixel_sizes)}


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_session(path: Path, session: SavedSession) -> None:
    atomic_write_text(path, json.dumps(session.to_json(), indent=1))


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SessionFileError(f"{what} is not a number")
    return float(value)


def _image_from_json(record, index: int) -> SavedImage:
    if not isinstance(record, dict) or not isinstance(record.get("path"), str):
        raise SessionFileError(f"image {index + 1} has no path")
    diameter = record.get("cell_diameter_px")
    diameter = None if diameter is None else _number(diameter, f"the cell size of image {index + 1}")
    boxes = record.get("boxes") or []
    if not isinstance(boxes, list) or not all(isinstance(box, list) and len(box) == 4 for box in boxes):
        raise SessionFileError(f"the boxes of image {index + 1} are not [x0, y0, x1, y1] lists")
    corners = [tuple(_number(v, f"a box corner of image {index + 1}") for v in box) for box in boxes]
    page, channel = (_index(record.get(key), f"the {key} of image {index + 1}") for key in ("page", "channel"))
    return SavedImage(record["path"], diameter if diameter and diameter > 0 else None, corners, page, channel)


def _index(value, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SessionFileError(f"{what} is not a page or channel number")
    return value


def _pixel_sizes(data) -> dict[str, float]:
    sizes = data.get("pixel_sizes") or {}
    if not isinstance(sizes, dict):
        raise SessionFileError("the pixel sizes are not a table of folders")
    numbers = {str(folder): _number(value, f"the pixel size of {folder}") for folder, value in sizes.items()}
    return {folder: value for folder, value in numbers.items() if value > 0}


def session_from_json(data) -> SavedSession:
    """The session a parsed file describes; SessionFileError (one line) when it is not one."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SessionFileError("not a CountXplain Desktop session file")
    if data.get("version") != VERSION:
        raise SessionFileError(f"session file version {data.get('version')!r}, this app reads version {VERSION}")
    images = data.get("images")
    if not isinstance(images, list):
        raise SessionFileError("the session lists no images")
    model, current = data.get("model"), data.get("current")
    return SavedSession([_image_from_json(record, i) for i, record in enumerate(images)],
                        model if isinstance(model, str) else None, current if isinstance(current, str) else None,
                        _pixel_sizes(data))


def read_session(path: Path) -> SavedSession | None:
    """The session saved at ``path``; None when there is none; SessionFileError when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise SessionFileError(f"cannot read {path}: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SessionFileError(f"{path} is damaged (not JSON: {error.msg}, line {error.lineno})") from None
    try:
        return session_from_json(data)
    except SessionFileError as error:
        raise SessionFileError(f"{path}: {error}") from None
