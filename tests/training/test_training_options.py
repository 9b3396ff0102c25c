"""Stage options beyond the paper: crop context, the stage-1 output refit, the standardised head start."""

from __future__ import annotations

import numpy as np
import pytest

from countxplain.training import Trainer
from countxplain.training.data import make_views
from helpers.training import blob_image, tiny_config


def test_views_fitted_to_the_stride_hold_whole_cells_and_every_dot():
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


