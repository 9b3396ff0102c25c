"""What ``countxplain count INPUT...`` counts: the images that its inputs name, each once.

An input is an image file, a folder (searched recursively), a glob pattern (quoted, so the shell
leaves it alone: ``'plates/**/*.tif'``), an OME-Zarr plate (a folder whose metadata says it is one:
each field of each well is an image), or ``@FILE``: a text file of inputs, one a line (blank lines
and lines starting with ``#`` skipped; a relative path is relative to the list file's folder).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from .errors import InputFileError
from .plates import PlateField, is_plate, plate_fields

LIST_FILE_PREFIX = "@"
GLOB_CHARACTERS = frozenset("*?[")

Item = Path | PlateField  # one image to count: a file, or a field of a plate


def item_path(item: Item) -> Path:
    """The path that names ``item`` in the counts CSV and in messages."""
    return item.path if isinstance(item, PlateField) else item


def collect_images(inputs: list[Path | str]) -> tuple[list[Item], list[tuple[Path, str]]]:
    """The images that ``inputs`` name, each once and in the order given; plus the problems found.

    In a folder, every entry with an image suffix that is not a folder is listed (a pipe or a broken
    link too, so that reading it says what it is); a folder named like an image that holds no image
    is a problem. Names starting with '.' are skipped."""
    images, problems, seen = [], [], set()

    def add(item: Item) -> None:
        key = os.path.normpath(os.path.abspath(item_path(item)))
        if key not in seen:
            seen.add(key)
            images.append(item)

    def expand(path: Path, from_list: bool) -> None:
        text = os.fspath(path)
        if text.startswith(LIST_FILE_PREFIX) and not from_list and not os.path.lexists(path):
            for listed in read_list_file(Path(text[len(LIST_FILE_PREFIX):])):
                expand(listed, from_list=True)
        elif is_plate(path):
            fields, plate_problems = plate_fields(path)
            problems.extend(plate_problems)
            for field in fields:
                add(field)
        elif path.is_dir():
            found, folder_problems = folder_images(path)
            if not found and not folder_problems:
                problems.append((path, "folder holds no PNG, JPEG, BMP or TIFF images"))
            problems.extend(folder_problems)
            for image in found:
                add(image)
        elif os.path.lexists(path):
            add(path)
        elif GLOB_CHARACTERS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                problems.append((path, "no file matches this pattern"))
            for match in matches:
                expand(Path(match), from_list=True)
        else:
            problems.append((path, "file does not exist"))

    for given in inputs:
        expand(Path(given), from_list=False)
    return images, problems


def read_list_file(path: Path) -> list[Path]:
    """The inputs listed in ``path``, one a line; relative ones taken from the list file's folder."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(path, "is not a UTF-8 text file; a list of inputs has one path a line") from None
    except OSError as error:
        raise InputFileError(path, f"list of inputs cannot be read ({error.strerror or error})") from None
    lines = [line.strip() for line in text.splitlines()]
    return [path.parent / line for line in lines if line and not line.startswith("#")]


def folder_images(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The image-named entries under ``folder`` (sorted), and its image-named folders that hold no image."""
    from .images import is_image_file

    found, named_folders = [], []
    for path in sorted(p for p in folder.rglob("*") if is_image_file(p) and not p.name.startswith(".")):
        (named_folders if path.is_dir() else found).append(path)
    problems = [(named, "is a folder, not an image (and holds no image)") for named in named_folders
                if not any(named in image.parents for image in found)]
    return found, problems
