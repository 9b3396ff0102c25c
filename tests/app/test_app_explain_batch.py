"""File › Export explanation figures for all images: one figure and JSON per listed image, each under a
name of its own, written by the worker with the app's counter; the status bar says when all are written,
failures are listed with their reason, and "Cancel counting" stops the figures still to come."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from cxdesktop.explain_batch import explanation_names
from helpers.app import WAIT_MS, blob_png, block_worker, drop_paths, wait_counted


def test_names_are_the_stem_unless_another_image_of_the_batch_has_it():
    names = explanation_names(["/data/day1/a.png", "/data/day2/a.png", "/data/day1/b.png",
                               "/data/x/c.png", "/data/x/c.tif", "/data/y/c.png", "/elsewhere/day1/a.png"])
    assert names["/data/day1/b.png"] == "b"
    assert names["/data/x/c.png"] == "c-x-png" and names["/data/x/c.tif"] == "c-x-tif"
    assert names["/data/y/c.png"] == "c-y-png"
    assert names["/data/day1/a.png"] == "a-day1-png" and names["/data/day2/a.png"] == "a-day2-png"
    assert names["/elsewhere/day1/a.png"] == "a-day1-png-2"
    assert len({n.casefold() for n in names.values()}) == len(names)


def test_names_tell_apart_folders_then_file_types_and_never_meet_another_stem():
    assert explanation_names(["/p/a.png", "/q/a.png"]) == {"/p/a.png": "a-p", "/q/a.png": "a-q"}
    assert explanation_names(["/p/a.png", "/p/a.tif"]) == {"/p/a.png": "a-png", "/p/a.tif": "a-tif"}
    names = explanation_names(["/p/a.png", "/q/a.png", "/r/a-p.png", "/r/A.PNG"])
    assert len({n.casefold() for n in names.values()}) == 4
    assert explanation_names(["/p/a.png", "/p/a.png"]) == {"/p/a.png": "a"}


@pytest.fixture
def listed(qtbot, window, small_images, tmp_path, corrupt_png):
    """Four readable images, two named ``a.png`` in different folders and an ``a.tif``, and one unreadable."""
    pytest.importorskip("countxplain.explain_report")
    other = tmp_path / "other"
    other.mkdir()
    paths = [small_images[0], small_images[1], blob_png(other / "a.png", 56, 60, [(20, 30)], seed=4),
             blob_png(small_images[0].parent / "a.tif", 48, 52, [(24, 24)], seed=5)]
    drop_paths(window, paths + [corrupt_png])
    wait_counted(qtbot, window, paths + [corrupt_png])
    assert window.session.store[str(corrupt_png)].status == "error"
    return paths


def _trigger(window, monkeypatch, out_dir):
    """File › Export explanation figures for all images…, the folder chosen in its dialog."""
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(out_dir))
    window.menu_actions["export_all_figures"].trigger()
    return window.exporter.explain_batch


def test_every_listed_image_gets_its_own_figure_and_the_status_bar_says_so(qtbot, window, listed, tmp_path,
                                                                           monkeypatch):
    from countxplain import explain_report

    def no_new_counter(*args, **kwargs):
        raise AssertionError("a figure of the batch set up a counter of its own")

    monkeypatch.setattr(explain_report, "Counter", no_new_counter)
    out = tmp_path / "figures"
    out.mkdir()
    (out / "b-explanation.png").write_bytes(b"an older figure")
    batch = _trigger(window, monkeypatch, out)
    assert batch is not None and sorted(batch.names) == sorted(str(p) for p in listed)
    qtbot.waitUntil(lambda: batch.finished, timeout=WAIT_MS)
    outcome = batch.outcome
    assert not outcome.failed and outcome.cancelled == 0 and len(outcome.written) == len(listed)
    pngs = sorted(p.name for p in out.glob("*-explanation.png"))
    jsons = sorted(p.name for p in out.glob("*-explanation.json"))
    assert len(pngs) == len(jsons) == len(listed) == len(set(batch.names.values()))
    assert {png[:-len("-explanation.png")] for png in pngs} == set(batch.names.values())
    assert sorted(p.name for p in out.iterdir()) == sorted(pngs + jsons)  # no temporary file left
    assert (out / "b-explanation.png").read_bytes()[:4] == b"\x89PNG"  # the older figure replaced
    for path, name in batch.names.items():
        assert json.loads((out / f"{name}-explanation.json").read_text())["image"] == path
    message = f"Explanation figures of {len(listed)} image(s) written to {out}"
    assert window.statusBar().currentMessage() == message
    assert window.status.message.isVisible()
    assert window.settings.last_folder == str(out)
    gui = window.runner.gui_thread_ident
    ran = [ident for _, kind, _, ident in window.runner.thread_log if kind == "explain-batch"]
    assert len(ran) == len(listed) and gui not in ran


def test_an_image_that_fails_is_reported_with_its_reason_and_the_others_are_written(qtbot, window, listed,
                                                                                    tmp_path, monkeypatch):
    gone = listed[1]
    gone.unlink()
    out = tmp_path / "figures"
    batch = _trigger(window, monkeypatch, out)
    qtbot.waitUntil(lambda: batch.finished, timeout=WAIT_MS)
    assert [path for path, _ in batch.outcome.failed] == [str(gone)]
    assert len(list(out.glob("*-explanation.png"))) == len(listed) - 1
    assert window.statusBar().currentMessage() == (
        f"Explanation figures of {len(listed) - 1} image(s) written to {out}; 1 failed")
    boxes = [b for b in window.findChildren(QMessageBox, "errorBox")
             if b.isVisible() and b.windowTitle() == "Explanation figures"]
    assert len(boxes) == 1 and gone.name in boxes[0].text()


def test_cancel_counting_stops_the_figures_still_to_come(qtbot, window, listed, tmp_path, monkeypatch):
    out = tmp_path / "figures"
    gate = block_worker(window)
    try:
        batch = _trigger(window, monkeypatch, out)
        window.menu_actions["cancel_batch"].trigger()
    finally:
        gate.set()
    qtbot.waitUntil(lambda: batch.finished, timeout=WAIT_MS)
    assert batch.outcome.cancelled == len(listed) and not batch.outcome.written
    assert not out.exists() or not any(out.iterdir())
    assert window.statusBar().currentMessage().endswith(f"; {len(listed)} cancelled")
