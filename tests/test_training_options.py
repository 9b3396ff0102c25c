"""Stage options beyond the paper: crop context, the stage-1 output refit, the standardised head start."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from countxplain.training import Trainer
from countxplain.training.data import make_views
from training_fixtures import images, tiny_config  # noqa: F401


def test_context_crops_give_the_whole_views_output_inside_their_inner_window():
    from countxplain.network import csrnet_backend
    from countxplain.training.data import View, context_crops, receptive_radius

    torch.manual_seed(0)
    tail = torch.nn.Sequential(*list(csrnet_backend())[8:], torch.nn.Conv2d(64, 1, 1)).eval()
    radius = receptive_radius(tail)
    assert radius == 4  # two 3x3 convolutions of dilation 2
    views = [View(0, torch.rand(1, 40, 33), features=torch.rand(256, 40, 33)),
             View(0, torch.rand(1, 7, 9), features=torch.rand(256, 7, 9))]  # smaller than the crop
    with torch.inference_mode():
        whole = [tail(view.features[None])[0] for view in views]
        rng = np.random.default_rng(1)
        for index in [0, 0, 0, 1, 0]:
            window = context_crops(views, [index], 12, radius, rng)[0]
            top, left, height, width = window.inner
            inner = tail(window.features[None])[0, :, top:top + height, left:left + width]
            # where the inner window sits in the view: the target crop is cut at the same place
            target = views[index].target
            hits = [(y, x) for y in range(target.shape[1] - height + 1) for x in range(target.shape[2] - width + 1)
                    if torch.equal(target[:, y:y + height, x:x + width], window.target)]
            (y, x), = hits
            assert torch.allclose(inner, whole[index][:, y:y + height, x:x + width], atol=1e-5)
            if index == 0:
                no_context = tail(views[0].features[None, :, y:y + 12, x:x + 12])[0]
                assert not torch.allclose(no_context, whole[0][:, y:y + 12, x:x + 12], atol=1e-3)


def test_stage1_with_context_trains_and_differs_from_zero_padded_crops(images):
    train, val = images

    def output_weight(**changes):
        trainer = Trainer(tiny_config(stage1_epochs=1, stage2_epochs=1, train_backend_layers=2, **changes), train, val)
        trainer.run()
        return trainer.model.extractor.output_layer.weight.detach().clone()

    start = Trainer(tiny_config(), train, val).model.extractor.output_layer.weight.detach().clone()
    with_context = output_weight(stage1_context_cells=None)
    assert not torch.equal(with_context, start)
    assert not torch.equal(with_context, output_weight(stage1_context_cells=0))


def test_stage1_output_refit_makes_the_training_images_counts_add_up(images):
    from countxplain.training.data import padded_batch

    train, val = images
    config = tiny_config(stage1_epochs=2, stage2_epochs=1, stage1_refit_output=True, sigma_px=2.0)

    def summed_counts(bundle):
        predicted = target = 0.0
        with torch.inference_mode():
            for image in train:
                predicted += float(bundle.network.extractor(padded_batch(image.pixels)).sum())
                target += float(make_views([image], 1, config.sigma_px, 0)[0][0].target.sum())
        return predicted, target

    predicted, target = summed_counts(Trainer(config, train, val).run())
    assert predicted == pytest.approx(target, rel=1e-3)  # the bias's normal equation
    predicted, target = summed_counts(Trainer(replace(config, stage1_refit_output=False), train, val).run())
    assert predicted != pytest.approx(target, rel=1e-2)


def test_standardised_head_start_gives_every_channel_zero_mean_and_unit_spread():
    from countxplain.network import ModelConfig, PrototypeHead
    from countxplain.training.head_start import standardise_feature_processing
    from countxplain.training.data import View

    torch.manual_seed(0)
    head = PrototypeHead(ModelConfig(k_cell=2, k_bg=2, prototype_dim=8), in_channels=16)
    views = [View(0, torch.zeros(1, 9, 11), features=0.03 * torch.rand(16, 9, 11)) for _ in range(3)]
    before = head.feature_processing(torch.stack([v.features for v in views])).detach()
    assert float(before.std()) < 0.5  # small features barely move the sigmoid
    standardise_feature_processing(head, views, torch.device("cpu"))
    after = head.feature_processing(torch.stack([v.features for v in views])).detach().transpose(0, 1).flatten(1)
    assert torch.allclose(after.mean(dim=1), torch.zeros(8), atol=1e-4)
    assert torch.allclose(after.std(dim=1), torch.ones(8), atol=1e-3)


def test_standardised_head_start_is_used_only_for_a_fresh_head(images, monkeypatch):
    import countxplain.training.trainer as training

    train, val = images
    config = tiny_config(stage1_epochs=1, stage2_epochs=2, projection_every=100)
    plain = Trainer(config, train, val).run().network.head.feature_processing.weight.detach()
    fresh = Trainer(replace(config, standardise_head_init=True), train, val).run()
    assert not torch.allclose(fresh.network.head.feature_processing.weight, plain)
    calls = []
    original = training.standardise_feature_processing
    monkeypatch.setattr(training, "standardise_feature_processing", lambda *a, **k: calls.append(1) or original(*a, **k))
    Trainer(replace(config, standardise_head_init=True), train, val).run()
    Trainer(replace(config, standardise_head_init=True), train, val, init=fresh).run()
    assert calls == [1]  # the fresh run only


def test_views_fitted_to_the_stride_hold_whole_cells_and_every_dot():
    from training_fixtures import blob_image

    image = blob_image(7, size=70)  # 70 px: not a whole number of 8 px cells
    views = make_views([image], 4, 4.0, seed=2, scale_jitter=0.25, fit_to_stride=True)
    for view, pixels in views:
        assert pixels.shape[0] % 8 == 0 and pixels.shape[1] % 8 == 0
        assert view.target.shape[-2:] == (pixels.shape[0] // 8, pixels.shape[1] // 8)
        assert float(view.target.sum()) == pytest.approx(image.n_cells, rel=1e-4)
    assert views[0][1].shape[:2] == (72, 72)
    assert make_views([image], 1, 4.0, seed=2)[0][1].shape[:2] == (70, 70)


def test_trainer_fitted_to_the_stride_tells_inference_to_fit_too(images):
    from countxplain.inference import Counter

    train, val = images
    bundle = Trainer(tiny_config(stage1_epochs=1, stage2_epochs=1, fit_to_stride=True), train, val).run()
    assert bundle.preprocessing["fit_to_stride"] is True
    pixels = np.random.default_rng(0).random((50, 61, 3)).astype(np.float32)
    result = Counter(bundle, device="cpu").count(pixels)
    assert result.density.shape == (6, 8) and result.axis_scales == pytest.approx((48 / 50, 64 / 61))
    plain = Trainer(tiny_config(stage1_epochs=1, stage2_epochs=1), train, val).run()
    assert "fit_to_stride" not in plain.preprocessing
    tuned = Trainer(tiny_config(stage1_epochs=0, stage2_epochs=1), train, val, init=bundle)
    assert tuned.config.fit_to_stride and tuned.run().preprocessing["fit_to_stride"] is True
    assert Counter(plain, device="cpu").count(pixels).density.shape == (7, 8)


def test_a_stage2_sigma_gives_the_head_targets_at_that_sigma_on_the_same_views(images):
    train, val = images
    config = tiny_config(stage1_epochs=1, stage2_epochs=1, sigma_px=4.0, stage2_sigma_px=1.5)
    head_views, _ = Trainer(config, train, val).head_views()
    sharp = make_views(train, config.n_views, 1.5, config.seed, config.scale_jitter, config.min_group_views)
    usual = make_views(train, config.n_views, 4.0, config.seed, config.scale_jitter, config.min_group_views)
    assert [view.image_index for view in head_views] == [view.image_index for view, _ in sharp]
    for view, (expected, _) in zip(head_views, sharp, strict=True):
        torch.testing.assert_close(view.target, expected.target)
    assert max(float((a.target - b.target).abs().max()) for (a, _), (b, _) in zip(sharp, usual)) > 1e-3
    bundle = Trainer(config, train, val).run()
    assert bundle.preprocessing["sigma_px"] == 1.5
    assert bundle.provenance["training_config"]["sigma_px"] == 4.0
    assert bundle.provenance["training_config"]["stage2_sigma_px"] == 1.5
    assert Trainer(replace(config, stage2_sigma_px=None), train, val).run().preprocessing["sigma_px"] == 4.0
