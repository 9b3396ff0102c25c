"""Turning what a user opened or dropped (files and folders) into a list of image paths."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from countxplain.images import is_image_file


def expand_paths(paths: Iterable[str | Path]) -> list[str]:
    """Files as given (unreadable ones are listed with their reason later); folders
    searched recursively for image files, in sorted order; duplicates removed."""
    found: list[str] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = str(path.resolve()) if path.exists() else str(path.absolute())
        if key not in seen:
            seen.add(key)
            found.append(key)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(folder_images(path)):
                add(child)
        else:
            add(path)
    return found


def folder_images(folder: Path) -> Iterator[Path]:
    """The image-named entries of a folder and its subfolders other than folders, hidden ones left out (in no
    set order): pipes and broken links named like images are listed too, so the list shows why each fails."""
    return (child for child in folder.rglob("*")
            if is_image_file(child) and not child.name.startswith(".") and not child.is_dir())
