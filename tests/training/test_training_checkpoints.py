"""Training checkpoints: a run resumes where it stopped, and only its own run (same images, dots,
starting weights and settings); any other checkpoint starts the run afresh and says so."""

from __future__ import annotations

import pytest
import torch

from countxplain.training import Trainer
from countxplain.training.data import TrainingImage
from helpers.training import blob_image, tiny_config


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


def test_a_run_stopped_inside_stage1_resumes_at_its_next_epoch(images, tmp_path):
    train, val = images
    checkpoint = tmp_path / "run.ckpt"
    config = tiny_config(stage1_epochs=3, stage2_epochs=1, projection_every=1)

    def stop_after_stage1_epoch_1(progress):
        if progress.stage == "stage1" and progress.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Trainer(config, train, val, progress=stop_after_stage1_epoch_1, checkpoint=checkpoint).run()
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["stage"] == "stage1" and saved["epoch"] == 1 and "trainable" in saved
    resumed = []
    Trainer(config, train, val, progress=resumed.append, checkpoint=checkpoint).run()
    assert [e.epoch for e in resumed if e.stage == "stage1"] == [2, 3]


def _stages(events, stage):
    return [e.epoch for e in events if e.stage == stage]


def _notes(events):
    return [e.message for e in events if e.stage == "checkpoint"]


def _finished_run(images, checkpoint, **kwargs):
    train, val = images
    Trainer(tiny_config(stage1_epochs=1, stage2_epochs=2), train, val, checkpoint=checkpoint, **kwargs).run()
    assert checkpoint.exists()


def test_a_checkpoint_of_other_images_is_not_resumed(images, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    _finished_run(images, checkpoint)
    other_train, other_val = [blob_image(20 + i) for i in range(4)], [blob_image(30)]
    events = []
    Trainer(tiny_config(stage1_epochs=1, stage2_epochs=2), other_train, other_val, progress=events.append,
            checkpoint=checkpoint).run()
    assert _stages(events, "stage1") == [1] and _stages(events, "stage2") == [1, 2]  # trained, not resumed
    assert len(_notes(events)) == 1 and "other images" in _notes(events)[0] and "afresh" in _notes(events)[0]
    resumed = []  # the checkpoint is now the new run's, and resumes it
    Trainer(tiny_config(stage1_epochs=1, stage2_epochs=2), other_train, other_val, progress=resumed.append,
            checkpoint=checkpoint).run()
    assert _stages(resumed, "stage1") == [] and _stages(resumed, "stage2") == [] and _notes(resumed) == []


def test_a_checkpoint_of_other_dots_is_not_resumed(images, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    _finished_run(images, checkpoint)
    train, val = images
    moved = [TrainingImage(t.name, t.group, t.pixels, t.dots + 1.0, t.scale, t.n_cells) for t in train]
    events = []
    Trainer(tiny_config(stage1_epochs=1, stage2_epochs=2), moved, val, progress=events.append,
            checkpoint=checkpoint).run()
    assert _stages(events, "stage1") == [1] and len(_notes(events)) == 1


def test_a_checkpoint_of_another_starting_model_is_not_resumed(images, tmp_path):
    from countxplain.network import CountXplain

    checkpoint = tmp_path / "run.ckpt"
    _finished_run(images, checkpoint)
    torch.manual_seed(99)
    other_start = CountXplain(tiny_config().model_config()).extractor.state_dict()
    events = []
    train, val = images
    Trainer(tiny_config(stage1_epochs=1, stage2_epochs=2), train, val, csrnet_state=other_start,
            progress=events.append, checkpoint=checkpoint).run()
    assert _stages(events, "stage1") == [1] and "starting model" in _notes(events)[0]


@pytest.mark.parametrize("damage", ["without fingerprint", "not a checkpoint"])
def test_an_old_or_damaged_checkpoint_starts_afresh_with_a_note(images, tmp_path, damage):
    checkpoint = tmp_path / "run.ckpt"
    if damage == "not a checkpoint":
        checkpoint.write_bytes(b"not a torch file")
    else:
        _finished_run(images, checkpoint)
        payload = torch.load(checkpoint, weights_only=True)
        del payload["fingerprint"]  # as checkpoints were written before fingerprints
        torch.save(payload, checkpoint)
    events = []
    train, val = images
    Trainer(tiny_config(stage1_epochs=1, stage2_epochs=2), train, val, progress=events.append,
            checkpoint=checkpoint).run()
    assert _stages(events, "stage1") == [1] and len(_notes(events)) == 1
    assert "\n" not in _notes(events)[0]


def test_the_fingerprint_follows_images_dots_and_starting_weights(images):
    from countxplain.network import CountXplain
    from countxplain.training.fingerprint import training_fingerprint

    train, val = images
    torch.manual_seed(0)
    start = CountXplain(tiny_config().model_config())
    same = training_fingerprint(train, val, start)
    assert training_fingerprint(list(train), list(val), start) == same
    assert training_fingerprint(val, train, start) != same
    moved = [TrainingImage(t.name, t.group, t.pixels, t.dots + 0.5, t.scale, t.n_cells) for t in train]
    assert training_fingerprint(moved, val, start) != same
    renamed = [TrainingImage("x" + t.name, t.group, t.pixels, t.dots, t.scale, t.n_cells) for t in train]
    assert training_fingerprint(renamed, val, start) != same
    with torch.no_grad():
        start.head.prototypes.add_(1e-3)
    assert training_fingerprint(train, val, start) != same
