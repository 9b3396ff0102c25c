"""View › Batch summary through the real window: one point per counted image in list order, each
folder's mean ± SD, the summary line following the counts as they land, and both exports written."""

from __future__ import annotations

import csv
import statistics

import numpy as np
import pytest
from PIL import Image

from helpers.app import WAIT_MS, blob_png, block_worker, drop_paths, wait_counted


@pytest.fixture
def two_folders(tmp_path):
    first, second = tmp_path / "control", tmp_path / "treated"
    first.mkdir()
    second.mkdir()
    return [blob_png(first / "a.png", 64, 96, [(20, 20), (40, 70)], seed=1),
            blob_png(first / "b.png", 80, 64, [(30, 30), (60, 40), (20, 50)], seed=2),
            blob_png(second / "c.png", 72, 72, [(36, 36)], seed=3)]


def test_the_batch_view_plots_each_image_and_each_folder_and_exports_them(qtbot, window, two_folders, tmp_path):
    gate = block_worker(window)
    drop_paths(window, two_folders)
    window.menu_actions["batch_summary"].trigger()
    batch = window.batch_window
    view = batch.view
    assert batch.isVisible() and view.line.text() == "No counted images yet"  # nothing counted yet
    gate.set()
    wait_counted(qtbot, window, two_folders)
    qtbot.waitUntil(lambda: view.line.text().startswith("3 images"), timeout=WAIT_MS)  # it followed the counts

    store = window.session.store
    order = window.browser.paths_in_view_order()
    counts = [store[p].count for p in order]
    xs, ys = view.image_points.getData()
    assert list(xs) == [0, 1, 2] and np.allclose(ys, counts)
    by_folder = {str(two_folders[0].parent): [store[str(p)].count for p in two_folders[:2]],
                 str(two_folders[2].parent): [store[str(two_folders[2])].count]}
    _, means = view.folder_means.getData()
    assert len(means) == 2
    assert np.allclose(means, [statistics.fmean(by_folder[s.folder]) for s in view.folders])
    assert {s.folder for s in view.folders} == set(by_folder)
    mean, sd = statistics.fmean(counts), statistics.stdev(counts)
    assert view.line.text() == (f"3 images, mean {mean:.1f} ± {sd:.1f} SD, "
                                f"min–max {min(counts):.1f}–{max(counts):.1f}")

    (tmp_path / "out").mkdir()
    csv_path = view.export_csv(tmp_path / "out" / "batch.csv")
    rows = list(csv.DictReader(csv_path.open()))
    images = [r for r in rows if r["kind"] == "image"]
    assert [r["image"] for r in images] == [store[p].name for p in order]
    assert np.allclose([float(r["count"]) for r in images], counts, atol=1e-4)
    folders = {r["folder"]: r for r in rows if r["kind"] == "folder"}
    assert set(folders) == set(by_folder)
    for folder, values in by_folder.items():
        assert int(folders[folder]["n"]) == len(values)
        assert float(folders[folder]["mean"]) == pytest.approx(statistics.fmean(values), abs=1e-4)
    assert float(folders[str(two_folders[2].parent)]["sd"]) == 0.0
    overall = [r for r in rows if r["kind"] == "all"]
    assert len(overall) == 1 and float(overall[0]["sd"]) == pytest.approx(sd, abs=1e-4)

    png_path = view.export_png(tmp_path / "out" / "batch.png")
    image = np.asarray(Image.open(png_path).convert("RGB"))
    assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 1  # a drawn plot, not a blank
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["batch.csv", "batch.png"]  # no temporary left
    assert "batch.png" in view.written.text()
