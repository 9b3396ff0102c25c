"""Prototype projection by box purity: cell prototypes onto patches whose boxes hold dots."""

from __future__ import annotations

import numpy as np
import torch

from countxplain.network import ModelConfig, PrototypeHead
from countxplain.training import Trainer
from countxplain.training.data import TrainingImage, View
from countxplain.training.projection import project_prototypes
from helpers.training import tiny_config

CELL, BACKGROUND, DECOY = 0, 1, 2
DOT_CELLS = [(r, c) for r in (2, 5, 8, 11) for c in (2, 5)]
DECOY_DOT = (13, 3)  # a dot on the decoy texture
DECOY_CELLS = [(3, 7), (6, 7), (9, 7), (12, 7), (13, 5), (7, 3)]  # decoy texture, no dot


def decoy_scene() -> tuple[PrototypeHead, View, TrainingImage]:
    """A 16×16-cell view: cells (one feature) under 8 dots, a decoy texture on 6 empty cells and
    under one more dot, background on the right half, far from every dot."""
    head = PrototypeHead(ModelConfig(2, 2, 4), in_channels=4)
    with torch.no_grad():
        head.feature_processing.weight.copy_(torch.eye(4).view(4, 4, 1, 1))
        head.feature_processing.bias.zero_()
    features = torch.zeros(4, 16, 16)
    features[BACKGROUND, :, 9:] = 3.0
    for r, c in DOT_CELLS:
        features[CELL, r, c] = 3.0
    for r, c in DECOY_CELLS + [DECOY_DOT]:
        features[DECOY, r, c] = 3.0
    dots = np.array([[8 * c + 3.5, 8 * r + 3.5] for r, c in DOT_CELLS + [DECOY_DOT]])
    image = TrainingImage("decoy.png", "synthetic", np.zeros((128, 128, 3), np.float32), dots, 1.0, len(dots))
    return head, View(0, torch.zeros(1, 16, 16), features), image


def processed_at(head: PrototypeHead, view: View, row: int, col: int) -> torch.Tensor:
    return head.processed_features(view.features[None, :, row:row + 1, col:col + 1])[0, :, 0, 0].detach()


def start_on_the_decoy(head: PrototypeHead, view: View) -> None:
    with torch.no_grad():
        head.prototypes[:2] = processed_at(head, view, *DECOY_CELLS[0])
        head.prototypes[2:] = processed_at(head, view, 1, 12)


def test_projection_takes_each_prototypes_nearest_patch_of_its_own_group():
    head, view, image = decoy_scene()
    start_on_the_decoy(head, view)
    sources = project_prototypes(head, [view], [image], tiny_config(), "cpu")
    assert (sources[0]["row"], sources[0]["col"]) == DECOY_DOT  # the paper's choice: nearest, pure or not
    for k, source in enumerate(sources):  # every prototype is exactly its training patch
        assert torch.equal(head.prototypes[k].detach(), processed_at(head, view, source["row"], source["col"]))
    for source in sources[2:]:
        assert source["col"] >= 9  # background prototypes: far from every dot


def test_zero_stage2_epochs_only_projects_a_starting_models_head(images):  # noqa: F811
    train, val = images
    start = Trainer(tiny_config(stage1_epochs=0), train, val).run()
    events = []
    again = Trainer(tiny_config(stage1_epochs=0, stage2_epochs=0), train, val,
                    init=start, progress=events.append).run()
    before, after = start.network.head.state_dict(), again.network.head.state_dict()
    for name in ("feature_processing.weight", "feature_processing.bias"):  # not trained
        assert torch.equal(before[name], after[name])
    stage2 = [h for h in again.provenance["history"] if h["stage"] == "stage2"]
    assert [h["epoch"] for h in stage2] == [0] and stage2[0]["val_mae"] == again.provenance["metrics"]["val_mae"]
    assert len(again.provenance["prototype_sources"]) == 4
    assert any(e.stage == "stage2" and e.val_mae is not None for e in events)
