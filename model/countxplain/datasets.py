"""Pairing images with their dot annotations, by explicit rules per folder layout.

Layouts recognised (checked in this order):

* ``vgg``:  ``NNNcell.png`` with ``NNNdots.png`` in the same folder.
* ``mbm``:  ``X_NNN.png`` with ``X_dots_NNN.png`` in the same folder.
* ``images/`` + ``annotations/``: same file name in both (the ADI layout).
* ``images/`` + ``dots/``: ``images/<id>.<ext>`` with ``dots/<id>.csv`` (the DSB2018 layout).
* any other folder: ``<stem>.<ext>`` with a sidecar ``<stem>.dots.csv`` (what the app writes).

Every file that cannot be paired is listed in ``Dataset.unpaired`` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .annotations import read_dots
from .images import IMAGE_SUFFIXES, read_image

SIDECAR_SUFFIX = ".dots.csv"


@dataclass(frozen=True)
class Sample:
    image_path: Path
    dots_path: Path

    @property
    def name(self) -> str:
        return self.image_path.name


@dataclass
class Dataset:
    root: Path
    layout: str
    samples: list[Sample]
    unpaired: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)


def sidecar_path(image_path: str | Path) -> Path:
    """Where the app keeps an image's dots: ``<stem>.dots.csv`` beside the image."""
    image_path = Path(image_path)
    return image_path.with_name(image_path.stem + SIDECAR_SUFFIX)


def load_dataset(root: str | Path) -> Dataset:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    names = {p.name for p in files}
    if any(re.fullmatch(r"\d+cell\.png", n) for n in names):
        return _pair_by_pattern(root, "vgg", files, r"(\d+)cell\.png", r"(\d+)dots\.png", "{}dots.png")
    if any(re.fullmatch(r".+_dots_\d+\.png", n) for n in names):
        return _pair_by_pattern(root, "mbm", files, r"(.+)_(\d+)\.png", r".+_dots_\d+\.png", None)
    if (root / "images").is_dir() and (root / "annotations").is_dir():
        return _pair_folders(root, "images+annotations", root / "images", root / "annotations", lambda p: p.name)
    if (root / "images").is_dir() and (root / "dots").is_dir():
        return _pair_folders(root, "images+dots", root / "images", root / "dots", lambda p: p.stem + ".csv")
    return _pair_sidecars(root, files)


def _pair_by_pattern(root, layout, files, image_re, dots_re, dots_fmt) -> Dataset:
    samples, unpaired, used = [], [], set()
    for path in files:
        if re.fullmatch(dots_re, path.name):
            continue
        match = re.fullmatch(image_re, path.name)
        if not match:
            unpaired.append((path, "name does not follow the image pattern of this folder"))
            continue
        if layout == "mbm":
            dots_name = f"{match.group(1)}_dots_{match.group(2)}.png"
        else:
            dots_name = dots_fmt.format(match.group(1))
        dots = root / dots_name
        if dots.exists():
            samples.append(Sample(path, dots))
            used.add(dots)
        else:
            unpaired.append((path, f"no annotation {dots_name}"))
    for path in files:
        if re.fullmatch(dots_re, path.name) and path not in used:
            unpaired.append((path, "annotation without an image"))
    return Dataset(root, layout, samples, unpaired)


def _pair_folders(root, layout, image_dir, dots_dir, dots_name_of) -> Dataset:
    samples, unpaired, used = [], [], set()
    for path in sorted(image_dir.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            unpaired.append((path, "not an image file type"))
            continue
        dots = dots_dir / dots_name_of(path)
        if dots.exists():
            samples.append(Sample(path, dots))
            used.add(dots)
        else:
            unpaired.append((path, f"no annotation {dots.relative_to(root)}"))
    for path in sorted(dots_dir.iterdir()):
        if path.is_file() and path not in used and not path.name.startswith("."):
            unpaired.append((path, "annotation without an image"))
    return Dataset(root, layout, samples, unpaired)


def _pair_sidecars(root, files) -> Dataset:
    samples, unpaired, used = [], [], set()
    for path in files:
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            unpaired.append((path, "not an image file type"))
            continue
        dots = sidecar_path(path)
        if dots.exists():
            samples.append(Sample(path, dots))
            used.add(dots)
        else:
            unpaired.append((path, f"no annotation {dots.name}"))
    for path in files:  # a sidecar is an orphan only if no image used it (any suffix case: 'A.PNG')
        if path.name.endswith(SIDECAR_SUFFIX) and path not in used:
            unpaired.append((path, "annotation without an image"))
    return Dataset(root, "sidecar", samples, unpaired)


def load_sample(sample: Sample):
    """Read a sample's pixels and dots; dots are checked against the image size."""
    image = read_image(sample.image_path)
    dots = read_dots(sample.dots_path, image_shape=(image.height, image.width))
    return image, dots


def count_dots(dataset: Dataset) -> int:
    return sum(len(read_dots(s.dots_path)) for s in dataset.samples)


def split_indices(n: int, n_train: int, n_val: int, n_test: int | None, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random disjoint train/validation/test index sets; the rest of ``n`` is test when ``n_test`` is None."""
    order = np.random.default_rng(seed).permutation(n)
    train = order[:n_train]
    val = order[n_train:n_train + n_val]
    rest = order[n_train + n_val:]
    test = rest if n_test is None else rest[:n_test]
    if len(train) < n_train or len(val) < n_val or (n_test is not None and len(test) < n_test):
        raise ValueError(f"{n} samples cannot hold {n_train} train + {n_val} validation + {n_test} test")
    return train, val, test
