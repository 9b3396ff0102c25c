"""Reviewing one image: density overlay, boxes drawn with the mouse, cell size (typed and measured),
prototype similarity with its boxes, contributions and the gallery."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from countxplain.explain import count_in_rect, similarity_boxes
from cxdesktop.palette import prototype_color
from cxdesktop.views.image_view import density_per_pixel
from cxdesktop.views.tool_viewbox import BOX, MEASURE, PAN
from helpers.app import blob_png, drag_on_image, drop_paths, wait_counted


@pytest.fixture
def counted(qtbot, window, small_images):
    """The window with the first small image counted and on screen."""
    drop_paths(window, small_images[:1])
    wait_counted(qtbot, window, small_images[:1])
    path = str(small_images[0])
    qtbot.waitUntil(lambda: window.image_view.path == path and window.image_view._density is not None,
                    timeout=60_000)
    return window, window.session.store[path]


def test_density_overlay_is_in_cells_per_pixel_over_the_image(counted):
    window, entry = counted
    result = entry.analysis.result
    shown = window.image_view.density_item.image
    np.testing.assert_allclose(shown, result.density / result.pixels_per_cell ** 2, rtol=1e-6)
    rect = window.image_view.density_item.mapRectToParent(window.image_view.density_item.boundingRect())
    assert rect.width() == pytest.approx(result.density.shape[1] * result.pixels_per_cell)
    assert window.image_view.colorbar.getAxis("left").labelText == "cells / pixel"
    low, high = window.image_view.colorbar.levels()
    assert low == 0 and high > 0


def test_the_density_overlay_stops_at_the_image_edge(qtbot, window, tmp_path):
    from PySide6.QtGui import QImage, QPainter

    path = blob_png(tmp_path / "padded.png", 70, 90, [(35, 45), (60, 85)])  # the last cells reach 2 and 6 px beyond
    drop_paths(window, [path])
    wait_counted(qtbot, window, [path])
    view = window.image_view
    qtbot.waitUntil(lambda: view.path == str(path) and view._density is not None, timeout=60_000)
    drawn = view.density_item.mapRectToScene(view.density_item.boundingRect())
    image = view.image_item.mapRectToScene(view.image_item.boundingRect())
    assert drawn.width() > image.width() and drawn.height() > image.height()
    view.image_item.hide()
    view.overlay.hold.setChecked(True)  # a late repaint of the density keeps these levels
    view.colorbar.setLevels((0.0, 1e-12))  # every cell of the overlay opaque
    canvas = QImage(400, 400, QImage.Format.Format_ARGB32)
    canvas.fill(0)
    painter = QPainter(canvas)
    view.viewbox.scene().render(painter, canvas.rect(), drawn)
    painter.end()
    # the scene is rendered fitted into the canvas: the image's share of it, then the padding beyond
    scale = min(canvas.width() / drawn.width(), canvas.height() / drawn.height())
    inside = canvas.pixelColor(int(image.width() * scale * 0.5), int(image.height() * scale * 0.5))
    right = canvas.pixelColor(int((image.width() + 1) * scale) + 1, int(image.height() * scale * 0.5))
    below = canvas.pixelColor(int(image.width() * scale * 0.5), int((image.height() + 1) * scale) + 1)
    assert inside.alpha() > 100  # the overlay at its 0.6 opacity
    assert right.alpha() == 0 and below.alpha() == 0


def _show(qtbot, window, path) -> None:
    window.browser.select(str(path))
    qtbot.waitUntil(lambda: window.image_view.path == str(path) and window.image_view._density is not None,
                    timeout=60_000)


def test_each_image_gets_a_colour_scale_fitted_to_its_density(qtbot, counted, small_images):
    window, first = counted
    view = window.image_view
    assert not view.overlay.hold.isChecked()
    assert view.colorbar.levels()[1] == pytest.approx(np.percentile(view._density, 99.9), rel=1e-3)
    view.colorbar.setLevels((0.0, 0.123))  # e.g. "Fit" on another image
    drop_paths(window, small_images[1:2])
    wait_counted(qtbot, window, small_images[1:2])
    _show(qtbot, window, small_images[1])
    second = density_per_pixel(window.session.store[str(small_images[1])].analysis.result)
    assert view.colorbar.levels() == pytest.approx((0.0, np.percentile(second, 99.9)), rel=1e-3)
    assert tuple(view.density_item.getLevels()) == pytest.approx(view.colorbar.levels())


def test_the_colour_bar_shows_only_with_a_density(qtbot, window, small_images):
    view = window.image_view
    assert not view.colorbar.isVisible()  # no image yet
    drop_paths(window, small_images[:1])
    wait_counted(qtbot, window, small_images[:1])
    _show(qtbot, window, small_images[0])
    assert view.colorbar.isVisible()
    view.clear()
    assert not view.colorbar.isVisible()


def test_a_held_colour_scale_stays_across_images(qtbot, counted, small_images):
    window, _ = counted
    view = window.image_view
    view.colorbar.setLevels((0.0, 0.123))
    view.colorbar.sigLevelsChangeFinished.emit(view.colorbar)  # what releasing a drag on the bar sends
    assert view.overlay.hold.isChecked()
    drop_paths(window, small_images[1:2])
    wait_counted(qtbot, window, small_images[1:2])
    _show(qtbot, window, small_images[1])
    assert view.colorbar.levels() == pytest.approx((0.0, 0.123))
    assert tuple(view.density_item.getLevels()) == pytest.approx((0.0, 0.123))
    view.overlay.hold.setChecked(False)
    _show(qtbot, window, small_images[0])
    assert view.colorbar.levels()[1] != pytest.approx(0.123)


def test_opacity_and_colormap_persist_in_settings(counted, app_settings):
    window, _ = counted
    window.image_view.overlay.opacity.setValue(35)
    window.image_view.overlay.colormap.setCurrentText("viridis")
    assert window.image_view.density_item.opacity() == pytest.approx(0.35)
    from cxdesktop.settings import Settings

    again = Settings(app_settings._qs.fileName())
    assert again.overlay_opacity == pytest.approx(0.35) and again.colormap == "viridis"


def test_contrast_slider_sets_image_levels(counted):
    window, _ = counted
    lo, hi = window.image_view.contrast.slider.minimum(), window.image_view.contrast.slider.maximum()
    window.image_view.contrast.slider.setValue((lo + 0.1 * (hi - lo), lo + 0.5 * (hi - lo)))
    levels = window.image_view.image_item.getLevels()
    assert levels[0] == pytest.approx(lo + 0.1 * (hi - lo), abs=1e-3)
    assert levels[1] == pytest.approx(lo + 0.5 * (hi - lo), abs=1e-3)


def test_a_box_drawn_with_the_mouse_counts_what_is_inside(qtbot, counted):
    window, entry = counted
    window.menu_actions["tool_box"].trigger()
    assert window.image_view.viewbox.tool == BOX
    drag_on_image(qtbot, window, (8, 6), (60, 50))
    assert len(entry.boxes) == 1
    box = entry.boxes[0].normalised()
    assert box.x0 == pytest.approx(8, abs=1.5) and box.y1 == pytest.approx(50, abs=1.5)
    expected = count_in_rect(entry.analysis.result, box.x0, box.y0, box.x1, box.y1)
    assert window.box_tool.count(entry.boxes[0]) == pytest.approx(expected)
    assert window.box_list.table.rowCount() == 1
    assert window.box_list.table.item(0, 2).text() == f"{expected:.2f}"


def test_moving_a_box_updates_its_count_and_delete_removes_it(qtbot, counted):
    window, entry = counted
    box = window.box_tool.add_box(0, 0, 30, 30)
    roi, label = window.box_tool._rois[box.box_id]
    roi.setPos(QPointF(20, 10))
    expected = count_in_rect(entry.analysis.result, 20, 10, 50, 40)
    assert window.box_tool.count(box) == pytest.approx(expected)
    assert label.toPlainText().endswith(f"{expected:.1f}")
    window.box_tool.select(box.box_id)
    window.menu_actions["delete_box"].trigger()
    assert entry.boxes == [] and window.box_list.table.rowCount() == 0


def test_the_whole_image_box_holds_the_whole_count(counted):
    window, entry = counted
    box = window.box_tool.add_box(-10, -10, entry.width + 10, entry.height + 10)  # clipped to the image
    assert window.box_tool.count(box) == pytest.approx(entry.count, rel=1e-5)


def test_boxes_stay_with_their_image(qtbot, counted, small_images):
    window, entry = counted
    window.box_tool.add_box(5, 5, 25, 25)
    drop_paths(window, small_images[1:2])
    wait_counted(qtbot, window, small_images[1:2])
    window.browser.select(str(small_images[1]))
    assert window.box_tool.boxes() == [] and window.box_list.table.rowCount() == 0
    window.browser.select(entry.path)
    assert len(window.box_tool.boxes()) == 1 and window.box_list.table.rowCount() == 1


def test_typing_a_cell_diameter_recounts_at_that_scale(qtbot, counted):
    window, entry = counted
    window.cell_size.spin.setValue(20.0)
    qtbot.waitUntil(lambda: entry.analysis is not None and entry.analysis.cell_diameter_px == 20.0, timeout=60_000)
    assert entry.analysis.result.scale == pytest.approx(10.0 / 20.0)
    assert entry.cell_diameter_px == 20.0


def test_measuring_a_cell_sets_the_diameter(qtbot, counted):
    window, entry = counted
    window.menu_actions["tool_measure"].trigger()
    assert window.image_view.viewbox.tool == MEASURE and window.cell_size.measure_button.isChecked()
    drag_on_image(qtbot, window, (10, 10), (34, 42))  # 24 × 32 → 40 px
    assert window.measure_tool.line_roi is not None
    assert window.cell_size.value() == pytest.approx(40.0, abs=1.0)
    qtbot.waitUntil(lambda: entry.analysis is not None and entry.analysis.cell_diameter_px is not None
                    and abs(entry.analysis.cell_diameter_px - 40.0) < 1.0, timeout=60_000)
    window.menu_actions["tool_pan"].trigger()
    assert window.image_view.viewbox.tool == PAN and not window.cell_size.measure_button.isChecked()


def test_apply_to_folder_sets_every_image_of_the_folder(qtbot, counted, small_images):
    window, _ = counted
    drop_paths(window, small_images[1:])
    wait_counted(qtbot, window, small_images)
    window.cell_size.set_value(12.0)
    qtbot.mouseClick(window.cell_size.folder_button, Qt.MouseButton.LeftButton)
    store = window.session.store
    qtbot.waitUntil(lambda: all(store[str(p)].analysis is not None and store[str(p)].analysis.cell_diameter_px == 12.0
                                for p in small_images), timeout=120_000)


def test_choosing_a_prototype_shows_its_similarity_and_boxes(qtbot, counted):
    window, entry = counted
    for prototype in (0, 3):  # a cell prototype, then a background one
        window.prototypes.choose(prototype)
        expected = similarity_boxes(entry.analysis.result, prototype, percentile=99.0)
        qtbot.waitUntil(lambda prototype=prototype: window.image_view.prototype == prototype, timeout=60_000)
        assert window.image_view.similarity_item.isVisible()
        assert window.image_view.prototype_box_count() == len(expected)
        pens = {rect.pen().color().name() for rect in window.image_view._prototype_boxes}
        assert pens == {prototype_color(prototype, 2).name()}
        assert not window.image_view.density_item.isVisible()
    assert prototype_color(0, 2).name() != prototype_color(3, 2).name()
    window.prototypes.choose(-1)
    assert not window.image_view.similarity_item.isVisible() and window.image_view.density_item.isVisible()
    assert window.image_view.prototype_box_count() == 0


def test_contributions_chart_matches_the_library(counted):
    window, entry = counted
    parts = entry.analysis.contributions
    bars = window.contributions.contribution_bars
    np.testing.assert_allclose(bars.opts["height"], parts.values)
    np.testing.assert_allclose(window.contributions.weight_bars.opts["height"], parts.weights)
    assert parts.values.sum() + parts.bias_term == pytest.approx(entry.count, rel=1e-4)
    assert f"Count {entry.count:.2f}" in window.contributions.summary.text()
    brushes = [b.color().name() if hasattr(b, "color") else b.name() for b in bars.opts["brushes"]]
    assert brushes[0] == prototype_color(0, 2).name() and brushes[3] == prototype_color(3, 2).name()


def test_gallery_groups_cell_and_background_prototypes(window):
    groups = window.gallery.groups
    assert set(groups) == {"Cell prototypes", "Background prototypes"}
    from PySide6.QtWidgets import QLabel

    labels = groups["Cell prototypes"].findChildren(QLabel)
    captions = [label.text() for label in labels if label.text().startswith("sim")]
    assert len(captions) == 2 * 3  # two cell prototypes, three patches each


def test_gallery_without_patches_says_so(qtbot):
    from cxdesktop.engine import ModelInfo
    from cxdesktop.views.gallery import NO_GALLERY, GalleryView

    view = GalleryView()
    qtbot.addWidget(view)
    view.set_model(ModelInfo("m", "m.cxm", 2, 2, 10.0, {}, {}, {}, "cpu", "CPU", ""))
    assert view.message.text() == NO_GALLERY and view.groups == {}


def test_a_dim_16_bit_image_gets_usable_contrast(qtbot, window, tmp_path):
    import tifffile

    yy, xx = np.mgrid[0:64, 0:80]
    dim = (1000 + 2000 * np.exp(-((yy - 30) ** 2 + (xx - 40) ** 2) / 30.0)).astype(np.uint16)
    path = tmp_path / "dim16.tif"
    tifffile.imwrite(path, dim)
    drop_paths(window, [path])
    wait_counted(qtbot, window, [path])
    qtbot.waitUntil(lambda: window.image_view.path == str(path), timeout=60_000)
    assert window.session.store[str(path)].status == "done"
    slider = window.image_view.contrast.slider
    pixels = window.image_view.image_item.image
    assert slider.minimum() == pytest.approx(float(pixels.min()), abs=1e-3)
    assert slider.maximum() == pytest.approx(float(pixels.max()), abs=1e-3)
    assert slider.maximum() - slider.minimum() > 0.5  # the stretch uses the range, not 1000/65535 of it
    low, high = window.image_view.image_item.getLevels()
    assert (low, high) == pytest.approx((slider.minimum(), slider.maximum()), abs=1e-3)


def test_gallery_names_say_how_pure_each_prototypes_training_boxes_were(qtbot):
    from PySide6.QtWidgets import QLabel

    from cxdesktop.engine import ModelInfo
    from cxdesktop.views.gallery import GalleryView

    sources = [{"prototype": 0, "image": "a.png", "row": 3, "col": 4, "distance": 0.1, "box_purity": 0.9375},
               {"prototype": 2, "image": "b.png", "row": 5, "col": 6, "distance": 0.2, "box_purity": 0.5}]
    info = ModelInfo("m", "m.cxm", 2, 2, 10.0, {"prototype_sources": sources}, {}, {}, "cpu", "CPU", "",
                     gallery_patches=np.zeros((4, 3, 16, 16, 3), np.uint8), gallery_similarity=np.ones((4, 3)))
    view = GalleryView()
    qtbot.addWidget(view)
    view.set_model(info)

    def name(p):
        return view.findChild(QLabel, f"prototype-name-{p}")

    assert "boxes 94% pure" in name(0).text() and "hold a dot" in name(0).toolTip()
    assert "pure" not in name(1).text()  # nothing recorded for it (the paper's projection)
    assert "boxes 50% pure" in name(2).text() and "hold no dot" in name(2).toolTip()


def test_gallery_captions_the_patch_a_prototype_was_projected_onto_as_the_prototype(qtbot):
    from PySide6.QtWidgets import QLabel

    from countxplain.network import SIMILARITY_EPSILON
    from cxdesktop.engine import ModelInfo
    from cxdesktop.views import gallery
    from cxdesktop.views.gallery import OWN_PATCH_TIP, GalleryView

    assert gallery.SIMILARITY_EPSILON == SIMILARITY_EPSILON
    maximum = np.log(1 / SIMILARITY_EPSILON)
    similarity = np.array([[maximum, 7.87, 6.5],  # projected: distance 0
                           [9.2085, 7.5, 7.1],  # projected: distance 1e-7 (float32 rounding)
                           [8.5, 7.2, 7.0],  # not projected onto a gallery patch (distance 1e-4)
                           [maximum, maximum, 3.0]])  # only the first patch is the projected one
    info = ModelInfo("m", "m.cxm", 2, 2, 10.0, {}, {}, {}, "cpu", "CPU", "",
                     gallery_patches=np.zeros((4, 3, 16, 16, 3), np.uint8), gallery_similarity=similarity,
                     gallery_sources=[["a.png@8,8", "b.png@8,8", "c.png@8,8"]] * 4)
    view = GalleryView()
    qtbot.addWidget(view)
    view.set_model(info)
    captions = [[label.text() for label in view.groups[title].findChildren(QLabel)
                 if label.text() == "prototype" or label.text().startswith("sim")]
                for title in ("Cell prototypes", "Background prototypes")]
    assert captions == [["prototype", "sim 7.87", "sim 6.50", "prototype", "sim 7.50", "sim 7.10"],
                        ["sim 8.50", "sim 7.20", "sim 7.00", "prototype", "sim 9.21", "sim 3.00"]]
    own = [label for label in view.findChildren(QLabel) if label.text() == "prototype"]
    assert own and all(label.toolTip() == OWN_PATCH_TIP for label in own)
    tiles = [label for label in view.findChildren(QLabel) if label.toolTip().endswith("a.png@8,8")]
    assert len(tiles) == 4 and sum(OWN_PATCH_TIP in t.toolTip() for t in tiles) == 3
