"""Dot annotation on the real image view: clicks and Shift-drags place and remove dots, undo/redo,
proposals from the density map, import and export, and a sidecar that is written at every change,
survives a failed write, and brings the dots back when the image is opened again."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from countxplain.annotations import read_dots
from countxplain.datasets import sidecar_path
from cxdesktop.views.tool_viewbox import ANNOTATE, PAN
from helpers.app import WAIT_MS, blob_png, click_on_image, drag_on_image, drop_paths, wait_counted

LEFT, RIGHT = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton
SHIFT = Qt.KeyboardModifier.ShiftModifier
CENTRES = [(20, 20), (50, 70), (70, 100), (30, 90)]  # (row, column) of the blobs


@pytest.fixture
def cells_png(tmp_path):
    folder = tmp_path / "cells"
    folder.mkdir()
    return blob_png(folder / "cells.png", 96, 128, CENTRES, seed=4)


def open_image(qtbot, window, path):
    drop_paths(window, [path])
    wait_counted(qtbot, window, [path])
    window.browser.select(str(path))
    qtbot.waitUntil(lambda: window.image_view.path == str(path) and window.image_view._density is not None,
                    timeout=WAIT_MS)
    return window.session.store[str(path)]


@pytest.fixture
def annotating(qtbot, window, cells_png):
    """The window with the blob image counted, on screen, in annotate mode."""
    entry = open_image(qtbot, window, cells_png)
    window.menu_actions["tool_annotate"].trigger()
    return window, entry


def click(qtbot, window, x, y, button=LEFT, modifiers=None):
    """Click on the pixel whose dot is (x, y): its centre is view point (x + 0.5, y + 0.5)."""
    click_on_image(qtbot, window, x + 0.5, y + 0.5, button, modifiers)


def saved(path) -> np.ndarray:
    return read_dots(sidecar_path(path))


def visible_error_boxes(window) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox) if box.isVisible()]


def test_annotate_mode_is_a_tool_with_its_own_tab(annotating):
    window, _ = annotating
    assert window.image_view.viewbox.tool == ANNOTATE
    assert window.annotation_panel.mode_button.isChecked()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Dots"
    window.annotation_panel.mode_button.click()
    assert window.image_view.viewbox.tool == PAN and window.menu_actions["tool_pan"].isChecked()


def test_clicks_place_and_remove_dots_with_undo_and_redo(qtbot, annotating):
    window, entry = annotating
    path = entry.path
    click(qtbot, window, 20, 30)
    click(qtbot, window, 60, 40)
    click(qtbot, window, 100, 70)
    np.testing.assert_allclose(entry.dots.dots, [[20, 30], [60, 40], [100, 70]], atol=0.6)
    np.testing.assert_allclose(saved(path), entry.dots.dots, atol=0.01)  # on disk at once
    np.testing.assert_allclose(window.annotator.layer.shown_dots(), entry.dots.dots)
    assert window.annotation_panel.dot_count.text() == "3 dots"
    assert f"Model: {entry.count:.1f} cells" in window.annotation_panel.model_count.text()

    click(qtbot, window, 21, 31, RIGHT)  # right-click removes the nearest dot
    click(qtbot, window, 61, 39, LEFT, SHIFT)  # so does Shift+click
    click(qtbot, window, 5, 90, RIGHT)  # nothing near: nothing happens
    np.testing.assert_allclose(saved(path), [[100, 70]], atol=0.6)
    assert window.annotation_panel.dot_count.text() == "1 dot"

    window.menu_actions["undo_dots"].trigger()
    assert len(saved(path)) == 2 and len(window.annotator.layer.shown_dots()) == 2
    window.menu_actions["undo_dots"].trigger()
    assert len(saved(path)) == 3
    window.menu_actions["redo_dots"].trigger()
    assert len(saved(path)) == 2
    qtbot.mouseClick(window.annotation_panel.undo_button, LEFT)
    assert len(saved(path)) == 3 and window.annotation_panel.redo_button.isEnabled()


def test_a_shift_drag_erases_dots_in_one_undo_step_and_a_plain_drag_pans(qtbot, annotating):
    window, entry = annotating
    for x in (20, 30, 40):
        click(qtbot, window, x, 50)
    click(qtbot, window, 90, 20)
    drag_on_image(qtbot, window, (15, 50.5), (45.5, 50.5), steps=12, modifiers=SHIFT)
    np.testing.assert_allclose(saved(entry.path), [[90, 20]], atol=0.6)
    assert not window.annotator.layer.eraser.isVisible()
    window.annotator.undo()
    assert len(saved(entry.path)) == 4
    before = window.image_view.viewbox.viewRange()
    drag_on_image(qtbot, window, (60, 60), (80, 70))
    assert len(entry.dots) == 4  # no dot added, none removed
    assert window.image_view.viewbox.viewRange() != before


def test_clicks_outside_the_image_place_nothing(qtbot, annotating):
    window, entry = annotating
    window.image_view.viewbox.setRange(xRange=(-40, 170), yRange=(-40, 140), padding=0)
    click(qtbot, window, -20, 40)
    click(qtbot, window, 40, 110)
    assert len(entry.dots) == 0 and not sidecar_path(entry.path).exists()


def test_markers_are_as_wide_as_the_cell_diameter(qtbot, annotating):
    window, entry = annotating
    click(qtbot, window, 40, 40)
    layer = window.annotator.layer
    assert layer.diameter == pytest.approx(10.0)  # the model's cell size while the image has none
    assert layer.markers.opts["size"] == pytest.approx(10.0) and layer.markers.opts["pxMode"] is False
    window.cell_size.set_from_measure(24.0)
    assert layer.diameter == pytest.approx(24.0)
    assert layer.markers.opts["size"] == pytest.approx(24.0)  # in image pixels (pxMode off)
    assert "24 px" in window.annotation_panel.marker.text()
    click(qtbot, window, 49, 40, RIGHT)  # 9 px away: within the new 12 px radius
    assert len(entry.dots) == 0


def test_proposed_dots_follow_the_density_and_can_be_undone(qtbot, window, cells_png):
    window.cell_size.set_value(4.0)
    entry = open_image(qtbot, window, cells_png)
    window.session.set_cell_diameter([entry.path], 4.0)  # small cells: a count of several, not a fraction
    qtbot.waitUntil(lambda: entry.analysis is not None and entry.analysis.cell_diameter_px == 4.0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.annotation_panel.propose_button.isEnabled(), timeout=WAIT_MS)
    window.annotator.add(5, 5)
    qtbot.mouseClick(window.annotation_panel.propose_button, LEFT)
    wanted = round(entry.count)
    assert wanted >= 1
    qtbot.waitUntil(lambda: len(entry.dots) == wanted, timeout=WAIT_MS)
    dots = saved(entry.path)
    assert len(dots) == wanted
    assert (dots[:, 0] >= 0).all() and (dots[:, 0] < 128).all() and (dots[:, 1] >= 0).all() and (dots[:, 1] < 96).all()
    assert any(kind == "propose-dots" for _, kind, _, _ in window.runner.thread_log)  # ran in the worker
    window.annotator.undo()
    np.testing.assert_allclose(saved(entry.path), [[5, 5]])


def test_import_csv_and_dot_masks_and_export_csv(qtbot, annotating, tmp_path):
    window, entry = annotating
    csv = tmp_path / "mine.csv"
    csv.write_text("x,y\n10,12\n40.5,60\n100,80\n")
    assert window.annotator.import_dots(csv)
    np.testing.assert_allclose(saved(entry.path), [[10, 12], [40.5, 60], [100, 80]])
    assert "Imported 3 dots" in window.annotation_panel.status.text()

    red = np.zeros((96, 128, 3), dtype=np.uint8)
    red[30, 20] = red[70, 100] = (255, 0, 0)
    red[50, 50] = (200, 0, 0)  # not pure red: not a dot
    Image.fromarray(red).save(tmp_path / "red.png")
    assert window.annotator.import_dots(tmp_path / "red.png")
    np.testing.assert_allclose(sorted(saved(entry.path).tolist()), [[20, 30], [100, 70]])

    binary = np.zeros((96, 128), dtype=np.uint8)
    binary[[5, 6, 90], [7, 60, 120]] = 255
    Image.fromarray(binary).save(tmp_path / "binary.png")
    assert window.annotator.import_dots(tmp_path / "binary.png")
    assert len(entry.dots) == 3 and window.annotation_panel.dot_count.text() == "3 dots"

    window.annotator.undo()  # an import is one undo step
    assert len(entry.dots) == 2

    out = window.annotator.export_dots(tmp_path / "out" / "exported.csv")
    np.testing.assert_allclose(read_dots(out), entry.dots.dots)


def test_a_dot_file_that_does_not_fit_the_image_is_refused_with_its_reason(qtbot, annotating, tmp_path):
    window, entry = annotating
    window.annotator.add(10, 10)
    bad = tmp_path / "outside.csv"
    bad.write_text("x,y\n10,10\n500,20\n")
    assert not window.annotator.import_dots(bad)
    qtbot.waitUntil(lambda: bool(visible_error_boxes(window)), timeout=10_000)
    assert "outside the 128×96 image" in visible_error_boxes(window)[0].text()
    np.testing.assert_allclose(saved(entry.path), [[10, 10]])


def test_the_dots_come_back_when_the_image_is_opened_again(qtbot, annotating, cells_png, tiny_model_file, tmp_path):
    window, entry = annotating
    for x, y in ((20, 20), (70, 50), (100, 70)):
        click(qtbot, window, x, y)
    window.close()
    from cxdesktop.main_window import MainWindow
    from cxdesktop.settings import Settings

    again = MainWindow(model_path=tiny_model_file, settings=Settings(tmp_path / "other.ini"))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: again.session.model is not None, timeout=WAIT_MS)
    reopened = open_image(qtbot, again, cells_png)
    np.testing.assert_allclose(reopened.dots.dots, [[20, 20], [70, 50], [100, 70]], atol=0.6)
    np.testing.assert_allclose(again.annotator.layer.shown_dots(), reopened.dots.dots)
    assert again.annotation_panel.dot_count.text() == "3 dots"
    again.close()


def test_a_failed_sidecar_write_keeps_the_previous_file_and_says_so(qtbot, annotating, monkeypatch):
    window, entry = annotating
    click(qtbot, window, 20, 20)
    click(qtbot, window, 40, 40)
    sidecar = sidecar_path(entry.path)
    before = sidecar.read_bytes()
    import countxplain.annotations

    def interrupted(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(countxplain.annotations.os, "replace", interrupted)
    click(qtbot, window, 60, 60)  # the write is interrupted before the rename
    monkeypatch.undo()
    assert sidecar.read_bytes() == before  # the previous sidecar survives intact
    assert sorted(os.listdir(sidecar.parent)) == ["cells.dots.csv", "cells.png"]  # no temporary file left
    assert len(entry.dots) == 3  # the change is kept in memory
    assert "Not saved" in window.annotation_panel.status.text()
    qtbot.waitUntil(lambda: bool(visible_error_boxes(window)), timeout=10_000)
    assert "No space left on device" in visible_error_boxes(window)[0].text()
    click(qtbot, window, 80, 30)  # the next change saves everything
    assert len(saved(entry.path)) == 4 and "Saved in cells.dots.csv" in window.annotation_panel.status.text()


def test_an_unreadable_sidecar_is_copied_aside_at_the_first_click_and_the_panel_says_where(qtbot, window, cells_png):
    original = b"x,y\n" + b"".join(b"%d,%d\n" % (i % 100, i // 100) for i in range(299)) + b"12,abc\n"
    sidecar_path(cells_png).write_bytes(original)
    entry = open_image(qtbot, window, cells_png)
    window.menu_actions["tool_annotate"].trigger()
    status = window.annotation_panel.status
    assert "Could not read the saved dots" in status.text() and "keeps it as a copy" in status.text()
    click(qtbot, window, 20, 30)
    kept = list(cells_png.parent.glob("cells.dots.unreadable-*.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == original
    assert len(saved(cells_png)) == 1 and len(entry.dots) == 1
    assert kept[0].name in status.text() and "kept unchanged" in status.text()
