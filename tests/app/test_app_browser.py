"""The real window: drop images, counts land in the list, errors show their reason, batches cancel,
and every job runs on the worker thread, never drawing a result on the wrong image."""

from __future__ import annotations

import math
import sys

import pytest
from PySide6.QtCore import Qt

from cxdesktop.browser import COUNT_COLUMN, FILE_COLUMN, SIZE_COLUMN
from helpers.app import block_worker, drop_paths, wait_counted


def cell(window, path, column, role=Qt.ItemDataRole.DisplayRole):
    model = window.browser.model
    return model.index(model.row_of(str(path)), column).data(role)


def test_dropped_files_are_listed_and_counted(qtbot, window, small_images):
    drop_paths(window, small_images[:2])
    wait_counted(qtbot, window, small_images[:2])
    store = window.session.store
    for path in small_images[:2]:
        entry = store[str(path)]
        assert entry.status == "done" and math.isfinite(entry.count) and entry.count > 0
        assert cell(window, path, COUNT_COLUMN) == f"{entry.count:.1f}"
        assert cell(window, path, SIZE_COLUMN) == f"{entry.width}×{entry.height}"
        assert cell(window, path, 0, Qt.ItemDataRole.DecorationRole) is not None  # thumbnail
    assert window.browser.current_path() == str(small_images[0])
    assert window.status.model_label.text().startswith("Model: tiny test model")


def test_a_dropped_folder_is_searched_for_images(qtbot, window, small_images):
    folder = small_images[0].parent
    (folder / "notes.txt").write_text("not an image")
    drop_paths(window, [folder])
    wait_counted(qtbot, window, small_images)
    assert sorted(window.session.store.paths()) == sorted(str(p) for p in small_images)


def test_a_corrupt_file_shows_its_reason_in_red(qtbot, window, corrupt_png, small_images):
    drop_paths(window, [corrupt_png, small_images[0]])
    wait_counted(qtbot, window, [corrupt_png, small_images[0]])
    entry = window.session.store[str(corrupt_png)]
    assert entry.status == "error"
    text = cell(window, corrupt_png, COUNT_COLUMN)
    assert "not an image file" in text
    assert "not an image file" in cell(window, corrupt_png, COUNT_COLUMN, Qt.ItemDataRole.ToolTipRole)
    color = cell(window, corrupt_png, COUNT_COLUMN, Qt.ItemDataRole.ForegroundRole).color()
    assert color.red() > 150 and color.green() < 80
    window.browser.select(str(corrupt_png))
    assert "not an image file" in window.image_view.message.text()
    assert window.summary.count.text() == "Cannot count"
    assert window.session.store[str(small_images[0])].status == "done"  # the rest carried on


def test_keyboard_up_down_changes_the_current_image(qtbot, window, small_images):
    drop_paths(window, small_images)
    wait_counted(qtbot, window, small_images)
    view = window.browser.view
    view.setFocus()
    assert window.session.current == str(small_images[0])
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert window.session.current == str(small_images[1])
    qtbot.waitUntil(lambda: window.image_view.path == str(small_images[1]), timeout=60_000)
    assert window.image_view.image_item.image.shape[:2] == (80, 64)
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert window.session.current == str(small_images[0])
    qtbot.waitUntil(lambda: window.image_view.path == str(small_images[0]), timeout=60_000)


def test_the_list_sorts_by_count_and_by_name(qtbot, window, small_images):
    drop_paths(window, small_images)
    wait_counted(qtbot, window, small_images)
    window.browser.view.sortByColumn(COUNT_COLUMN, Qt.SortOrder.DescendingOrder)
    counts = [window.session.store[p].count for p in window.browser.paths_in_view_order()]
    assert counts == sorted(counts, reverse=True)
    window.browser.view.sortByColumn(FILE_COLUMN, Qt.SortOrder.AscendingOrder)
    assert window.browser.paths_in_view_order() == sorted(str(p) for p in small_images)


def test_jobs_never_run_on_the_gui_thread(qtbot, window, small_images):
    drop_paths(window, small_images)
    wait_counted(qtbot, window, small_images)
    window.prototypes.choose(0)
    qtbot.waitUntil(lambda: window.image_view.prototype_box_count() > 0, timeout=60_000)
    log = window.runner.thread_log
    kinds = {kind for _, kind, _, _ in log}
    assert {"load-model", "count", "prototype"} <= kinds
    idents = {ident for _, _, _, ident in log}
    assert window.runner.gui_thread_ident not in idents
    assert len(idents) == 1  # one worker thread


