"""Pages, channels and pixel size through the real window: the pickers under the image, a recount at the page or
channel chosen, the list and the CSV naming it; µm and cells per mm² from OME metadata or a folder's given value."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile

from helpers.app import WAIT_MS, drop_paths, wait_counted


def blobs(height: int, width: int, centres) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.full((height, width), 0.02, np.float32)
    for cy, cx in centres:
        image += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)
    return (image.clip(0, 1) * 255).astype(np.uint8)


PAGES = [blobs(64, 80, [(20, 20)]), blobs(64, 80, [(16, 16), (40, 60), (20, 50), (50, 20), (30, 35)]),
         blobs(64, 80, [(30, 30), (40, 60)])]


def csv_rows(window, path) -> list[dict]:
    out = window.exporter.export_counts(path)
    with open(out, newline="") as handle:
        return list(csv.DictReader(handle))


def show(qtbot, window, path) -> None:
    drop_paths(window, [path])
    wait_counted(qtbot, window, [path])
    window.browser.select(str(path))
    qtbot.waitUntil(lambda: window.image_view.path == str(path), timeout=WAIT_MS)


def choose(combo, row: int) -> None:
    """What picking ``row`` from the drop-down does."""
    combo.setCurrentIndex(row)
    combo.activated.emit(row)


def test_page_picker_recounts_the_page_chosen_and_the_list_and_csv_name_it(qtbot, window, tmp_path):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.stack(PAGES), photometric="minisblack")
    show(qtbot, window, path)
    picker, entry = window.image_view.planes, window.session.store[str(path)]
    assert entry.status == "done" and entry.read_page == 0  # a multi-page file is counted, from its first page
    assert picker.isVisible() and picker.page.isVisible() and not picker.channel.isVisible()
    assert [picker.page.itemText(i) for i in range(picker.page.count())] == ["1", "2", "3"]
    first_analysis = entry.analysis

    choose(picker.page, 1)
    qtbot.waitUntil(lambda: entry.read_page == 1 and entry.status == "done", timeout=WAIT_MS)
    assert entry.analysis is not first_analysis  # counted again, from the pixels of page 2
    np.testing.assert_allclose(window.session.pixels(str(path))[:, :, 0], PAGES[1] / 255.0, atol=1e-6)
    assert picker.page.currentText() == "2"
    model, row = window.browser.model, window.browser.model.row_of(str(path))
    assert "p2/3" in model.index(row, 1).data()
    assert "page 2 of 3" in model.index(row, 1).data(3)  # the tooltip
    rows = csv_rows(window, tmp_path / "counts.csv")
    assert (rows[0]["page"], rows[0]["channel"]) == ("2", "")
    assert float(rows[0]["count"]) == pytest.approx(entry.count, abs=1e-3)
    assert window.keeper.snapshot().images[0].page == 1  # kept for the next run


def test_channel_picker_recounts_the_channel_chosen(qtbot, window, tmp_path, small_images):
    path = tmp_path / "two.tif"
    tifffile.imwrite(path, np.stack([PAGES[0], PAGES[1]], axis=-1), photometric="minisblack", planarconfig="contig")
    show(qtbot, window, path)
    picker, entry = window.image_view.planes, window.session.store[str(path)]
    assert picker.isVisible() and picker.channel.isVisible() and not picker.page.isVisible()
    assert picker.channel.count() == 2 and entry.read_channel == 0
    choose(picker.channel, 1)
    qtbot.waitUntil(lambda: entry.read_channel == 1 and entry.status == "done", timeout=WAIT_MS)
    np.testing.assert_allclose(window.session.pixels(str(path))[:, :, 0], PAGES[1] / 255.0, atol=1e-6)
    rows = csv_rows(window, tmp_path / "counts.csv")
    assert (rows[0]["page"], rows[0]["channel"]) == ("", "2")

    show(qtbot, window, small_images[0])  # RGB: counted in colour unless one channel is chosen
    assert not picker.page.isVisible() and picker.channel.currentText() == "all (colour)"
    gray = tmp_path / "gray.tif"
    tifffile.imwrite(gray, PAGES[0])
    show(qtbot, window, gray)  # one page, one channel: nothing to choose
    assert not picker.isVisible()


def test_ome_pixel_size_gives_micrometres_and_cells_per_mm2(qtbot, window, tmp_path):
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(path, PAGES[1], ome=True, metadata={"PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    show(qtbot, window, path)
    entry = window.session.store[str(path)]
    assert "0.5 µm per pixel (OME metadata)" in window.pixel_size.note.text()
    assert window.cell_size.micrometres.isVisible()
    assert window.cell_size.micrometres.text() == "= 5.0 µm"  # the tiny model's 10 px cells at 0.5 µm a pixel
    box = window.box_tool.add_box(0, 0, 40, 32)
    assert not window.box_list.table.isColumnHidden(3)
    assert window.box_list.table.item(0, 3).text() == f"{40 * 32 * 0.25:,.0f}"
    rows = csv_rows(window, tmp_path / "counts.csv")
    image, boxed = rows
    area_mm2 = 80 * 64 * 0.25 / 1e6
    assert float(image["pixel_size_um"]) == 0.5 and float(image["cell_diameter_um"]) == 5.0
    assert float(image["area_mm2"]) == pytest.approx(area_mm2)
    assert float(image["cells_per_mm2"]) == pytest.approx(entry.count / area_mm2, abs=0.01)
    box_count = window.box_tool.count(box)
    assert float(boxed["cells_per_mm2"]) == pytest.approx(box_count / (40 * 32 * 0.25 / 1e6), abs=0.01)


def test_pixel_size_given_once_for_a_folder_and_never_made_up(qtbot, window, small_images, tmp_path):
    drop_paths(window, small_images)
    wait_counted(qtbot, window, small_images)
    rows = csv_rows(window, tmp_path / "before.csv")
    assert all(r["pixel_size_um"] == r["cells_per_mm2"] == r["cell_diameter_um"] == "" for r in rows)
    assert "unknown" in window.pixel_size.note.text() and not window.cell_size.micrometres.isVisible()

    window.pixel_size.spin.setValue(2.0)
    window.pixel_size.folder_button.click()
    assert "2 µm per pixel (given for this folder)" in window.pixel_size.note.text()
    rows = csv_rows(window, tmp_path / "after.csv")
    for row in rows:
        entry = window.session.store[row["path"]]
        area_mm2 = entry.width * entry.height * 4.0 / 1e6
        assert float(row["pixel_size_um"]) == 2.0
        assert float(row["cells_per_mm2"]) == pytest.approx(entry.count / area_mm2, abs=0.01)
    assert window.keeper.snapshot().pixel_sizes == {str(small_images[0].parent): 2.0}
