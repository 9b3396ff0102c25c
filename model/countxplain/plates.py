"""OME-Zarr plates (``plate.zarr/ROW/COLUMN/FIELD``, NGFF 0.4 and 0.5): every field of every well is one image.

A folder is a plate when its Zarr metadata (``.zattrs``, or ``zarr.json`` of Zarr v3) holds the NGFF
``plate`` block; that is read from the JSON alone, so a plain folder never loads ``zarr``. A field is
counted at its full resolution (the first dataset of its multiscales), at the first time point and
the first z plane; its channel axis becomes the image's channels, so ``--channel N`` picks one as it
does for a TIFF.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ImageReadError, InputFileError

PLATE_COLUMNS = ("plate", "row", "column", "field")
METADATA_FILES = (".zattrs", "zarr.json")


@dataclass(frozen=True)
class PlateField:
    """One field (an image) of one well of an OME-Zarr plate."""

    plate: Path
    row: str
    column: str
    field: str

    @property
    def path(self) -> Path:
        return self.plate / self.row / self.column / self.field

    def csv_cells(self) -> dict[str, str]:
        return {"plate": str(self.plate), "row": self.row, "column": self.column, "field": self.field}


def ngff_attributes(metadata: dict) -> dict:
    """The NGFF attributes of a Zarr v2 ``.zattrs`` or v3 ``zarr.json`` document (v0.5 nests them under 'ome')."""
    attributes = metadata.get("attributes", metadata)
    return attributes.get("ome", attributes) if isinstance(attributes, dict) else {}


def is_plate(path: Path) -> bool:
    for name in METADATA_FILES:
        try:
            metadata = json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(metadata, dict) and "plate" in ngff_attributes(metadata):
            return True
    return False


def zarr_module(path: Path):
    try:
        import zarr
    except ImportError:
        raise InputFileError(path, "is an OME-Zarr plate; reading it needs zarr (the 'cluster' extra: "
                                   "pip install -e \".[cluster]\")") from None
    return zarr


def plate_fields(plate: Path) -> tuple[list[PlateField], list[tuple[Path, str]]]:
    """Every field of every well the plate's metadata lists, and the wells that cannot be read."""
    zarr = zarr_module(plate)
    try:
        root = zarr.open_group(str(plate), mode="r")
        wells = ngff_attributes(dict(root.attrs))["plate"]["wells"]
    except Exception as error:  # zarr raises many kinds for a damaged store
        raise InputFileError(plate, f"OME-Zarr plate cannot be read ({error})") from None
    fields, problems = [], []
    for well in wells:
        row, _, column = str(well.get("path", "")).partition("/")
        try:
            images = ngff_attributes(dict(root[f"{row}/{column}"].attrs))["well"]["images"]
        except Exception:
            problems.append((plate / row / column, "well listed in the plate has no readable well metadata"))
            continue
        fields += [PlateField(plate, row, column, str(image["path"])) for image in images]
    return fields, problems


def read_field(field: PlateField) -> np.ndarray:
    """The field's pixels at full resolution as (H, W) or (H, W, C), for ``images.to_rgb_float``."""
    zarr = zarr_module(field.path)
    try:
        group = zarr.open_group(str(field.path), mode="r")
        multiscale = ngff_attributes(dict(group.attrs))["multiscales"][0]
        array = group[multiscale["datasets"][0]["path"]]
        axes = [axis["name"] if isinstance(axis, dict) else str(axis) for axis in multiscale.get("axes", [])]
    except Exception as error:
        raise ImageReadError(field.path, f"OME-Zarr field cannot be read ({error})") from None
    if len(axes) != array.ndim:
        axes = list("tczyx"[-array.ndim:])
    index = tuple(0 if name in ("t", "z") else slice(None) for name in axes)
    try:
        plane = np.asarray(array[index])
    except Exception as error:
        raise ImageReadError(field.path, f"OME-Zarr pixel data cannot be read ({error})") from None
    kept = [name for name in axes if name not in ("t", "z")]
    if "c" in kept:
        plane = np.moveaxis(plane, kept.index("c"), -1)
    return plane
