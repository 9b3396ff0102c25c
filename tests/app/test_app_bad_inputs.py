"""The real window meets a sample of the bad-input corpus (tests/helpers/bad_inputs/) in one dropped
folder: every refused file is listed with its reason, the odd but readable ones and a good image
of the same batch are counted, and the window keeps working afterwards."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from cxdesktop.browser import COUNT_COLUMN
from helpers.app import blob_png, drop_paths, wait_counted
from helpers.bad_inputs.corpus import CASES

SAMPLE = ("empty.png", "text.png", "gif named.png", "png cut inside IDAT.png", "jpeg cut at half.jpg",
          "tiff strip past end.tif", "bomb zlib 30000x30000.tif", "bomb header png.png", "seven 7x7.png",
          "all nan float32.tif", "complex64.tif", "five channel.tif", "cielab.tif", "three pages.tif",
          "pipe.png", "dangling.png", "loop.png",
          "nan float32.tif", "palette.bmp", "constant zero.png", "unicode ünï 細胞 🦠.png")


# several pages, or more channels than colour holds: the command line asks for --page or --channel, the app
# counts the first and offers the rest in its pickers
APP_CHANNEL_PICKS = {"five channel.tif", "three pages.tif"}


@pytest.fixture
def sample_folder(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    chosen = {case.name: case for case in CASES if case.name in SAMPLE}
    assert sorted(chosen) == sorted(SAMPLE)
    made = {}
    for name, case in chosen.items():
        case.make(folder / name)
        made[folder / name] = case
    good = blob_png(folder / "good.png", 64, 64, [(20, 20), (40, 44)], seed=4)
    return folder, made, good


def _wait_all(qtbot, window, paths) -> None:
    try:
        wait_counted(qtbot, window, paths)
    except Exception:
        store = window.session.store
        pending = {p.name: (store[str(p)].status if str(p) in store else "not listed") for p in paths
                   if str(p) not in store or store[str(p)].status not in ("done", "error", "cancelled")}
        raise AssertionError(f"not finished: {pending}") from None


def _reason(window, path) -> str:
    model = window.browser.model
    return model.index(model.row_of(str(path)), COUNT_COLUMN).data(Qt.ItemDataRole.ToolTipRole) or ""


def test_each_sampled_bad_input_shows_its_reason_and_the_good_image_is_counted(qtbot, window, sample_folder):
    folder, made, good = sample_folder
    drop_paths(window, [folder])
    _wait_all(qtbot, window, [*made, good])
    store = window.session.store
    assert store[str(good)].status == "done" and store[str(good)].count > 0
    for path, case in made.items():
        entry = store[str(path)]
        if case.expect == "counted" or case.name in APP_CHANNEL_PICKS:
            assert entry.status == "done" and math.isfinite(entry.count) and entry.count >= 0, case.name
            continue
        assert entry.status == "error", case.name
        reason = entry.error
        assert reason and "\n" not in reason and "Traceback" not in reason, (case.name, reason)
        assert case.words.lower() in reason.lower(), (case.name, case.words, reason)
        assert reason in _reason(window, path), case.name  # the list's tooltip shows it whole


def test_the_window_keeps_working_after_the_bad_batch(qtbot, window, sample_folder, tmp_path):
    folder, made, good = sample_folder
    drop_paths(window, [folder])
    _wait_all(qtbot, window, [*made, good])
    for path in made:  # showing each one, refused or not, neither raises nor stops the window
        window.browser.select(str(path))
        qtbot.wait(10)
    later = blob_png(tmp_path / "later.png", 72, 72, [(30, 30)], seed=5)
    drop_paths(window, [later])
    wait_counted(qtbot, window, [later])
    assert window.session.store[str(later)].status == "done"
    window.browser.select(str(later))
    assert window.summary.count.text() != "Cannot count"
