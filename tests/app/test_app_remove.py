"""Taking images off the list in the real window: Del in the list (Del elsewhere still removes a box), the
context menu; files are never touched, and a late result for a removed image lands nowhere."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from helpers.app import block_worker, drop_paths, wait_counted


def test_del_in_the_list_removes_the_current_image_and_never_its_file(qtbot, window, small_images):
    a, b, c = (str(p) for p in small_images)
    sidecar = small_images[0].with_name("a.dots.csv")
    sidecar.write_text("x,y\n10,12\n")
    drop_paths(window, small_images)
    wait_counted(qtbot, window, small_images)
    window.box_tool.add_box(2, 2, 30, 30)
    view = window.browser.view
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    assert window.session.current == a
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert a not in window.session.store and window.browser.paths_in_view_order() == [b, c]
    assert small_images[0].is_file() and sidecar.read_text() == "x,y\n10,12\n"  # nothing deleted on disk
    assert window.session.current == b  # the neighbour is shown
    qtbot.waitUntil(lambda: window.image_view.path == b, timeout=60_000)
    assert window.summary.name.toolTip() == b


def test_del_outside_the_list_still_removes_the_selected_box(qtbot, window, small_images):
    drop_paths(window, small_images[:2])
    wait_counted(qtbot, window, small_images[:2])
    qtbot.waitUntil(lambda: window.image_view.path == str(small_images[0]), timeout=60_000)
    window.box_tool.add_box(2, 2, 30, 30)
    window.box_tool.select(window.box_tool.boxes()[0].box_id)
    canvas = window.image_view.canvas
    canvas.setFocus()
    qtbot.waitUntil(canvas.hasFocus, timeout=5000)
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert window.box_tool.boxes() == []
    assert len(window.session.store) == 2  # no image removed


def test_the_context_menu_removes_an_image_and_the_last_leaves_an_empty_window(qtbot, window, small_images):
    a = str(small_images[0])
    drop_paths(window, small_images[:1])
    wait_counted(qtbot, window, small_images[:1])
    menu = window.browser.context_menu(a)
    [action] = [x for x in menu.actions() if x.text() == "Remove from list"]
    action.trigger()
    assert window.session.store.paths() == [] and window.browser.model.rowCount() == 0
    assert window.session.current is None and window.image_view.path is None
    assert "Drop images" in window.image_view.message.text()
    drop_paths(window, small_images[:1])  # it can be listed again, and is counted again
    wait_counted(qtbot, window, small_images[:1])
    qtbot.waitUntil(lambda: window.session.store[a].status == "done", timeout=60_000)


def test_a_late_result_for_a_removed_image_lands_nowhere(qtbot, window, small_images):
    a, b = str(small_images[0]), str(small_images[1])
    engine = window.session.engine
    count, started, release = engine.count, threading.Event(), threading.Event()

    def held_count(path, *args, **kwargs):
        if path == a:
            started.set()
            release.wait(60)
        return count(path, *args, **kwargs)

    engine.count = held_count
    gate = block_worker(window)
    drop_paths(window, small_images[:2])  # a is current; a's count, then b's, wait behind the gate
    gate.set()
    assert started.wait(60)  # a's count is running ...
    changed = []
    window.session.sigEntryChanged.connect(changed.append)
    window.session.sigAnalysisReady.connect(changed.append)
    window.session.remove_paths([a])  # ... when it is taken off the list
    assert window.session.current == b
    release.set()
    qtbot.waitUntil(lambda: window.runner.is_idle() and window.session.store[b].status == "done", timeout=120_000)
    qtbot.waitUntil(lambda: window.image_view.path == b and window.image_view._density is not None, timeout=60_000)
    assert a not in window.session.store and a not in changed  # a's result was dropped, not stored
    assert window.image_view.density_item.image.shape == window.session.store[b].analysis.result.density.shape
    assert not window.status.progress.isVisible()  # the batch ended without a
