"""Work kept between runs: the image list, each image's cell size and boxes and the model in use come
back on the next start when asked for; a damaged session file is named and ignored; images that are
gone are skipped with a note; File › Recent folders; quitting never silently drops boxes or sizes."""

from __future__ import annotations

import json
import shutil

import pytest

from cxdesktop.session_file import SESSION_FILE_NAME
from helpers.app import WAIT_MS, blob_png, drag_on_image, drop_paths, open_window, wait_counted


def session_path(settings):
    return settings.data_folder() / SESSION_FILE_NAME


def measure_and_box(qtbot, window, path):
    """What a user does on one image: measure a cell (drag), then draw a box (drag)."""
    window.browser.select(path)
    qtbot.waitUntil(lambda: window.image_view.path == path, timeout=WAIT_MS)
    window.menu_actions["tool_measure"].trigger()
    drag_on_image(qtbot, window, (10, 10), (34, 42))  # 40 px
    window.menu_actions["tool_box"].trigger()
    drag_on_image(qtbot, window, (5, 6), (40, 30))
    window.menu_actions["tool_pan"].trigger()


def test_the_list_sizes_boxes_and_model_come_back_on_the_next_start(
        qtbot, tiny_model_file, app_settings, small_images, tmp_path):
    other_model = shutil.copy(tiny_model_file, tmp_path / "other-model.cxm")
    first = open_window(qtbot, tiny_model_file, app_settings)
    first.open_model(other_model)
    qtbot.waitUntil(lambda: first.session.model.path == str(other_model), timeout=WAIT_MS)
    drop_paths(first, small_images)
    wait_counted(qtbot, first, small_images)
    measure_and_box(qtbot, first, str(small_images[1]))
    entry = first.session.store[str(small_images[1])]
    assert entry.cell_diameter_px == pytest.approx(40.0, abs=1.0) and len(entry.boxes) == 1
    box = entry.boxes[0].normalised()
    first.close()
    saved = json.loads(session_path(app_settings).read_text())
    assert [image["path"] for image in saved["images"]] == [str(p) for p in small_images]

    second = open_window(qtbot, tiny_model_file, app_settings)
    banner = second.restore_banner
    assert banner.is_offering() and "3 images" in banner.label.text() and "1 with boxes" in banner.label.text()
    assert len(second.session.store) == 0  # nothing comes back until asked for
    banner.restore_button.click()
    wait_counted(qtbot, second, small_images)
    assert second.session.store.paths() == [str(p) for p in small_images]
    restored = second.session.store[str(small_images[1])]
    assert restored.cell_diameter_px == pytest.approx(entry.cell_diameter_px)
    assert [(b.x0, b.y0, b.x1, b.y1) for b in restored.boxes] == [pytest.approx((box.x0, box.y0, box.x1, box.y1))]
    assert second.session.store[str(small_images[0])].cell_diameter_px is None
    qtbot.waitUntil(lambda: second.session.model.path == str(other_model), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: restored.status == "done" and restored.analysis.cell_diameter_px is not None,
                    timeout=WAIT_MS)
    assert restored.analysis.cell_diameter_px == pytest.approx(entry.cell_diameter_px)
    assert second.session.current == str(small_images[1])  # the image on screen at quit is on screen again
    assert second.box_list.table.rowCount() == 1
    second.close()


def test_work_is_saved_as_it_changes_not_only_on_quit(qtbot, window, small_images):
    drop_paths(window, small_images[:2])
    wait_counted(qtbot, window, small_images[:2])
    measure_and_box(qtbot, window, str(small_images[0]))

    def saved_boxes():
        path = session_path(window.settings)
        return json.loads(path.read_text())["images"][0]["boxes"] if path.is_file() else []

    qtbot.waitUntil(lambda: len(saved_boxes()) == 1, timeout=10_000)
    assert not list(session_path(window.settings).parent.glob("*.tmp"))  # written through a renamed temporary


def test_an_unanswered_offer_survives_a_quit_and_start_fresh_declines_it(qtbot, tiny_model_file, app_settings,
                                                                        small_images):
    first = open_window(qtbot, tiny_model_file, app_settings)
    drop_paths(first, small_images[:1])
    wait_counted(qtbot, first, small_images[:1])
    first.close()
    second = open_window(qtbot, tiny_model_file, app_settings)
    assert second.restore_banner.is_offering()
    second.close()  # quit without answering: the saved work is still there
    third = open_window(qtbot, tiny_model_file, app_settings)
    assert third.restore_banner.is_offering()
    third.restore_banner.fresh_button.click()
    assert not third.restore_banner.isVisible() and len(third.session.store) == 0
    third.close()
    fourth = open_window(qtbot, tiny_model_file, app_settings)
    assert not fourth.restore_banner.isVisible()
    fourth.close()


