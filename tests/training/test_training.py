"""Two-stage training on tiny synthetic images: progress, cancel, views, losses, group-restricted projection
(checkpoints: ``test_training_checkpoints.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from countxplain.errors import Cancelled
from countxplain.modelfile import load_model, save_model
from countxplain.training import Trainer, TrainingConfig
from countxplain.training.data import TrainingImage, dihedral, make_views
from countxplain.training.projection import location_masks, project_prototypes
from helpers.training import blob_image, tiny_config


def test_training_reports_progress_and_returns_a_projected_model(images, tmp_path):
    train, val = images
    events = []
    trainer = Trainer(tiny_config(), train, val, progress=events.append)
    bundle = trainer.run()
    stages = [e.stage for e in events]
    assert "stage1" in stages and "stage2" in stages and stages[-1] == "done"
    assert any(e.val_mae is not None for e in events if e.stage == "stage2")
    sources = bundle.provenance["prototype_sources"]
    assert len(sources) == 4 and all(s["image"] is not None for s in sources)
    # every prototype is exactly a processed feature at its recorded training location
    head, extractor = bundle.network.head, bundle.network.extractor
    for source in sources:
        image = next(t for t in train if t.name == source["image"])
        from countxplain.network import padded_batch

        with torch.inference_mode():
            feature = head.processed_features(extractor.features(padded_batch(image.pixels)))
        vector = feature[0, :, source["row"], source["col"]]
        assert torch.allclose(vector, head.prototypes[source["prototype"]], atol=1e-5)
    # cell prototypes sit on locations with a dot, background ones far from every dot
    for source in sources:
        image = next(t for t in train if t.name == source["image"])
        view = make_views([image], 1, 4.0, 0)[0][0]
        has_dot, far = location_masks(image, view, 20.0)
        mask = has_dot if source["prototype"] < 2 else far
        assert mask[source["row"], source["col"]]
    path = save_model(bundle, tmp_path / "trained.cxm")
    assert load_model(path).provenance["metrics"]["val_mae"] == pytest.approx(trainer.stage2_val_mae)


def test_cancel_is_honoured_within_a_batch(images):
    train, val = images
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 30

    with pytest.raises(Cancelled):
        Trainer(tiny_config(), train, val, cancel=cancel).run()


def test_runs_are_repeatable_with_a_seed(images):
    train, val = images
    first = Trainer(tiny_config(stage1_epochs=1, stage2_epochs=2), train, val).run()
    second = Trainer(tiny_config(stage1_epochs=1, stage2_epochs=2), train, val).run()
    assert torch.allclose(first.network.head.prototypes, second.network.head.prototypes)


def test_dihedral_views_keep_dots_on_their_pixels():
    pixels = np.zeros((20, 30, 3), dtype=np.float32)
    pixels[4, 25] = 1.0
    dots = np.array([[25.0, 4.0]])
    for rotations in range(4):
        for flip in (False, True):
            out, moved = dihedral(pixels, dots, rotations, flip)
            x, y = moved[0]
            assert out[int(round(y)), int(round(x)), 0] == 1.0


def test_scale_jitter_views_keep_the_count_and_stay_in_range():
    image = blob_image(5, size=96)
    views = make_views([image], 4, 4.0, seed=1, scale_jitter=0.25)
    assert len(views) == 4
    identity_view, identity_pixels = views[0]
    assert np.array_equal(identity_pixels, image.pixels)
    sides = []
    for view, pixels in views:
        assert float(view.target.sum()) == pytest.approx(image.n_cells, rel=1e-4)
        assert view.target.shape[-2:] == (-(-pixels.shape[0] // 8), -(-pixels.shape[1] // 8))
        sides.append(pixels.shape[0])
    assert all(0.75 * 96 - 1 <= side <= 1.25 * 96 + 1 for side in sides)
    assert len(set(sides[1:])) > 1  # the other views are rescaled, each by its own factor


def test_small_groups_get_more_views_and_balanced_shares():
    from countxplain.training.data import sampling_weights

    big = [blob_image(i) for i in range(6)]
    small = [blob_image(20)]
    small[0].group = "small"
    views = make_views(big + small, 2, 4.0, seed=0, min_group_views=8)
    per_image = np.bincount([view.image_index for view, _ in views])
    assert list(per_image[:6]) == [2] * 6 and per_image[6] == 8
    groups = [(big + small)[view.image_index].group for view, _ in views]
    equal = sampling_weights(groups, power=0.0)
    assert equal[np.array(groups) == "small"].sum() == pytest.approx(0.5)
    by_size = sampling_weights(groups, power=1.0)
    assert np.allclose(by_size, 1 / len(groups))
    # validation items weighted by the training shares of their sets
    val = sampling_weights(["synthetic", "small", "small"], {"synthetic": 9, "small": 1}, power=1.0)
    assert val.tolist() == pytest.approx([0.9, 0.05, 0.05])


def test_projection_keeps_prototypes_of_a_group_apart():
    from countxplain.network import ModelConfig, PrototypeHead
    from countxplain.training.data import View

    head = PrototypeHead(ModelConfig(2, 2, 4), in_channels=4)
    with torch.no_grad():
        head.feature_processing.weight.copy_(torch.eye(4).view(4, 4, 1, 1))
        head.feature_processing.bias.zero_()
    cells = [(2, 2), (2, 5), (5, 2), (5, 5)]
    features = torch.zeros(4, 8, 8)
    features[:, 2, 2] = torch.tensor([2.0, 0, 0, 0])
    features[:, 2, 5] = torch.tensor([2.0, 0.01, 0, 0])  # nearly the same feature as (2, 2)
    features[:, 5, 2] = torch.tensor([0, 2.0, 0, 0])
    features[:, 5, 5] = torch.tensor([0, 0, 2.0, 0])
    dots = np.array([[8 * c + 3.5, 8 * r + 3.5] for r, c in cells])
    image = TrainingImage("grid.png", "synthetic", np.zeros((64, 64, 3), np.float32), dots, 1.0, 4)
    view = View(0, torch.zeros(1, 8, 8), features)
    target = torch.sigmoid(torch.tensor([2.0, 0, 0, 0]))

    def project(separation):
        with torch.no_grad():
            head.prototypes[:2] = target
        sources = project_prototypes(head, [view], [image], tiny_config(projection_separation=separation), "cpu")
        return [(s["row"], s["col"]) for s in sources[:2]]

    assert project(0.0) == [(2, 2), (2, 5)]  # the nearest free locations: two near-copies
    assert project(0.3) == [(2, 2), (5, 2)]  # the second skips the near-copy
    assert float(torch.dist(head.prototypes[0], head.prototypes[1]).detach()) >= 0.3


def test_stage1_cosine_schedule_starts_at_the_rate_and_decays_towards_zero():
    from countxplain.training.config import stage1_learning_rate

    cosine = TrainingConfig(stage1_lr=1e-3, stage1_epochs=10, stage1_schedule="cosine")
    rates = [stage1_learning_rate(cosine, epoch) for epoch in range(10)]
    assert rates[0] == pytest.approx(1e-3)
    assert all(a > b for a, b in zip(rates, rates[1:])) and 0 < rates[-1] < 0.03e-3
    constant = TrainingConfig(stage1_lr=1e-3, stage1_epochs=10)
    assert {stage1_learning_rate(constant, epoch) for epoch in range(10)} == {1e-3}
    with pytest.raises(ValueError):
        stage1_learning_rate(TrainingConfig(stage1_schedule="steps"), 0)


def changed_weights(trainer: Trainer) -> set[str]:
    start = {k: v.clone() for k, v in trainer.model.extractor.state_dict().items()}
    trainer.run()
    end = trainer.model.extractor.state_dict()
    return {k for k in start if not torch.equal(start[k], end[k])}


def test_a_starting_models_size_estimator_is_kept_since_training_leaves_the_frontend_it_reads(images):
    train, val = images
    start = Trainer(tiny_config(stage1_epochs=1, stage2_epochs=1), train, val).run()
    start.preprocessing["size_model"] = {"kind": "ridge-on-frontend-pooling"}
    trainer = Trainer(tiny_config(train_backend_layers=6, stage1_epochs=1, stage2_epochs=1), train, val, init=start)
    moved = changed_weights(trainer)
    assert moved and not any(name.startswith("frontend.") for name in moved)
    assert trainer._bundle(0.0).preprocessing["size_model"] == {"kind": "ridge-on-frontend-pooling"}


def test_bf16_stage1_trains_the_same_weights_and_keeps_them_fp32(images):
    from countxplain.inference import native_bf16
    from countxplain.training.config import stage1_autocast

    train, val = images
    config = tiny_config(stage1_precision="bf16", stage1_epochs=1, stage2_epochs=1)
    trainer = Trainer(config, train, val)
    moved = changed_weights(trainer)
    assert moved and all(trainer.model.extractor.state_dict()[k].dtype == torch.float32 for k in moved)
    with stage1_autocast(config, torch.device("cpu")):
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert product.dtype == (torch.bfloat16 if native_bf16(torch.device("cpu")) else torch.float32)
    with pytest.raises(ValueError):
        stage1_autocast(tiny_config(stage1_precision="fp8"), torch.device("cpu"))


def test_count_loss_sees_only_each_maps_total():
    from countxplain.training.losses import count_loss

    target = torch.zeros(2, 1, 4, 4)
    target[0, 0, 1, 1], target[1, 0, 2, 2] = 3.0, 1.0
    moved = torch.roll(target, shifts=1, dims=-1)  # same totals elsewhere
    assert float(count_loss(moved, target)) == 0.0
    assert float(count_loss(target * 2, target)) == pytest.approx((9.0 + 1.0) / 2)


def test_a_head_trained_on_shared_views_is_the_head_that_run_trains(images):
    """``head_views`` + ``train_head`` is stage 2 of ``run`` without stage 1, so one cache can serve several heads."""
    train, val = images
    config = tiny_config(stage1_epochs=0, stage2_epochs=2)
    whole = Trainer(config, train, val).run()
    trainer = Trainer(config, train, val)
    views = trainer.head_views()
    shared = trainer.train_head(*views)
    for name, value in whole.network.head.state_dict().items():
        assert torch.equal(value, shared.network.head.state_dict()[name]), name
    assert [row["stage"] for row in shared.provenance["history"]] == ["stage2", "stage2"]
