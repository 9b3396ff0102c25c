"""Which page and channel of a file an image shows, in words and 1-based as people count them (Qt-free):
"page 2 of 3", "page 4 of 6 (Z 2, C 2)", "channel 1 of 2"."""

from __future__ import annotations

UNNAMED_AXES = "QIS"  # pages of these axes have only their number


def page_label(planes, page: int) -> str:
    """'2' or '4 (Z 2, C 2)': a page's number and, for named axes, where it lies along them."""
    position = planes.page_position(page)
    named = [f"{axis} {i + 1}" for axis, i in zip(planes.page_axes, position) if axis not in UNNAMED_AXES]
    return f"{page + 1}" + (f" ({', '.join(named)})" if named else "")


def page_note(entry) -> str:
    planes = entry.planes
    if planes is None or planes.pages < 2:
        return ""
    if entry.read_page is None:
        return f"all {planes.pages} planes as colour"
    return f"page {page_label(planes, entry.read_page)} of {planes.pages}"


def channel_note(entry) -> str:
    if entry.channels < 2 or entry.read_channel is None:
        return ""
    return f"channel {entry.read_channel + 1} of {entry.channels}"


def plane_note(entry) -> str:
    """'page 2 of 3, channel 1 of 2', or '' for a single-page image read whole."""
    return ", ".join(note for note in (page_note(entry), channel_note(entry)) if note)


def csv_page(entry) -> str:
    """The CSV's page cell: 1-based, blank where the file holds one page (or was read whole)."""
    return "" if entry.planes is None or entry.planes.pages < 2 or entry.read_page is None else str(entry.read_page + 1)


def csv_channel(entry) -> str:
    return "" if entry.channels < 2 or entry.read_channel is None else str(entry.read_channel + 1)


def short_plane_note(entry) -> str:
    """'p2/3 c1/2' for the list's name column, '' for a single-page image read whole."""
    parts = []
    if entry.planes is not None and entry.planes.pages > 1 and entry.read_page is not None:
        parts.append(f"p{entry.read_page + 1}/{entry.planes.pages}")
    if entry.channels > 1 and entry.read_channel is not None:
        parts.append(f"c{entry.read_channel + 1}/{entry.channels}")
    return " ".join(parts)
