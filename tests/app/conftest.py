"""Fixtures of the desktop app's tests.

``window`` is the real main window with the tiny model, settings in a temporary INI
file; it is closed (and its worker thread stopped) after each test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.app import blob_png, open_window


@pytest.fixture
def small_images(tmp_path) -> list[Path]:
    """Three small images of different sizes (so their density maps differ in shape)."""
    folder = tmp_path / "images"
    folder.mkdir()
    return [blob_png(folder / "a.png", 64, 96, [(20, 20), (40, 70)], seed=1),
            blob_png(folder / "b.png", 80, 64, [(30, 30), (60, 40), (20, 50)], seed=2),
            blob_png(folder / "c.png", 72, 72, [(36, 36)], seed=3)]


@pytest.fixture
def corrupt_png(tmp_path) -> Path:
    path = tmp_path / "not_really.png"
    path.write_text("this is text, not a PNG\n")
    return path


@pytest.fixture
def app_settings(tmp_path):
    from cxdesktop.settings import Settings

    return Settings(tmp_path / "settings.ini")


@pytest.fixture
def window(qtbot, tiny_model_file, app_settings):
    win = open_window(qtbot, tiny_model_file, app_settings)
    yield win
    win.close()
