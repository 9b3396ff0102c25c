"""What the window does about pages, channels and pixel size: the picker under the image offers the current
image's pages and channels and counts it again at the one chosen; the Pixel size panel shows what is known and
gives a value for a folder; the cell diameter and the boxes follow in µm where the pixel size is known."""

from __future__ import annotations

from .export import diameter_used
from .units import area_um2, box_pixel_area, entry_pixel_size, length_um, units_note


def wire_planes(window) -> None:
    session, picker = window.session, window.image_view.planes
    picker.sigPlaneChosen.connect(lambda page, channel: _plane_chosen(window, page, channel))
    window.pixel_size.sigFolderPixelSize.connect(lambda value: _folder_pixel_size(window, value))
    session.sigEntryChanged.connect(lambda path: _refresh_if_current(window, path))
    session.sigPixelsReady.connect(lambda path: _refresh_if_current(window, path))
    window.browser.sigCurrentChanged.connect(lambda path: show_units(window))
    window.box_tool.sigBoxesChanged.connect(lambda: _box_areas(window))


def _plane_chosen(window, page, channel) -> None:
    if window.session.current:
        window.session.set_plane(window.session.current, page, channel)
        window.keeper.schedule_save()


def _folder_pixel_size(window, value: float) -> None:
    entry = window.session.store.get(window.session.current) if window.session.current else None
    if entry is not None:
        window.session.set_folder_pixel_size(entry.folder, value or None)
        window.keeper.schedule_save()


def _refresh_if_current(window, path: str) -> None:
    if path == window.session.current:
        show_units(window)


def show_units(window) -> None:
    """The picker, the pixel size panel, the diameter in µm and the boxes' areas, for the current image."""
    session = window.session
    entry = session.store.get(session.current) if session.current else None
    window.image_view.planes.set_entry(entry)
    size = entry_pixel_size(entry, session.folder_pixel_sizes)
    native = session.model.cell_diameter_px if session.model else None
    diameter = diameter_used(entry, native) if entry is not None else None
    area = entry.width * entry.height if entry is not None and entry.width else None
    window.pixel_size.show_size(session.folder_pixel_sizes.get(entry.folder) if entry else None,
                                units_note(size, diameter, entry.count if entry else None, area) if entry else "")
    window.cell_size.set_micrometres(length_um(diameter, size))
    _box_areas(window)


def _box_areas(window) -> None:
    entry = window.box_tool.entry
    size = entry_pixel_size(entry, window.session.folder_pixel_sizes)
    if entry is None or size is None:
        return
    areas = [area_um2(box_pixel_area(box, entry.width, entry.height), size) for box in window.box_tool.boxes()]
    rows = [(box, window.box_tool.count(box)) for box in window.box_tool.boxes()]
    window.box_list.set_rows(rows, window.box_tool.selected, areas)