def test_cancel_batch_stops_the_remaining_counts(qtbot, window, small_images):
    gate = block_worker(window)
    drop_paths(window, small_images)
    assert window.status.cancel_button.isVisible() and window.status.progress.isVisible()
    qtbot.mouseClick(window.status.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    wait_counted(qtbot, window, small_images)
    assert {window.session.store[str(p)].status for p in small_images} == {"cancelled"}
    assert {cell(window, p, COUNT_COLUMN) for p in small_images} == {"cancelled"}
    qtbot.waitUntil(lambda: not window.status.progress.isVisible(), timeout=60_000)
    assert not [kind for _, kind, _, _ in window.runner.thread_log if kind == "count"]
    window.session.recount([str(small_images[0])])  # F5 counts it again
    wait_counted(qtbot, window, small_images[:1])
    qtbot.waitUntil(lambda: window.session.store[str(small_images[0])].status == "done", timeout=60_000)


def test_a_late_result_is_stored_but_never_drawn_on_another_image(qtbot, window, small_images):
    a, b = str(small_images[0]), str(small_images[1])
    gate = block_worker(window)
    drop_paths(window, small_images[:2])  # a becomes current; both counts wait behind the gate
    drawn = []
    window.session.sigAnalysisReady.connect(lambda path: drawn.append((path, window.image_view.path)))
    window.browser.select(b)  # the user moves on before a's count lands
    gate.set()
    wait_counted(qtbot, window, [a, b])
    qtbot.waitUntil(lambda: window.image_view.path == b and window.image_view._density is not None, timeout=60_000)
    assert window.session.store[a].status == "done"  # stored ...
    assert all(path == shown == b for path, shown in drawn)  # ... but only b's result was drawn
    result_b = window.session.store[b].analysis.result
    assert window.image_view.density_item.image.shape == result_b.density.shape
    assert window.image_view.image_item.image.shape[:2] == (80, 64)


def test_a_new_cell_size_supersedes_the_queued_count(qtbot, window, small_images):
    a = str(small_images[0])
    gate = block_worker(window)
    drop_paths(window, small_images[:1])
    window.session.set_cell_diameter([a], 14.0)
    window.session.set_cell_diameter([a], 20.0)
    gate.set()
    wait_counted(qtbot, window, [a])
    qtbot.waitUntil(lambda: window.session.store[a].status == "done", timeout=60_000)
    runs = [tag for _, kind, tag, _ in window.runner.thread_log if kind == "count"]
    assert runs == [a]  # only the newest request ran
    assert window.session.store[a].analysis.cell_diameter_px == 20.0


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="from Python 3.12 True is immortal: its count never moves")
def test_browsing_images_leaves_pythons_true_intact(qtbot, window, small_images):
    """PySide6 6.12.0 dropped a reference to ``True`` on every image shown (about 40 per image,
    with pyqtgraph's items), so a long review session aborted Python (bool_dealloc) after a few
    hundred images; the pinned PySide6 must not."""
    import gc

    drop_paths(window, small_images)
    wait_counted(qtbot, window, small_images)
    paths = [str(p) for p in small_images]
    for path in paths:  # first showing of each image: caches fill
        window.browser.select(path)
        qtbot.waitUntil(lambda path=path: window.image_view.path == path, timeout=60_000)
    gc.collect()
    before = sys.getrefcount(True)
    for i in range(12):
        path = paths[i % len(paths)]
        window.browser.select(path)
        qtbot.waitUntil(lambda path=path: window.image_view.path == path, timeout=60_000)
        qtbot.wait(50)
    gc.collect()
    assert sys.getrefcount(True) - before > -60


def test_an_empty_window_says_how_to_start_and_opens_the_bundled_samples(qtbot, window):
    from countxplain.resources import sample_images_dir

    assert window.image_view.message.isVisible() and "Drop images" in window.image_view.message.text()
    window.menu_actions["open_samples"].trigger()
    samples = sorted(str(p) for p in sample_images_dir().glob("*.png"))
    assert len(samples) == 3 and sorted(window.session.store.paths()) == samples
    wait_counted(qtbot, window, samples)
    assert all(window.session.store[p].status == "done" for p in samples)
    qtbot.waitUntil(lambda: window.image_view.path is not None, timeout=60_000)
    assert not window.image_view.message.isVisible()


def test_a_long_file_name_is_shortened_in_the_middle_and_the_details_stay_whole(qtbot, window, small_images):
    long_name = small_images[0].parent / ("07fb37aafa6626608af90c1e18f6a743f29b6b233d2e427dcd1102df6a916cf5" + ".png")
    long_name.write_bytes(small_images[0].read_bytes())
    window.resize(1200, 800)
    window.show()
    drop_paths(window, [long_name])
    wait_counted(qtbot, window, [long_name])
    window.browser.select(str(long_name))
    summary = window.summary
    qtbot.waitUntil(lambda: summary.details.text() != "", timeout=5000)
    details = summary.details
    # once the layout has settled (a busy machine may take a few event-loop turns):
    qtbot.waitUntil(lambda: summary.name.fontMetrics().horizontalAdvance(summary.name.text()) <= summary.name.width()
                    and details.height() >= details.heightForWidth(details.width()),  # no line of details cut off
                    timeout=5000)
    shown = summary.name.text()
    assert "…" in shown and shown.startswith("07fb") and shown.endswith(".png")
    assert summary.name.toolTip() == str(long_name)


def test_a_folder_without_images_says_so_in_the_status_bar(qtbot, window, tmp_path, small_images):
    empty = tmp_path / "empty"
    empty.mkdir()
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "sub" / "readme.txt").write_text("no images here")
    (notes / ".hidden.png").write_bytes(small_images[0].read_bytes())  # hidden files are never listed
    for folder in (empty, notes):
        window.status.clearMessage()
        drop_paths(window, [folder])
        message = window.status.currentMessage()
        assert str(folder) in message and "no PNG, JPEG, BMP or TIFF images" in message
    assert window.session.store.paths() == []
    window.status.clearMessage()
    drop_paths(window, [small_images[0].parent])  # a folder with images: no such message
    assert "no PNG" not in window.status.currentMessage()
    wait_counted(qtbot, window, small_images)
