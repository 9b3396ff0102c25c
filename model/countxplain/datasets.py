"""Pairing images with their dot annotations, by explicit rules per folder layout.

Layouts recognised (checked in this order):

* ``vgg``:  ``NNNcell.png`` with ``NNNdots.png`` in the same folder.
* ``mbm``:  ``X_NNN.png`` with ``X_dots_NNN.png`` in the same folder.
* ``images/`` + ``annotations/``: same file name in both (the ADI layout).
* ``images/`` + ``dots/``: ``images/<id>.<ext>`` with ``dots/<id>.csv`` (the DSB2018 layout).
* any other folder: ``<stem>.<ext>`` with a sidecar ``<stem>.dots.csv`` (what the app writes);
  where that name could belong to two images (``twin.png`` and ``twin.tif``), each image's
  sidecar is named after its whole file name instead: ``twin.png.dots.csv``, ``twin.tif.dots.csv``.

Every file that cannot be paired is listed in ``Dataset.unpaired`` with the reason.
"""

from __future__ import annotations

import os
import re
from collections import Counter
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


# how an image without its dots begins its entry in ``Dataset.unpaired``
NO_ANNOTATION = "no annotation"


@dataclass
class Dataset:
    root: Path
    layout: str
    samples: list[Sample]
    unpaired: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)


class FolderImages:
    """The image files of one folder, by name, to tell which stems more than one image could claim."""

    def __init__(self, names) -> None:
        self.names = set(names)
        self._folded_names = {name.casefold() for name in self.names}
        self._stems = Counter(Path(name).stem.casefold() for name in self.names)

    @classmethod
    def of(cls, folder: str | Path) -> "FolderImages":
        """The folder's image files (none if it cannot be listed)."""
        try:
            with os.scandir(folder) as entries:
                return cls(e.name for e in entries if Path(e.name).suffix.lower() in IMAGE_SUFFIXES and e.is_file())
        except OSError:
            return cls(())

    def stem_is_shared(self, image_name: str) -> bool:
        """Whether another image has this image's stem, or is named it (``twin.png`` for ``twin.png.tif``).
        Case is ignored: 'Twin.dots.csv' is 'twin.dots.csv' on Windows and macOS."""
        stem = Path(image_name).stem.casefold()
        return self._stems[stem] - (image_name in self.names) > 0 or stem in self._folded_names

    def sharing(self, stem: str) -> list[str]:
        return sorted(name for name in self.names if Path(name).stem.casefold() == stem.casefold())


def sidecar_path(image_path: str | Path, folder: FolderImages | None = None) -> Path:
    """Where the app keeps an image's dots, beside the image: ``<stem>.dots.csv``, unless another image
    in the folder could claim that name too (``twin.png`` and ``twin.tif``); then
    ``<file name>.dots.csv`` (``twin.png.dots.csv``, ``twin.tif.dots.csv``). So no two images of a
    folder ever share a sidecar. ``folder`` saves listing the folder again for every image.
    """
    image_path = Path(image_path)
    if folder is None:
        folder = FolderImages.of(image_path.parent)
    shared = folder.stem_is_shared(image_path.name)
    return image_path.with_name((image_path.name if shared else image_path.stem) + SIDECAR_SUFFIX)


def sidecar_paths(image_paths) -> list[Path]:
    """``sidecar_path`` of each image, listing each folder once (not once per image)."""
    folders: dict[Path, FolderImages] = {}
    sidecars = []
    for image_path in map(Path, image_paths):
        if image_path.parent not in folders:
            folders[image_path.parent] = FolderImages.of(image_path.parent)
        sidecars.append(sidecar_path(image_path, folders[image_path.parent]))
    return sidecars


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
            unpaired.append((path, f"{NO_ANNOTATION} {dots_name}"))
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
            unpaired.append((path, f"{NO_ANNOTATION} {dots.relative_to(root)}"))
    for path in sorted(dots_dir.iterdir()):
        if path.is_file() and path not in used and not path.name.startswith("."):
            unpaired.append((path, "annotation without an image"))
    return Dataset(root, layout, samples, unpaired)


def _pair_sidecars(root, files) -> Dataset:
    samples, unpaired, used = [], [], set()
    images = FolderImages.of(root)
    for path in files:
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            unpaired.append((path, "not an image file type"))
            continue
        dots = sidecar_path(path, images)
        if dots.exists():
            samples.append(Sample(path, dots))
            used.add(dots)
        else:
            unpaired.append((path, f"{NO_ANNOTATION} {dots.name}"))
    for path in files:  # a sidecar is an orphan only if no image used it (any suffix case: 'A.PNG')
        if path.name.endswith(SIDECAR_SUFFIX) and path not in used:
            unpaired.append((path, _orphan_reason(path, images)))
    return Dataset(root, "sidecar", samples, unpaired)


def _orphan_reason(sidecar: Path, images: FolderImages) -> str:
    sharing = images.sharing(sidecar.name[:-len(SIDECAR_SUFFIX)])
    if len(sharing) > 1:
        return (f"could be the dots of {' or '.join(sharing)}, which each have their own sidecar now: rename it "
                f"to {' or '.join(name + SIDECAR_SUFFIX for name in sharing)}, after the image it belongs to")
    return "annotation without an image"


def load_sample(sample: Sample):
    """Read a sample's pixels and dots; dots are checked against the image size."""
    image = read_image(sample.image_path)
    dots = read_dots(sample.dots_path, image_shape=(image.height, image.width))
    return image, dots


def count_dots(dataset: Dataset) -> int:
    return sum(len(read_dots(s.dots_path)) for s in dataset.samples)


def split_indices(n: int, n_train: int, n_val: int, n_test: int | None,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random disjoint train/validation/test index sets; the rest of ``n`` is test when ``n_test`` is None."""
    order = np.random.default_rng(seed).permutation(n)
    train = order[:n_train]
    val = order[n_train:n_train + n_val]
    rest = order[n_train + n_val:]
    test = rest if n_test is None else rest[:n_test]
    if len(train) < n_train or len(val) < n_val or (n_test is not None and len(test) < n_test):
        raise ValueError(f"{n} samples cannot hold {n_train} train + {n_val} validation + {n_test} test")
    return train, val, test


MIN_TRAINING_IMAGES = 2
VALIDATION_SHARE = 0.2


def validation_count(n_images: int, share: float = VALIDATION_SHARE) -> int:
    """How many of ``n_images`` annotated images training sets aside for validation: ``share`` of
    them, at least one, leaving at least one to train on (0 when there are too few to train)."""
    if n_images < MIN_TRAINING_IMAGES:
        return 0
    return int(min(n_images - 1, max(1, round(share * n_images))))


def validation_split(n_images: int, share: float = VALIDATION_SHARE, seed: int = 0) -> tuple[list[int], list[int]]:
    """The one rule that sets validation images aside for training: ``validation_count`` of them,
    drawn by ``seed``. Returns sorted (training, validation) indices."""
    if n_images < MIN_TRAINING_IMAGES:
        raise ValueError(f"training needs at least {MIN_TRAINING_IMAGES} annotated images (one is set aside "
                         f"for validation); {n_images} chosen")
    n_val = validation_count(n_images, share)
    order = np.random.default_rng(seed).permutation(n_images)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())
