"""Dots through the real window: a drag moves a dot (undoable) while a drag elsewhere pans; named counter
types, each in its colour, saved in the dot file's type column and counted per type in the list and the
counts CSV; an older x,y file reads as the default type; the list's Dots column follows every change."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt

from countxplain.annotations import read_dot_types
from countxplain.datasets import sidecar_path
from cxdesktop.browser import DOTS_COLUMN
from cxdesktop.dot_types import TYPE_COLORS
from helpers.app import WAIT_MS, blob_png, click_on_image, drag_on_image, drop_paths, wait_counted

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def two_images(tmp_path):
    folder = tmp_path / "cells"
    folder.mkdir()
    return [blob_png(folder / "cells.png", 96, 128, [(20, 20), (50, 70)], seed=4),
            blob_png(folder / "other.png", 64, 64, [(30, 30)], seed=5)]


@pytest.fixture
def annotating(qtbot, window, two_images):
    drop_paths(window, two_images)
    wait_counted(qtbot, window, two_images)
    path = str(two_images[0])
    window.browser.select(path)
    qtbot.waitUntil(lambda: window.image_view.path == path and window.image_view._density is not None,
                    timeout=WAIT_MS)
    window.menu_actions["tool_annotate"].trigger()
    return window, window.session.store[path]


def click(qtbot, window, x, y):
    click_on_image(qtbot, window, x + 0.5, y + 0.5)


def dots_cell(window, path, role=Qt.ItemDataRole.DisplayRole):
    model = window.browser.model
    return model.index(model.row_of(str(path)), DOTS_COLUMN).data(role)


def new_type(monkeypatch, window, name):
    import cxdesktop.views.dot_type_picker as picker

    monkeypatch.setattr(picker.QInputDialog, "getText", staticmethod(lambda *args, **kwargs: (name, True)))
    window.annotation_panel.type_picker.add_button.click()


def test_a_drag_from_a_dot_moves_it_in_one_undo_step_and_a_drag_elsewhere_pans(qtbot, annotating):
    window, entry = annotating
    click(qtbot, window, 30, 40)
    click(qtbot, window, 90, 20)
    before = window.image_view.viewbox.viewRange()
    drag_on_image(qtbot, window, (31.0, 41.0), (61.0, 71.0), steps=10)
    np.testing.assert_allclose(entry.dots.dots, [[60, 70], [90, 20]], atol=0.6)
    np.testing.assert_allclose(read_dot_types(sidecar_path(entry.path))[0], entry.dots.dots, atol=0.01)
    np.testing.assert_allclose(window.annotator.layer.shown_dots(), entry.dots.dots)
    assert window.image_view.viewbox.viewRange() == before  # the drag carried the dot, the view stayed
    window.menu_actions["undo_dots"].trigger()
    np.testing.assert_allclose(entry.dots.dots, [[30, 40], [90, 20]], atol=0.6)
    window.menu_actions["redo_dots"].trigger()
    np.testing.assert_allclose(entry.dots.dots[0], [60, 70], atol=0.6)
    drag_on_image(qtbot, window, (10, 85), (40, 90))  # from no dot: pans
    assert window.image_view.viewbox.viewRange() != before
    np.testing.assert_allclose(entry.dots.dots, [[60, 70], [90, 20]], atol=0.6)


def test_a_dot_dragged_out_of_the_image_stays_on_its_edge(qtbot, annotating):
    window, entry = annotating
    window.image_view.viewbox.setRange(xRange=(-40, 170), yRange=(-40, 140), padding=0)
    click(qtbot, window, 120, 50)
    drag_on_image(qtbot, window, (120.5, 50.5), (160.5, 50.5))
    np.testing.assert_allclose(entry.dots.dots, [[127.5, 50]], atol=0.6)


def test_counter_types_have_colours_a_type_column_and_counts_in_the_list_and_the_csv(qtbot, annotating,
                                                                                  monkeypatch, tmp_path):
    window, entry = annotating
    picker = window.annotation_panel.type_picker
    assert picker.combo.count() == 1 and picker.current() == "cell"
    assert dots_cell(window, entry.path) == ""  # not annotated yet
    click(qtbot, window, 20, 20)
    assert dots_cell(window, entry.path) == "1"
    new_type(monkeypatch, window, "dividing")
    assert [picker.combo.itemText(i) for i in range(picker.combo.count())] == ["cell", "dividing"]
    assert picker.current() == "dividing"
    click(qtbot, window, 70, 50)
    click(qtbot, window, 100, 80)
    assert entry.dots.types == ["cell", "dividing", "dividing"]
    assert window.annotator.layer.shown_colors() == [TYPE_COLORS[0], TYPE_COLORS[1], TYPE_COLORS[1]]
    assert read_dot_types(sidecar_path(entry.path))[1] == ["cell", "dividing", "dividing"]
    assert sidecar_path(entry.path).read_text().splitlines()[0] == "x,y,type"
    assert "cell 1" in window.annotation_panel.type_counts.text()
    assert "dividing 2" in window.annotation_panel.type_counts.text()
    assert dots_cell(window, entry.path) == "3"
    assert dots_cell(window, entry.path, Qt.ItemDataRole.ToolTipRole) == "Annotated: 3 dots (cell 1 · dividing 2)"

    out = window.exporter.export_counts(tmp_path / "counts.csv")
    with open(out, newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle) if row["kind"] == "image"}
    row = rows[entry.path]
    assert (row["dots"], row["dots_cell"], row["dots_dividing"]) == ("3", "1", "2")
    other = [p for p in rows if p != entry.path][0]
    assert rows[other]["dots"] == "" and rows[other]["dots_cell"] == ""  # not annotated

    picker.combo.activated.emit(0)  # back to "cell"
    click(qtbot, window, 40, 70)
    assert entry.dots.types[-1] == "cell"
    window.menu_actions["undo_dots"].trigger()
    assert dots_cell(window, entry.path) == "3"


def test_renaming_a_type_renames_it_in_the_dot_files(qtbot, annotating, monkeypatch):
    window, entry = annotating
    click(qtbot, window, 20, 20)
    import cxdesktop.views.dot_type_picker as picker_module

    monkeypatch.setattr(picker_module.QInputDialog, "getText", staticmethod(lambda *a, **k: ("nucleus", True)))
    window.annotation_panel.type_picker.rename_button.click()
    assert window.annotation_panel.type_picker.current() == "nucleus"
    assert read_dot_types(sidecar_path(entry.path))[1] == ["nucleus"]
    assert "Renamed 'cell' to 'nucleus'" in window.status.currentMessage()
    assert window.settings.dot_types == ["nucleus"]
    window.menu_actions["undo_dots"].trigger()  # the rename is one step of this image's history
    assert entry.dots.types == ["cell"]


def test_an_x_y_file_loads_as_the_default_type_and_a_typed_file_adds_its_types(qtbot, window, two_images):
    sidecar_path(two_images[0]).write_text("x,y\n10,10\n20,20\n")
    sidecar_path(two_images[1]).write_text("x,y,type\n5,5,dead\n6,6,cell\n7,7,dead\n")
    drop_paths(window, two_images)
    wait_counted(qtbot, window, two_images)
    assert dots_cell(window, two_images[0]) == "2" and dots_cell(window, two_images[1]) == "3"
    assert dots_cell(window, two_images[1], Qt.ItemDataRole.ToolTipRole) == "Annotated: 3 dots (dead 2 · cell 1)"
    window.browser.select(str(two_images[0]))
    qtbot.waitUntil(lambda: window.annotator.entry is not None and window.annotator.entry.path == str(two_images[0]),
                    timeout=WAIT_MS)
    assert window.annotator.annotation().types == ["cell", "cell"]
    window.browser.select(str(two_images[1]))
    qtbot.waitUntil(lambda: window.annotator.entry.path == str(two_images[1]), timeout=WAIT_MS)
    picker = window.annotation_panel.type_picker
    assert [picker.combo.itemText(i) for i in range(picker.combo.count())] == ["cell", "dead"]
    assert window.annotator.layer.shown_colors() == [TYPE_COLORS[1], TYPE_COLORS[0], TYPE_COLORS[1]]


def test_a_type_name_that_is_taken_or_blank_is_refused(qtbot, annotating, monkeypatch):
    window, _ = annotating
    errors = []
    import cxdesktop.dot_type_control as control

    monkeypatch.setattr(control, "show_error", lambda parent, title, text: errors.append(text))
    new_type(monkeypatch, window, "  ")
    new_type(monkeypatch, window, "cell")
    assert window.annotation_panel.type_picker.combo.count() == 1
    assert "needs a name" in errors[0] and "already" in errors[1]


def hover(window, x, y):
    """A real mouse move (no button) over the image canvas to view point (x, y)."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    view, canvas = window.image_view, window.image_view.canvas
    point = QPointF(canvas.mapFromScene(view.viewbox.mapViewToScene(QPointF(x, y))))
    event = QMouseEvent(QEvent.Type.MouseMove, point, QPointF(canvas.viewport().mapToGlobal(point.toPoint())),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas.viewport(), event)


