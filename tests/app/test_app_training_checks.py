"""Training in the app, before and during a run: every annotated image is checked before any work
(each excluded one unticked, greyed, with its reason), Train waits with a clear message when too few
remain, an early stop and an earlier best state are said in words, the time left comes from the
measured steps of either trainer, and the Settings box shows the fields of the trainer that runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from countxplain.annotations import write_dots_csv
from countxplain.datasets import sidecar_path
from countxplain.training import PRESETS, Progress, preset_config
from cxdesktop.training_control import DONE
from cxdesktop.training_eta import EtaEstimator, run_plan
from helpers.app import WAIT_MS, blob_png, drop_paths, wait_counted

LEFT = Qt.MouseButton.LeftButton


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def tiny_config(**changes):
    from countxplain.training import TrainingConfig

    base = dict(k_cell=2, k_bg=2, prototype_dim=16, stage1_epochs=1, stage2_epochs=2, projection_every=1,
                stage1_batch=2, stage2_batch=2, crop_cells=6, n_views=1, train_backend_layers=1, seed=3)
    return TrainingConfig(**{**base, **changes})


def _annotated(folder, name: str, seed: int, dots=None):
    path = blob_png(folder / name, 96, 96, [(30, 30), (60, 40), (70, 70)], seed=seed)
    write_dots_csv(sidecar_path(path), np.array(dots if dots is not None else [(30, 30), (40, 60), (70, 70)], float))
    return path


@pytest.fixture
def mixed(tmp_path):
    """Two good annotated images and four that training cannot use, each for another reason."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = [_annotated(folder, f"good{i}.png", i) for i in range(2)]
    no_dots = _annotated(folder, "no_dots.png", 5, dots=np.zeros((0, 2)))
    outside = _annotated(folder, "outside.png", 6, dots=[(30, 30), (500, 20)])
    bad_csv = blob_png(folder / "bad_csv.png", 96, 96, [(30, 30)], seed=7)
    sidecar_path(bad_csv).write_text("this,is\nnot,dots\n")
    broken = folder / "broken.png"
    broken.write_text("this is text, not a PNG\n")
    write_dots_csv(sidecar_path(broken), np.array([(5.0, 5.0)]))
    return {"good": good, "no_dots": no_dots, "outside": outside, "bad_csv": bad_csv, "broken": broken}


def open_training(qtbot, window, paths):
    drop_paths(window, paths)
    wait_counted(qtbot, window, paths)
    window.menu_actions["train_model"].trigger()
    panel = window.training_dialog.panel
    qtbot.waitUntil(lambda: not panel.setup.image_list.pending, timeout=WAIT_MS)
    return panel


def visible_error_boxes(widget) -> list[QMessageBox]:
    return [box for box in widget.findChildren(QMessageBox) if box.isVisible()]


def test_each_excluded_image_is_shown_with_its_reason_and_train_waits_when_too_few_remain(qtbot, window, mixed):
    panel = open_training(qtbot, window, mixed["good"] + [mixed[k] for k in mixed if k != "good"])
    setup = panel.setup
    assert sorted(setup.checked_paths()) == sorted(str(p) for p in mixed["good"])
    reasons = {"no_dots": "no dots", "outside": "outside the 96×96 image", "bad_csv": "dot file cannot be read",
               "broken": "image cannot be read"}
    for key, words in reasons.items():
        item = setup.image_list.item_for(str(mixed[key]))
        assert "excluded" in item.text() and words in item.text(), item.text()
        assert words in item.toolTip()
        assert item.checkState() == Qt.CheckState.Unchecked
        assert not item.flags() & Qt.ItemFlag.ItemIsUserCheckable  # it cannot be ticked
        assert item.foreground().color().name() == "#8a8a8a"
    qtbot.mouseClick(setup.image_list.all_button, LEFT)
    assert sorted(setup.checked_paths()) == sorted(str(p) for p in mixed["good"])
    assert panel.train_button.isEnabled()
    assert "1 image(s) to train on, 1 set aside for validation" in setup.split.text()

    setup.images.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not panel.train_button.isEnabled()
    assert "at least 2 annotated images" in setup.split.text()
    assert "4 annotated images are excluded" in setup.split.text()
    assert setup.split.isVisible()
    gui = window.runner.gui_thread_ident
    checks = [ident for _, kind, _, ident in window.runner.thread_log if kind == "check-training-images"]
    assert checks and all(ident != gui for ident in checks)


