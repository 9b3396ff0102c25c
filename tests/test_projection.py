"""Prototype projection by box purity: cell prototypes onto patches whose boxes hold dots."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from countxplain.network import ModelConfig, PrototypeHead
from countxplain.training.projection import box_purity, project_prototypes
from countxplain.training import Trainer
from countxplain.training.data import TrainingImage, View
from training_fixtures import images, tiny_config  # noqa: F401  (images is a fixture)

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


def test_box_purity_tells_a_cell_patch_from_a_decoy():
    head, view, image = decoy_scene()
    candidates = torch.stack([processed_at(head, view, *DOT_CELLS[0]), processed_at(head, view, *DECOY_DOT)])
    pure, total = box_purity(head, candidates, True, [(view, image)], torch.device("cpu"))
    assert total.min() > 0
    assert pure[0] == total[0]  # every box of the cell patch holds a dot
    assert pure[1] / total[1] < 0.5  # the decoy's boxes mostly fall on empty decoy cells


def test_purest_projection_avoids_the_decoy_that_nearest_takes():
    head, view, image = decoy_scene()
    start_on_the_decoy(head, view)
    nearest = project_prototypes(head, [view], [image], tiny_config(), "cpu")
    assert (nearest[0]["row"], nearest[0]["col"]) == DECOY_DOT

    start_on_the_decoy(head, view)
    purest = project_prototypes(head, [view], [image], tiny_config(projection_choice="purest"), "cpu")
    for source in purest[:2]:
        assert (source["row"], source["col"]) in DOT_CELLS and source["box_purity"] == 1.0
    for source in purest[2:]:
        assert source["col"] >= 9 and source["box_purity"] == 1.0  # background: far from every dot
    for k, source in enumerate(purest):  # every prototype is exactly its training patch
        assert torch.equal(head.prototypes[k].detach(), processed_at(head, view, source["row"], source["col"]))


def test_unknown_projection_choice_is_refused_when_the_configuration_is_made():
    with pytest.raises(ValueError, match="projection_choice 'random' is not one of nearest, purest, nearest_pure"):
        tiny_config(projection_choice="random")


def test_training_with_purest_projection_records_each_prototypes_purity(images):  # noqa: F811
    train, val = images
    bundle = Trainer(tiny_config(stage1_epochs=0, projection_choice="purest"), train, val).run()
    sources = bundle.provenance["prototype_sources"]
    assert len(sources) == 4 and all(0.0 <= s["box_purity"] <= 1.0 for s in sources)
    assert bundle.provenance["training_config"]["projection_choice"] == "purest"


def test_nearest_pure_projection_moves_only_the_impure_prototype():
    head, view, image = decoy_scene()
    start_on_the_decoy(head, view)
    cell = processed_at(head, view, *DOT_CELLS[0])
    with torch.no_grad():
        head.prototypes[1] = cell + 0.01  # trained next to a real cell patch: already pure
    sources = project_prototypes(head, [view], [image], tiny_config(projection_choice="nearest_pure"), "cpu")
    assert (sources[0]["row"], sources[0]["col"]) in DOT_CELLS and sources[0]["box_purity"] == 1.0
    assert torch.equal(head.prototypes[1].detach(), cell)  # the nearest patch, as the paper's projection takes
    assert sources[1]["distance"] == pytest.approx(4 * 0.01 ** 2, rel=1e-3)
    for k, source in enumerate(sources):
        assert torch.equal(head.prototypes[k].detach(), processed_at(head, view, source["row"], source["col"]))


def test_zero_stage2_epochs_only_projects_a_starting_models_head(images):  # noqa: F811
    train, val = images
    start = Trainer(tiny_config(stage1_epochs=0), train, val).run()
    events = []
    again = Trainer(tiny_config(stage1_epochs=0, stage2_epochs=0, projection_choice="nearest_pure"), train, val,
                    init=start, progress=events.append).run()
    before, after = start.network.head.state_dict(), again.network.head.state_dict()
    for name in ("feature_processing.weight", "feature_processing.bias"):  # not trained
        assert torch.equal(before[name], after[name])
    stage2 = [h for h in again.provenance["history"] if h["stage"] == "stage2"]
    assert [h["epoch"] for h in stage2] == [0] and stage2[0]["val_mae"] == again.provenance["metrics"]["val_mae"]
    assert all("box_purity" in s for s in again.provenance["prototype_sources"])
    assert any(e.stage == "stage2" and e.val_mae is not None for e in events)
