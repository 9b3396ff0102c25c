"""Two-stage training on tiny synthetic images: progress, cancel, resume, group-restricted projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from countxplain.inference import Cancelled
from countxplain.modelfile import load_model, save_model
from countxplain.training import Trainer, TrainingConfig, location_masks, project_prototypes
from countxplain.training_data import TrainingImage, dihedral, make_views


def blob_image(seed: int, size: int = 64) -> TrainingImage:
    rng = np.random.default_rng(seed)
    dots = rng.uniform(10, size - 10, size=(int(rng.integers(3, 8)), 2))
    yy, xx = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size), dtype=np.float32)
    for x, y in dots:
        image += np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)
    pixels = np.repeat(np.clip(image, 0, 1)[:, :, None], 3, axis=2).astype(np.float32)
    return TrainingImage(f"blob{seed}.png", "synthetic", pixels, dots, 1.0, len(dots))


def tiny_config(**changes) -> TrainingConfig:
    base = dict(k_cell=2, k_bg=2, prototype_dim=8, stage1_epochs=2, stage2_epochs=4, projection_every=2,
                stage1_batch=2, stage2_batch=2, crop_cells=6, n_views=2, train_backend_layers=1, seed=3)
    base.update(changes)
    return TrainingConfig(**base)


@pytest.fixture(scope="module")
def images():
    torch.set_num_threads(1)
    return [blob_image(i) for i in range(4)], [blob_image(10 + i) for i in range(2)]


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
        from countxplain.training_data import padded_batch

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


def test_resume_from_checkpoint_continues_where_it_stopped(images, tmp_path):
    train, val = images
    checkpoint = tmp_path / "run.ckpt"
    seen = []

    def stop_in_stage2(progress):
        seen.append((progress.stage, progress.epoch))
        if progress.stage == "stage2" and progress.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Trainer(tiny_config(), train, val, progress=stop_in_stage2, checkpoint=checkpoint).run()
    assert checkpoint.exists()
    resumed = []
    Trainer(tiny_config(), train, val, progress=resumed.append, checkpoint=checkpoint).run()
    stage2_epochs = [e.epoch for e in resumed if e.stage == "stage2"]
    assert stage2_epochs == [3, 4]
    assert not any(e.stage == "stage1" for e in resumed)


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