def test_train_checks_the_images_again_before_any_work(qtbot, window, mixed):
    panel = open_training(qtbot, window, mixed["good"] + [mixed["no_dots"]])
    assert panel.train_button.isEnabled()
    write_dots_csv(sidecar_path(mixed["good"][1]), np.array([(10.0, 10.0), (300.0, 300.0)]))  # changed on disk
    started = []
    panel.controller.sigStateChanged.connect(started.append)
    qtbot.mouseClick(panel.train_button, LEFT)
    qtbot.waitUntil(lambda: bool(visible_error_boxes(panel)), timeout=WAIT_MS)
    text = visible_error_boxes(panel)[0].text()
    assert "good1.png" in text and "outside the 96×96 image" in text
    assert panel.controller.state == "idle" and not started
    assert setup_item_excluded(panel, mixed["good"][1])
    assert not panel.train_button.isEnabled()


def setup_item_excluded(panel, path) -> bool:
    item = panel.setup.image_list.item_for(str(path))
    return "excluded" in item.text() and item.checkState() == Qt.CheckState.Unchecked


def test_an_early_stop_and_an_earlier_best_state_are_said_in_words(qtbot, window, mixed, tmp_path, monkeypatch):
    from countxplain.training.trainer import Trainer

    monkeypatch.setattr(Trainer, "_val_mae", lambda self, predict, val: 5.0)  # never better: patience runs out
    panel = open_training(qtbot, window, mixed["good"] + [_annotated(mixed["good"][0].parent, "third.png", 9)])
    window.training.checkpoint_dir = tmp_path / "checkpoints"
    panel.setup.set_base_config(tiny_config(stage1_epochs=4, stage1_patience=2))
    qtbot.mouseClick(panel.train_button, LEFT)
    qtbot.waitUntil(lambda: panel.controller.state == DONE, timeout=WAIT_MS)
    notes = panel.curves.notes.text()
    assert ("Stage 1 stopped at epoch 3 of 4: no better validation count for 2 epochs; "
            "the best epoch (1) is kept") in notes
    assert "state at stage-2 epoch 1 of 2" in notes
    assert "Stage 1 stopped at epoch 3 of 4" in panel.results.summary.text()  # the tab shown at the end says it too


def test_a_vgg_s4_run_that_keeps_an_earlier_state_says_so(qtbot, window, mixed):
    panel = open_training(qtbot, window, mixed["good"])
    panel.curves.reset(preset_config("fine-tune"), "vgg-s4")
    reports = [Progress("cache", 3, 3), Progress("stage2", 1, 4, {}, 4.0, "step 100/400"),
               Progress("stage2", 2, 4, {}, 2.5, "step 200/400"), Progress("stage2", 3, 4, {}, 3.0, "step 300/400"),
               Progress("stage2", 4, 4, {}, 3.5, "step 400/400"), Progress("done", 0, 0, message="finished")]
    for report in reports:
        window.training.sigProgress.emit(report)
    assert "kept is the state at step 200 of 400 (validation MAE 2.50)" in panel.curves.notes.text()
    assert panel.curves.notes.isVisible()


def simulate(eta, clock, reports):
    """Feed (time, progress) pairs; return the estimate and the true time left after each."""
    end = reports[-1][0]
    out = []
    for at, progress in reports:
        clock.now = at
        eta.update(progress)
        out.append((at, eta.seconds_left(), end - at))
    return out


