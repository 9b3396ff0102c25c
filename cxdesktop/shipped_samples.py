"""The bundled sample images are never written (Qt-free): before their dots change, the image and its dot file
are copied to the user's own folder and edited there.

The install folder (``countxplain.resources.resources_dir``: the checkout's ``resources/``, or the frozen
bundle's) may be read-only, is replaced on update, and is shared by every user of the machine.
"""

from __future__ import annotations

from itertools import count
from pathlib import Path

from countxplain import resources
from countxplain.annotations import atomic_write_bytes
from countxplain.datasets import sidecar_path


def is_shipped(path: str | Path) -> bool:
    """Whether ``path`` lies inside the app's install folder."""
    try:
        return Path(path).resolve().is_relative_to(resources.resources_dir().resolve())
    except OSError:
        return False


def copy_for_editing(image: str | Path, data_folder: Path) -> Path:
    """Copy a shipped image and its dot file to ``<data folder>/samples`` (``samples-2``, … where a copy of that
    name is there already: an earlier copy keeps the user's dots) and return the copy's path."""
    image = Path(image)
    for n in count(1):
        folder = data_folder / ("samples" if n == 1 else f"samples-{n}")
        copy = folder / image.name
        if not copy.exists() and not sidecar_path(copy).exists():
            break
    atomic_write_bytes(copy, image.read_bytes())
    sidecar = sidecar_path(image)
    if sidecar.exists():
        atomic_write_bytes(sidecar_path(copy), sidecar.read_bytes())
    return copy
