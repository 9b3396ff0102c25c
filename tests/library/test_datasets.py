"""Pairing images with annotations (real sets and synthetic folders), splits and protocols."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from countxplain.datasets import (
    Sample,
    count_dots,
    load_dataset,
    load_sample,
    sidecar_path,
    sidecar_paths,
    split_indices,
)
from countxplain.protocols import PROTOCOLS, dsb2018_split, load_protocol_data

EXPECTED = {  # name: (layout, images, annotated cells), from shared/data/README.md
    "vgg": ("vgg", 200, 35_192),
    "mbm": ("mbm", 44, 5_553),
    "adi": ("images+annotations", 200, 31_001),
    "dsb2018": ("images+dots", 664, 28_986),
}


@pytest.fixture(scope="module")
def datasets(data_root):
    return {name: load_dataset(data_root / name) for name in EXPECTED}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_dataset_pairs_and_totals(datasets, name):
    layout, n_images, total = EXPECTED[name]
    dataset = datasets[name]
    assert dataset.layout == layout
    assert len(dataset) == n_images
    assert dataset.unpaired == []
    assert len({s.image_path for s in dataset.samples}) == n_images
    assert len({s.dots_path for s in dataset.samples}) == n_images
    assert count_dots(dataset) == total


def test_real_pairs_match_by_name(datasets):
    for sample in datasets["vgg"].samples:
        assert sample.image_path.name.replace("cell", "dots") == sample.dots_path.name
    for sample in datasets["mbm"].samples:
        prefix, number = sample.image_path.stem.rsplit("_", 1)
        assert sample.dots_path.name == f"{prefix}_dots_{number}.png"
    for sample in datasets["adi"].samples:
        assert sample.image_path.name == sample.dots_path.name
        assert sample.image_path.parent.name == "images" and sample.dots_path.parent.name == "annotations"
    for sample in datasets["dsb2018"].samples:
        assert sample.dots_path.name == sample.image_path.stem + ".csv"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_load_sample_reads_pixels_and_dots(datasets, name):
    sample = datasets[name].samples[-1]
    image, dots = load_sample(sample)
    assert image.pixels.ndim == 3 and image.pixels.shape[2] == 3
    assert dots.ndim == 2 and dots.shape[1] == 2 and len(dots) > 0
    assert dots[:, 0].max() <= image.width - 0.5 and dots[:, 1].max() <= image.height - 0.5


# --- synthetic folders -------------------------------------------------------------------------

def _png(path, size=(16, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros(size + (3,), dtype=np.uint8)).save(path)


def _dots_png(path, points=((2, 3),)):
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    for x, y in points:
        rgb[y, x] = (255, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)


def _csv(path, text="x,y\n1,1\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _unpaired(dataset):
    return {p.name: reason for p, reason in dataset.unpaired}


def test_vgg_layout_lists_missing_and_orphan_annotations(tmp_path):
    _png(tmp_path / "001cell.png")
    _dots_png(tmp_path / "001dots.png", [(1, 1), (5, 5)])
    _png(tmp_path / "002cell.png")  # no annotation
    _dots_png(tmp_path / "003dots.png")  # no image
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".hidden").write_text("ignored")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "vgg"
    assert [s.image_path.name for s in dataset.samples] == ["001cell.png"]
    unpaired = _unpaired(dataset)
    assert set(unpaired) == {"002cell.png", "003dots.png", "notes.txt"}
    assert "002dots.png" in unpaired["002cell.png"]
    assert "without an image" in unpaired["003dots.png"]
    assert count_dots(dataset) == 2


def test_mbm_layout_lists_missing_and_orphan_annotations(tmp_path):
    _png(tmp_path / "BM_A_000.png")
    _dots_png(tmp_path / "BM_A_dots_000.png")
    _png(tmp_path / "BM_A_001.png")
    _dots_png(tmp_path / "BM_A_dots_007.png")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "mbm"
    assert [(s.image_path.name, s.dots_path.name) for s in dataset.samples] == [("BM_A_000.png", "BM_A_dots_000.png")]
    unpaired = _unpaired(dataset)
    assert set(unpaired) == {"BM_A_001.png", "BM_A_dots_007.png"}
    assert "BM_A_dots_001.png" in unpaired["BM_A_001.png"]
    assert "without an image" in unpaired["BM_A_dots_007.png"]


def test_images_annotations_layout(tmp_path):
    _png(tmp_path / "images" / "a.png")
    _dots_png(tmp_path / "annotations" / "a.png")
    _png(tmp_path / "images" / "b.png")
    _dots_png(tmp_path / "annotations" / "c.png")
    (tmp_path / "images" / "readme.txt").write_text("x")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "images+annotations"
    assert [s.name for s in dataset.samples] == ["a.png"]
    unpaired = _unpaired(dataset)
    assert set(unpaired) == {"b.png", "c.png", "readme.txt"}
    assert "annotations/b.png" in unpaired["b.png"]
    assert "without an image" in unpaired["c.png"]
    assert "not an image" in unpaired["readme.txt"]


def test_images_dots_layout(tmp_path):
    _png(tmp_path / "images" / "id1.png")
    _csv(tmp_path / "dots" / "id1.csv")
    _png(tmp_path / "images" / "id2.png")
    _csv(tmp_path / "dots" / "id3.csv")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "images+dots"
    assert [(s.image_path.name, s.dots_path.name) for s in dataset.samples] == [("id1.png", "id1.csv")]
    unpaired = _unpaired(dataset)
    assert set(unpaired) == {"id2.png", "id3.csv"}
    assert "dots/id2.csv" in unpaired["id2.png"]
    assert "without an image" in unpaired["id3.csv"]


def test_sidecar_layout(tmp_path):
    _png(tmp_path / "a.png")
    _csv(sidecar_path(tmp_path / "a.png"), "x,y\n1,1\n2,2\n3,3\n")
    _png(tmp_path / "b.tif")
    _csv(tmp_path / "b.dots.csv")
    _png(tmp_path / "missing.png")  # no sidecar
    _csv(tmp_path / "orphan.dots.csv")  # no image
    (tmp_path / "notes.txt").write_text("hello")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "sidecar"
    assert [(s.image_path.name, s.dots_path.name) for s in dataset.samples] == [
        ("a.png", "a.dots.csv"), ("b.tif", "b.dots.csv")]
    unpaired = _unpaired(dataset)
    assert set(unpaired) == {"missing.png", "orphan.dots.csv", "notes.txt"}
    assert "missing.dots.csv" in unpaired["missing.png"]
    assert "without an image" in unpaired["orphan.dots.csv"]
    assert "not an image" in unpaired["notes.txt"]
    assert count_dots(dataset) == 4


def test_sidecar_with_upper_case_image_suffix_is_not_an_orphan(tmp_path):
    _png(tmp_path / "Scan.PNG")
    _csv(tmp_path / "Scan.dots.csv")
    dataset = load_dataset(tmp_path)
    assert [s.image_path.name for s in dataset.samples] == ["Scan.PNG"]
    assert dataset.unpaired == []


def test_sidecar_path_and_sample_name(tmp_path):
    assert sidecar_path(tmp_path / "x" / "cells.tiff") == tmp_path / "x" / "cells.dots.csv"
    assert Sample(tmp_path / "a.png", tmp_path / "a.dots.csv").name == "a.png"


def test_images_sharing_a_stem_get_a_sidecar_each_and_a_single_image_keeps_the_plain_name(tmp_path):
    for name in ("twin.png", "twin.tif", "solo.png", "a.png", "a.png.jpg"):
        _png(tmp_path / name)
    assert sidecar_path(tmp_path / "twin.png") == tmp_path / "twin.png.dots.csv"
    assert sidecar_path(tmp_path / "twin.tif") == tmp_path / "twin.tif.dots.csv"
    assert sidecar_path(tmp_path / "solo.png") == tmp_path / "solo.dots.csv"
    assert sidecar_path(tmp_path / "a.png") == tmp_path / "a.dots.csv"
    assert sidecar_path(tmp_path / "a.png.jpg") == tmp_path / "a.png.jpg.dots.csv"  # not a.png's full name
    _png(tmp_path / "Solo.TIF")  # one sidecar name on Windows and macOS
    assert sidecar_path(tmp_path / "solo.png") == tmp_path / "solo.png.dots.csv"


def test_sidecar_paths_of_many_images_are_each_images_sidecar_path(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    images = [tmp_path / "twin.png", tmp_path / "twin.tif", tmp_path / "solo.png", other / "twin.png"]
    for image in images:
        _png(image)
    assert sidecar_paths(images) == [sidecar_path(image) for image in images]
    assert sidecar_paths(images)[3] == other / "twin.dots.csv"  # alone in its folder


def test_twins_are_paired_with_their_own_sidecars_for_training(tmp_path):
    for name in ("twin.png", "twin.tif", "solo.png"):
        _png(tmp_path / name)
    _csv(tmp_path / "twin.png.dots.csv", "x,y\n1,1\n")
    _csv(tmp_path / "twin.tif.dots.csv", "x,y\n2,2\n3,3\n")
    _csv(tmp_path / "solo.dots.csv", "x,y\n4,4\n")
    _csv(tmp_path / "twin.dots.csv", "x,y\n9,9\n")  # from before twins had their own: either's dots
    dataset = load_dataset(tmp_path)
    pairs = {s.image_path.name: s.dots_path.name for s in dataset.samples}
    assert pairs == {"twin.png": "twin.png.dots.csv", "twin.tif": "twin.tif.dots.csv", "solo.png": "solo.dots.csv"}
    reason = _unpaired(dataset)["twin.dots.csv"]
    assert "twin.png or twin.tif" in reason and "twin.png.dots.csv" in reason
    assert count_dots(dataset) == 4


def test_load_dataset_on_a_file_or_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("")
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "f.txt")


# --- splits ------------------------------------------------------------------------------------

def test_split_indices_disjoint_and_deterministic():
    train, val, test = split_indices(100, 30, 10, None, seed=3)
    assert (len(train), len(val), len(test)) == (30, 10, 60)
    together = np.concatenate([train, val, test])
    assert sorted(together.tolist()) == list(range(100))
    again = split_indices(100, 30, 10, None, seed=3)
    for a, b in zip((train, val, test), again):
        np.testing.assert_array_equal(a, b)
    other = split_indices(100, 30, 10, None, seed=4)
    assert not np.array_equal(train, other[0])


def test_split_indices_with_fixed_test_size():
    train, val, test = split_indices(50, 10, 5, 20, seed=0)
    assert (len(train), len(val), len(test)) == (10, 5, 20)
    assert len(set(train) | set(val) | set(test)) == 35


def test_split_indices_too_many_requested():
    with pytest.raises(ValueError):
        split_indices(10, 8, 2, 5, seed=0)
    with pytest.raises(ValueError):
        split_indices(10, 8, 5, None, seed=0)


def _names(samples):
    return [s.image_path for s in samples]


@pytest.mark.parametrize("protocol", [p for p in PROTOCOLS if p != "dsb2018"])
def test_protocol_splits_disjoint_sized_and_deterministic(data_root, datasets, protocol):
    spec = PROTOCOLS[protocol]
    dataset = datasets[spec.dataset]
    firsts = []
    for seed in range(5):
        train, val, test = spec.split(dataset, seed)
        assert (len(train), len(val), len(test)) == (spec.n_train, spec.n_val, spec.n_test)
        a, b, c = set(_names(train)), set(_names(val)), set(_names(test))
        assert len(a) == len(train) and len(b) == len(val) and len(c) == len(test)
        assert not (a & b) and not (a & c) and not (b & c)
        again = spec.split(dataset, seed)
        assert [_names(x) for x in again] == [_names(train), _names(val), _names(test)]
        firsts.append(tuple(_names(test)))
    assert len(set(firsts)) == 5  # every seed a different split


def test_protocol_split_sizes_as_published():
    assert PROTOCOLS["vgg32"].n_train == 32 and PROTOCOLS["vgg32"].n_test == 100
    assert PROTOCOLS["vgg64"].n_train + PROTOCOLS["vgg64"].n_val == 64 and PROTOCOLS["vgg64"].n_test == 136
    assert PROTOCOLS["mbm"].n_train + PROTOCOLS["mbm"].n_val == 15 and PROTOCOLS["mbm"].n_test == 29
    assert PROTOCOLS["adi"].n_train + PROTOCOLS["adi"].n_val == 50 and PROTOCOLS["adi"].n_test == 150


def test_dsb2018_split_is_80_20_disjoint_and_fixed(datasets, data_root):
    dataset = datasets["dsb2018"]
    train, val, test = PROTOCOLS["dsb2018"].split(dataset, seed=0)
    n = len(dataset)
    assert len(train) + len(val) + len(test) == n
    assert abs(len(test) - 0.2 * n) <= 1
    assert abs((len(train) + len(val)) - 0.8 * n) <= 1
    assert abs(len(val) - 0.1 * (len(train) + len(val))) <= 1
    a, b, c = set(_names(train)), set(_names(val)), set(_names(test))
    assert not (a & b) and not (a & c) and not (b & c)
    assert len(a | b | c) == n
    # the same for every seed, and independent of the order the samples are listed in
    other = PROTOCOLS["dsb2018"].split(dataset, seed=3)
    assert [_names(x) for x in other] == [_names(train), _names(val), _names(test)]
    shuffled = type(dataset)(dataset.root, dataset.layout, list(reversed(dataset.samples)))
    assert [_names(x) for x in dsb2018_split(shuffled)] == [_names(train), _names(val), _names(test)]


def test_load_protocol_data(data_root):
    spec, dataset = load_protocol_data(data_root, "mbm")
    assert spec.name == "mbm" and len(dataset) == 44
    with pytest.raises(KeyError):
        load_protocol_data(data_root, "nonexistent")