def assert_within_half_after_a_minute(points):
    checked = [(at, guess, true) for at, guess, true in points if at >= 60 and true > 0]
    assert checked
    for at, guess, true in checked:
        assert guess is not None and abs(guess - true) <= 0.5 * true, (at, guess, true)


def test_the_vgg_s4_estimate_follows_the_measured_steps_of_the_fine_tune_preset():
    config = preset_config("fine-tune")
    steps = PRESETS["fine-tune"]["steps"]
    every = -(-steps // PRESETS["fine-tune"]["validations"])
    clock = Clock()
    eta = EtaEstimator(run_plan(config, "vgg-s4"), config.stage1_patience, clock)
    reports = [(2.0 + 2.0 * v, Progress("cache", v, 30)) for v in range(1, 31)]  # 2 s per view
    t = reports[-1][0] + 15.0  # setting up: validation features, prototypes
    for step in range(every, steps + 1, every):
        t += every * 0.9  # 0.9 s a step: 0.45 x a cached view, where the first guess is 0.3 x
        reports.append((t, Progress("stage2", step // every, steps // every, {}, 1.0, f"step {step}/{steps}")))
    points = simulate(eta, clock, reports)
    assert_within_half_after_a_minute(points)
    at, guess, true = points[31]
    assert guess == pytest.approx(true, rel=0.01)  # two reports: the pace between them is the step time


def test_the_csrnet_estimate_ends_stage_1_at_its_patience():
    config = dataclasses.replace(preset_config("csrnet"), stage1_epochs=30, stage1_patience=8, stage2_epochs=40)
    clock = Clock()
    eta = EtaEstimator(run_plan(config, "csrnet"), config.stage1_patience, clock)
    reports = [(1.0 * v, Progress("cache", v, 20)) for v in range(1, 21)]
    t = 20.0
    maes = [9.0, 6.0] + [7.0] * 8  # the best is epoch 2; patience stops stage 1 at epoch 10 of 30
    for epoch, mae in enumerate(maes, 1):
        t += 30.0
        reports.append((t, Progress("stage1", epoch, 30, {"density": 1.0}, mae)))
    for epoch in range(1, 41):
        t += 2.0
        reports.append((t, Progress("stage2", epoch, 40, {"density": 1.0}, None)))
    points = simulate(eta, clock, reports)
    assert_within_half_after_a_minute(points)
    at, guess, true = points[22]  # stage-1 epoch 3: the estimate ends stage 1 at epoch 10, not 30
    assert guess == pytest.approx(7 * 30 + 40 * 0.1 * 30)


def test_the_settings_show_the_fields_of_the_trainer_that_runs(qtbot, window, mixed):
    panel = open_training(qtbot, window, mixed["good"])
    setup = panel.setup
    csrnet_rows, vgg_rows = ("stage1_epochs", "stage2_epochs", "tau"), ("steps", "lr", "validations")
    assert all(setup.inputs[n].isVisibleTo(setup) for n in csrnet_rows)  # the tiny model is a CSRNet one
    assert not any(setup.inputs[n].isVisibleTo(setup) for n in vgg_rows)
    setup.set_current_model(window.session.model.name, "vgg-s4")  # a stride-4 VGG model is fine-tuned in steps
    assert all(setup.inputs[n].isVisibleTo(setup) for n in vgg_rows)
    assert not any(setup.inputs[n].isVisibleTo(setup) for n in csrnet_rows)
    assert setup.inputs["steps"].value() == PRESETS["fine-tune"]["steps"]
    assert setup.inputs["validations"].value() == PRESETS["fine-tune"]["validations"]
    assert setup.inputs["lr"].value() == pytest.approx(PRESETS["fine-tune"]["lr"])
    assert "stride-4 VGG" in setup.recipe.text()
    setup.inputs["steps"].setValue(120)
    assert setup.config().steps == 120 and setup.config().stage1_epochs == preset_config("fine-tune").stage1_epochs
