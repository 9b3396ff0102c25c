"""Physical units of an image (Qt-free): its pixel size, from the user's value for its folder or else from the
file's own metadata, and lengths, areas and densities in µm, µm² and cells per mm². Unknown pixel size: None,
never a made-up number."""

from __future__ import annotations

from countxplain.images.pixel_size import PixelSize, pixel_size_of

GIVEN = "given for this folder"
UM2_PER_MM2 = 1e6


def entry_pixel_size(entry, given: dict[str, float]) -> PixelSize | None:
    """The pixel size given for the entry's folder, or else the one its file states."""
    if entry is None:
        return None
    if entry.folder in given:
        return pixel_size_of(given[entry.folder], given[entry.folder], GIVEN)
    return entry.file_pixel_size


def length_um(pixels: float | None, size: PixelSize | None) -> float | None:
    return None if pixels is None or size is None else pixels * size.length_um


def area_um2(pixel_area: float | None, size: PixelSize | None) -> float | None:
    return None if pixel_area is None or size is None else pixel_area * size.area_um2


def per_mm2(count: float | None, area: float | None) -> float | None:
    """Cells per mm² of ``count`` cells over ``area`` µm²."""
    return None if count is None or not area else count / (area / UM2_PER_MM2)


def box_pixel_area(box, width: int | None, height: int | None) -> float:
    """A box's area in pixels, the part of it on the image."""
    b = box.normalised()
    x1, y1 = (b.x1, b.y1) if not width else (min(b.x1, width), min(b.y1, height))
    return max(0.0, x1 - max(b.x0, 0.0)) * max(0.0, y1 - max(b.y0, 0.0))


def size_note(size: PixelSize | None) -> str:
    """'0.325 µm per pixel (OME metadata)', or 'unknown'."""
    if size is None:
        return "unknown"
    sides = f"{size.x_um:.4g} µm" if size.x_um == size.y_um else f"{size.x_um:.4g} × {size.y_um:.4g} µm"
    return f"{sides} per pixel ({size.source})"


def units_note(size: PixelSize | None, diameter_px: float | None, count: float | None,
               pixel_area: float | None) -> str:
    """What the pixel size makes of the image: 'pixel size …', the cells' diameter in µm and the cells per mm²."""
    if size is None:
        return "Pixel size unknown: set it for the folder to see µm and cells per mm²."
    lines = [f"Pixel size {size_note(size)}"]
    diameter = length_um(diameter_px, size)
    density = per_mm2(count, area_um2(pixel_area, size))
    parts = ([f"cells {diameter:.1f} µm across"] if diameter is not None else []) + \
        ([f"{density:,.0f} cells per mm²"] if density is not None else [])
    return "\n".join(lines + ([" · ".join(parts)] if parts else []))
