"""Dots go only where they may: an unreadable image is not annotated (annotate mode refuses, saying why), and a
sample shipped with the app is copied to the user's data folder before its dots change, the list then showing
the copy, so the install folder is never written."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from countxplain import resources
from countxplain.annotations import read_dot_types, read_dots
from countxplain.datasets import sidecar_path
from cxdesktop.views.tool_viewbox import ANNOTATE, PAN
from helpers.app import WAIT_MS, click_on_image, drop_paths, wait_counted


def test_annotate_mode_refuses_an_unreadable_image_with_a_visible_message(qtbot, window, corrupt_png):
    drop_paths(window, [corrupt_png])
    wait_counted(qtbot, window, [corrupt_png])
    window.browser.select(str(corrupt_png))
    qtbot.waitUntil(lambda: window.annotator.entry is not None, timeout=WAIT_MS)
    window.menu_actions["tool_annotate"].trigger()
    assert window.image_view.viewbox.tool == PAN and window.menu_actions["tool_pan"].isChecked()
    assert not window.annotation_panel.mode_button.isChecked()
    message = window.status.currentMessage()
    assert "cannot be read, so it cannot be annotated" in message and corrupt_png.name in message
    assert window.status.message.isVisible()
    assert "cannot be annotated" in window.annotation_panel.status.text()
    assert not window.annotation_panel.import_button.isEnabled()
    window.annotator.add(5, 5)  # nor does a request that gets through some other way
    assert len(window.annotator.annotation()) == 0 and not sidecar_path(corrupt_png).exists()


@pytest.fixture
def install(tmp_path, monkeypatch):
    """A copy of the shipped resources standing for the install folder (the real one is never at risk)."""
    folder = tmp_path / "install" / "resources"
    shutil.copytree(resources.sample_images_dir(), folder / "samples")
    monkeypatch.setattr(resources, "resources_dir", lambda: folder)
    return folder / "samples"


def test_a_shipped_sample_is_copied_to_the_data_folder_before_its_dots_change(qtbot, window, install):
    shipped = resources.sample_images()[0]
    shipped_dots = sidecar_path(shipped).read_bytes()
    window.menu_actions["open_samples"].trigger()
    wait_counted(qtbot, window, [shipped])
    qtbot.waitUntil(lambda: window.image_view.path == str(shipped) and window.image_view._density is not None,
                    timeout=WAIT_MS)
    entry = window.session.store[str(shipped)]
    before = len(entry.dots)
    count = entry.count
    window.menu_actions["tool_annotate"].trigger()
    click_on_image(qtbot, window, 3.5, 3.5)

    assert sidecar_path(shipped).read_bytes() == shipped_dots  # the install folder is untouched
    copy = window.settings.data_folder() / "samples" / shipped.name
    assert copy.read_bytes() == shipped.read_bytes()
    samples = [str(p) for p in resources.sample_images()]
    assert window.session.store.paths() == [str(copy)] + samples[1:]  # in the sample's place in the list
    assert window.browser.current_path() == str(copy)
    assert window.session.current == str(copy) and window.annotator.entry is entry
    assert len(read_dots(sidecar_path(copy))) == before + 1
    np.testing.assert_allclose(read_dot_types(sidecar_path(copy))[0][-1], [3, 3], atol=0.6)
    assert entry.count == count  # the count came along; the image is not counted again
    assert "copied to" in window.status.currentMessage() and str(copy.parent) in window.status.currentMessage()
    qtbot.waitUntil(lambda: window.image_view.path == str(copy), timeout=WAIT_MS)
    assert window.image_view.viewbox.tool == ANNOTATE
    click_on_image(qtbot, window, 6.5, 6.5)  # the copy is edited in place from now on
    assert len(read_dots(sidecar_path(copy))) == before + 2
    assert not (window.settings.data_folder() / "samples-2").exists()
    window.menu_actions["undo_dots"].trigger()
    assert len(read_dots(sidecar_path(copy))) == before + 1