@pytest.mark.parametrize("content", [b"{ this is not json", b"\xff\xfe\x00garbage",
                                     b'{"format": "cxdesktop-session", "version": 1, "images": [{"boxes": 3}]}'])
def test_a_damaged_session_file_is_named_in_one_line_and_ignored(qtbot, tiny_model_file, app_settings, content,
                                                                 small_images):
    path = session_path(app_settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    win = open_window(qtbot, tiny_model_file, app_settings)
    banner = win.restore_banner
    assert banner.isVisible() and not banner.is_offering()
    text = banner.label.text()
    assert "could not be read" in text and str(path) in text and "\n" not in text
    drop_paths(win, small_images[:1])  # the window works as usual
    wait_counted(qtbot, win, small_images[:1])
    assert win.session.store[str(small_images[0])].status == "done"
    win.close()


def test_images_that_no_longer_exist_are_skipped_with_a_note(qtbot, tiny_model_file, app_settings, small_images,
                                                             tmp_path):
    gone = blob_png(tmp_path / "gone.png", 40, 40, [(20, 20)])
    path = session_path(app_settings)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": "cxdesktop-session", "version": 1, "model": str(tmp_path / "lost.cxm"),
                                "images": [{"path": str(small_images[0]), "cell_diameter_px": 12.5,
                                            "boxes": [[1, 2, 30, 40]]},
                                           {"path": str(gone), "cell_diameter_px": None, "boxes": []}]}))
    gone.unlink()
    win = open_window(qtbot, tiny_model_file, app_settings)
    win.restore_banner.restore_button.click()
    assert win.session.store.paths() == [str(small_images[0])]
    entry = win.session.store[str(small_images[0])]
    assert entry.cell_diameter_px == 12.5 and [(b.x0, b.y0, b.x1, b.y1) for b in entry.boxes] == [(1, 2, 30, 40)]
    note = win.restore_banner.label.text()
    assert win.restore_banner.isVisible() and "Skipped 1 image" in note and "gone.png" in note
    assert "lost.cxm no longer exists" in note and win.session.model.path == str(tiny_model_file)
    win.close()


def test_recent_folders_most_recent_first_capped_missing_ones_disabled(qtbot, window, tmp_path):
    folders = []
    for i in range(12):
        folder = tmp_path / f"set{i:02d}"
        folder.mkdir()
        blob_png(folder / "cells.png", 40, 40, [(20, 20)], seed=i)
        folders.append(folder)
        window.open_paths([folder])
    menu = window.recent_menu
    assert menu in [a.menu() for a in window.menuBar().actions()[0].menu().actions() if a.menu()]
    menu.aboutToShow.emit()
    shown = [action.data() for action in menu.folder_actions()]
    assert shown == [str(f) for f in reversed(folders)][:10]
    shutil.rmtree(folders[11])
    menu.aboutToShow.emit()
    first = menu.folder_actions()[0]
    assert not first.isEnabled() and "no longer there" in first.toolTip()
    window.session.remove_paths(window.session.store.paths())
    menu.folder_actions()[1].trigger()  # set10 again
    assert window.session.store.paths() == [str(folders[10] / "cells.png")]
    menu.aboutToShow.emit()
    assert menu.folder_actions()[0].data() == str(folders[10])


def test_quitting_when_the_session_cannot_be_saved_asks_before_dropping_boxes(qtbot, window, small_images,
                                                                              monkeypatch):
    import cxdesktop.session_keeper as keeper

    drop_paths(window, small_images[:1])
    wait_counted(qtbot, window, small_images[:1])
    window.box_tool.add_box(2, 2, 30, 30)

    def disk_full(path, session):
        raise OSError(28, "No space left on device")

    asked = []
    monkeypatch.setattr(keeper, "write_session", disk_full)
    monkeypatch.setattr(keeper, "ask_quit_unsaved", lambda parent, error: asked.append(error) or False)
    window.close()
    assert window.isVisible() and "No space left on device" in asked[0]  # the user chose to stay
    monkeypatch.setattr(keeper, "ask_quit_unsaved", lambda parent, error: True)
    window.close()
    assert not window.isVisible()
