"""The benchmark splits of ``shared/data/PROTOCOLS.md``, with validation taken from training.

Each protocol yields, per seed, disjoint train / validation / test sample lists. Nothing
is ever chosen on test images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import Dataset, Sample, load_dataset, split_indices


@dataclass(frozen=True)
class Protocol:
    name: str
    dataset: str
    n_train: int
    n_val: int
    n_test: int | None
    published: str

    def split(self, dataset: Dataset, seed: int) -> tuple[list[Sample], list[Sample], list[Sample]]:
        if self.dataset == "dsb2018":
            return dsb2018_split(dataset)
        train, val, test = split_indices(len(dataset), self.n_train, self.n_val, self.n_test, seed)

        def pick(idx):
            return [dataset.samples[i] for i in idx]

        return pick(train), pick(val), pick(test)


PROTOCOLS = {
    "vgg32": Protocol("vgg32", "vgg", 32, 32, 100,
                      "Count-ception 2.4 ± 0.4; FCRN-A 2.9 ± 0.2; Lempitsky & Zisserman 3.5 ± 0.2"),
    "vgg64": Protocol("vgg64", "vgg", 52, 12, 136, "(SAU-Net split sizes)"),
    "mbm": Protocol("mbm", "mbm", 12, 3, 29, "CSRNet 6.19 ± 0.53; CountXplain 6.94 ± 1.74; Proto4DME 5.96 ± 0.68"),
    "adi": Protocol("adi", "adi", 40, 10, 150, "CSRNet 12.37 ± 0.64; CountXplain 7.71 ± 2.34; Proto4DME 10.8 ± 2.77"),
    "dsb2018": Protocol("dsb2018", "dsb2018", 0, 0, None, "none published"),
}

DEFAULT_MODEL_PROTOCOLS = ("vgg64", "mbm", "adi", "dsb2018")


def dsb2018_split(dataset: Dataset, val_share: float = 0.1) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Fixed 80/20 split by image id order after shuffling with seed 0; validation = 10% of the 80%."""
    ordered = sorted(dataset.samples, key=lambda s: s.image_path.stem)
    order = np.random.default_rng(0).permutation(len(ordered))
    shuffled = [ordered[i] for i in order]
    n_train_pool = int(round(0.8 * len(shuffled)))
    pool, test = shuffled[:n_train_pool], shuffled[n_train_pool:]
    n_val = max(1, int(round(val_share * len(pool))))
    return pool[n_val:], pool[:n_val], test


def load_protocol_data(data_root: str | Path, protocol: str) -> tuple[Protocol, Dataset]:
    spec = PROTOCOLS[protocol]
    return spec, load_dataset(Path(data_root) / spec.dataset)


def few_shot_split(dataset: Dataset, protocol: str, n_shots: int,
                   seed: int) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """A few-shot split of one protocol's data set: ``n_shots`` annotated images a user would give,
    drawn (by ``seed``) from the protocol's training and validation share of split ``seed``, and
    the protocol's test images of that split. Returns (shots, rest of the training share, test);
    the shots of a smaller ``n_shots`` are always among those of a larger one."""
    train, val, test = PROTOCOLS[protocol].split(dataset, seed)
    pool = train + val
    if n_shots > len(pool):
        raise ValueError(f"{protocol} has {len(pool)} training images, fewer than {n_shots} shots")
    order = np.random.default_rng(1000 + seed).permutation(len(pool))
    shots = [pool[i] for i in order[:n_shots]]
    rest = [pool[i] for i in order[n_shots:]]
    return shots, rest, test
