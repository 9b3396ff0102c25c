"""Exports: counts CSV (per image and per box) read back, density maps, the explanation figure."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from countxplain.explain import count_in_rect
from cxdesktop.export import CSV_COLUMNS, atomic_write, save_density
from helpers.app import drop_paths, wait_counted


@pytest.fixture
def counted(qtbot, window, small_images, corrupt_png):
    drop_paths(window, small_images[:2] + [corrupt_png])
    wait_counted(qtbot, window, small_images[:2] + [corrupt_png])
    path = str(small_images[0])
    qtbot.waitUntil(lambda: window.image_view.path == path, timeout=60_000)
    return window


def test_counts_csv_has_images_and_boxes_with_model_and_device(counted, tmp_path):
    window = counted
    store = window.session.store
    first = store.entries()[0]
    box = window.box_tool.add_box(4, 4, 40, 30)
    window.session.store.entries()[1].cell_diameter_px = None
    out = window.exporter.export_counts(tmp_path / "out" / "counts.csv")
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    images = [r for r in rows if r["kind"] == "image"]
    boxes = [r for r in rows if r["kind"] == "box"]
    assert [r["path"] for r in images] == store.paths()
    for row in images[:2]:
        entry = store[row["path"]]
        assert float(row["count"]) == pytest.approx(entry.count, abs=1e-3)
        assert row["model"] == "tiny test model" and row["device"] == "cpu"
        assert float(row["cell_diameter_px"]) == pytest.approx(10.0)  # the model's own scale
        estimated = entry.analysis.result.estimated_diameter_px
        assert row["estimated_cell_diameter_px"] == ("" if estimated is None else f"{estimated:.2f}")
        assert int(row["image_width"]) == entry.width and int(row["image_height"]) == entry.height
        assert row["precision"] == entry.analysis.precision == window.session.model.precision
        assert row["views_averaged"] == "1"
    bad = images[2]
    assert bad["status"] == "error" and "not an image file" in bad["error"] and bad["count"] == ""
    assert len(boxes) == 1 and boxes[0]["path"] == first.path and int(boxes[0]["box"]) == box.box_id
    expected = count_in_rect(first.analysis.result, 4, 4, 40, 30)
    assert float(boxes[0]["count"]) == pytest.approx(expected, abs=1e-3)
    assert [p.name for p in out.parent.iterdir()] == ["counts.csv"]  # no temporary file left behind


def test_csv_records_the_cell_diameter_used(qtbot, counted, tmp_path):
    window = counted
    path = window.session.store.paths()[0]
    window.session.set_cell_diameter([path], 16.0)
    qtbot.waitUntil(lambda: window.session.store[path].status == "done", timeout=60_000)
    out = window.exporter.export_counts(tmp_path / "counts.csv")
    with open(out, newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["path"] == path)
    assert float(row["cell_diameter_px"]) == 16.0 and float(row["scale"]) == pytest.approx(10 / 16)


def test_density_map_exports_as_npy_and_tif(counted, tmp_path):
    import tifffile

    window = counted
    entry = window.session.store[window.session.current]
    npy = window.exporter.export_density(tmp_path / "density.npy")
    tif = window.exporter.export_density(tmp_path / "density.tif")
    np.testing.assert_array_equal(np.load(npy), entry.analysis.result.density)
    with tifffile.TiffFile(tif) as handle:
        data = handle.asarray()
        meta = json.loads(handle.pages[0].description)
    np.testing.assert_array_equal(data, entry.analysis.result.density)
    assert float(data.sum(dtype=np.float64)) == pytest.approx(entry.count, rel=1e-5)
    assert meta["pixels_per_cell"] == pytest.approx(entry.analysis.result.pixels_per_cell)
    assert meta["views_averaged"] == entry.analysis.result.flips == 1
    assert meta["whole_cells"] is entry.analysis.result.whole_cells is False


def test_density_refuses_other_formats(counted, tmp_path):
    entry = counted.session.store[counted.session.current]
    with pytest.raises(ValueError):
        save_density(tmp_path / "density.png", entry.analysis)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "counts.csv"
    target.write_text("old")

    def fails(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, fails)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["counts.csv"]


def test_explanation_figure_is_written_by_the_worker(qtbot, counted, tmp_path):
    pytest.importorskip("countxplain.explain_report")
    window = counted
    done = []
    window.session.sigExplanationDone.connect(lambda png, js: done.append((png, js)))
    assert window.exporter.export_figure(tmp_path / "explain")
    qtbot.waitUntil(lambda: bool(done), timeout=120_000)
    png, js = done[0]
    assert os.path.getsize(png) > 0 and os.path.getsize(js) > 0
    assert "explain" in {kind for _, kind, _, _ in window.runner.thread_log}