def test_a_number_key_on_a_placed_dot_changes_its_type_in_one_undo_step(qtbot, annotating, monkeypatch):
    window, entry = annotating
    click(qtbot, window, 20, 20)
    click(qtbot, window, 70, 50)
    new_type(monkeypatch, window, "dividing")
    window.annotation_panel.type_picker.combo.activated.emit(0)  # new dots stay "cell"
    canvas = window.image_view.canvas
    hover(window, 70.5, 50.5)
    qtbot.keyClick(canvas, Qt.Key.Key_2)
    assert entry.dots.types == ["cell", "dividing"]
    assert read_dot_types(sidecar_path(entry.path))[1] == ["cell", "dividing"]
    assert window.annotator.layer.shown_colors() == [TYPE_COLORS[0], TYPE_COLORS[1]]
    assert dots_cell(window, entry.path, Qt.ItemDataRole.ToolTipRole) == "Annotated: 2 dots (cell 1 · dividing 1)"
    np.testing.assert_allclose(entry.dots.dots, [[20, 20], [70, 50]], atol=0.6)  # no dot moved or added
    window.menu_actions["undo_dots"].trigger()
    assert entry.dots.types == ["cell", "cell"]
    assert read_dot_types(sidecar_path(entry.path))[1] == ["cell", "cell"]
    window.menu_actions["redo_dots"].trigger()
    assert entry.dots.types == ["cell", "dividing"]

    hover(window, 110.5, 80.5)  # no dot under the pointer: the key chooses the type of new dots
    qtbot.keyClick(canvas, Qt.Key.Key_2)
    assert window.annotation_panel.type_picker.current() == "dividing" and len(entry.dots) == 2
    qtbot.keyClick(canvas, Qt.Key.Key_7)  # no such type: nothing changes
    assert window.annotation_panel.type_picker.current() == "dividing"
    assert entry.dots.types == ["cell", "dividing"]
