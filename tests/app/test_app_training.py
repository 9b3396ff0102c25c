"""Training in the app: the panel lists the annotated images, refuses fewer than two, trains a tiny
model in the job runner with live curves, cancels (keeping the last epoch's checkpoint), resumes,
shows the per-image errors and the new gallery, saves the model file and switches the app to it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from countxplain.annotations import write_dots_csv
from countxplain.datasets import sidecar_path
from cxdesktop.training_control import CANCELLED, DONE
from helpers.app import WAIT_MS, blob_png, drop_paths, wait_counted

LEFT = Qt.MouseButton.LeftButton


def tiny_config(**changes):
    from countxplain.training import TrainingConfig

    base = dict(k_cell=2, k_bg=2, prototype_dim=16, stage1_epochs=1, stage2_epochs=4, projection_every=2,
                stage1_batch=2, stage2_batch=2, crop_cells=6, n_views=1, train_backend_layers=1, seed=3)
    base.update(changes)
    return TrainingConfig(**base)


@pytest.fixture
def annotated(tmp_path):
    """Three 96 × 96 blob images with their dots in sidecars, and one image without dots."""
    folder = tmp_path / "annotated"
    folder.mkdir()
    rng = np.random.default_rng(7)
    paths = []
    for i in range(3):
        centres = [tuple(int(v) for v in c) for c in rng.integers(12, 84, size=(int(rng.integers(4, 8)), 2))]
        path = blob_png(folder / f"cells{i}.png", 96, 96, centres, seed=i)
        write_dots_csv(sidecar_path(path), np.array([(c, r) for r, c in centres], dtype=float))
        paths.append(path)
    paths.append(blob_png(folder / "unannotated.png", 64, 64, [(30, 30)], seed=9))
    return paths


@pytest.fixture
def panel(qtbot, window, annotated, tmp_path):
    """The training window over the four listed images, with the tiny settings and a private checkpoint folder."""
    drop_paths(window, annotated)
    wait_counted(qtbot, window, annotated)
    window.training.checkpoint_dir = tmp_path / "checkpoints"
    window.menu_actions["train_model"].trigger()
    panel = window.training_dialog.panel
    qtbot.waitUntil(lambda: not panel.setup.image_list.pending, timeout=WAIT_MS)  # the images checked
    panel.setup.set_base_config(tiny_config())
    return panel


def visible_error_boxes(widget) -> list[QMessageBox]:
    return [box for box in widget.findChildren(QMessageBox) if box.isVisible()]


def test_the_panel_lists_the_annotated_images_with_the_presets_of_each_start(qtbot, window, annotated, tmp_path):
    from countxplain.training import preset_config

    drop_paths(window, annotated)
    wait_counted(qtbot, window, annotated)
    setup = window.show_training().panel.setup
    qtbot.waitUntil(lambda: not setup.image_list.pending, timeout=WAIT_MS)
    assert [p.split("/")[-1] for p in setup.checked_paths()] == ["cells0.png", "cells1.png", "cells2.png"]
    assert "cells0.png" in setup.images.item(0).text() and "dots" in setup.images.item(0).text()
    fine_tune = preset_config("fine-tune")
    for name in ("k_cell", "k_bg", "stage1_epochs", "stage2_epochs", "tau", "lambda_density", "lambda_proto",
                 "lambda_diversity"):
        assert setup.inputs[name].value() == pytest.approx(getattr(fine_tune, name))
    assert setup.config() == fine_tune
    assert setup.start() == "current" and setup.preset() == "fine-tune"
    assert setup.recipe.text().startswith("fine-tune") and setup.recipe.isVisibleTo(setup)
    assert setup.model_label.text() == "tiny test model"
    if setup.csrnet_radio.isEnabled():  # a fresh model gets the default model's recipe
        setup.csrnet_radio.click()
        assert setup.preset() == "default" and setup.config() == preset_config("default")
        assert setup.recipe.text().startswith("default")
        setup.current_radio.click()
        assert setup.config() == fine_tune
    assert "2 image(s) to train on, 1 set aside for validation" in setup.split.text()


def test_fewer_than_two_annotated_images_is_refused_in_words(qtbot, panel):
    setup = panel.setup
    setup.images.item(1).setCheckState(Qt.CheckState.Unchecked)
    setup.images.item(2).setCheckState(Qt.CheckState.Unchecked)
    assert not panel.train_button.isEnabled()
    assert "at least 2 annotated images" in setup.split.text() and "1 is checked" in setup.split.text()
    panel.start()
    qtbot.waitUntil(lambda: bool(visible_error_boxes(panel)), timeout=10_000)
    assert "at least 2 annotated images" in visible_error_boxes(panel)[0].text()
    assert panel.controller.state == "idle"


def test_missing_csrnet_weights_say_how_to_get_them(qtbot, panel, monkeypatch, tmp_path):
    setup = panel.setup
    setup.csrnet_weights = tmp_path / "absent.npz"
    setup.set_current_model("tiny test model")
    assert not setup.csrnet_radio.isEnabled() and setup.csrnet_note.isVisible()
    assert "python -m countxplain.pretrained" in setup.csrnet_note.text()


def test_new_annotations_appear_in_the_list(qtbot, window, panel, annotated):
    window.browser.select(str(annotated[3]))
    qtbot.waitUntil(lambda: window.annotator.entry is not None and window.annotator.entry.path == str(annotated[3]),
                    timeout=WAIT_MS)
    window.annotator.add(30, 30)
    assert panel.setup.images.count() == 4
    assert "unannotated.png  ·  1 dot" in panel.setup.images.item(3).text()


def test_train_cancel_resume_save_and_count_with_the_new_model(qtbot, window, panel, tmp_path, monkeypatch):
    engine, controller = window.session.engine, window.training
    original, gate = engine.train, threading.Event()

    def train_with_a_pause(request, report, cancel):
        def paused_report(progress):
            report(progress)
            if progress.stage == "stage2" and progress.epoch == 2 and not gate.is_set():
                gate.wait(WAIT_MS / 1000)  # hold the worker right after epoch 2's checkpoint: Cancel lands here
        return original(request, paused_report, cancel)

    monkeypatch.setattr(engine, "train", train_with_a_pause)
    seen = []
    controller.sigProgress.connect(lambda p: seen.append((p.stage, p.epoch)))
    qtbot.mouseClick(panel.train_button, LEFT)
    assert not panel.train_button.isEnabled() and not panel.setup.isEnabled()
    qtbot.waitUntil(lambda: ("stage2", 2) in seen, timeout=WAIT_MS)
    assert panel.curves.points("loss", "stage1")[0] == [1]
    assert panel.curves.points("loss", "stage2")[0] == [2, 3]  # stage-2 epochs follow stage 1's on the axis
    assert "epoch 2 / 4" in panel.curves.status.text() and "left" in panel.curves.status.text()
    qtbot.mouseClick(panel.cancel_button, LEFT)
    gate.set()
    qtbot.waitUntil(lambda: controller.state == CANCELLED, timeout=WAIT_MS)
    assert controller.checkpoint.exists()  # the last finished epoch is kept
    assert panel.resume_button.isEnabled() and panel.train_button.isEnabled()
    assert ("stage2", 3) not in seen

    seen.clear()
    qtbot.mouseClick(panel.resume_button, LEFT)
    qtbot.waitUntil(lambda: controller.state == DONE, timeout=WAIT_MS)
    assert [epoch for stage, epoch in seen if stage == "stage2"] == [3, 4]  # continued, not restarted
    assert not any(stage == "stage1" for stage, _ in seen)
    assert panel.curves.points("loss", "stage2")[0] == [2, 3, 4, 5]
    assert panel.curves.points("mae", "stage2")[0] == [3, 5]  # measured after each projection
    assert not controller.checkpoint.exists()

    results = panel.results
    assert panel.tabs.currentWidget() is results
    table = results.table
    assert table.rowCount() == 3
    assert [table.item(r, 1).text() for r in range(3)] == ["validation", "training", "training"]
    outcome = controller.outcome
    val = outcome.rows[0]
    assert table.item(0, 3).text() == f"{val.predicted:.1f}" and table.item(0, 2).text() == str(val.annotated)
    assert f"Validation MAE <b>{abs(val.error):.2f}</b>" in results.summary.text()
    assert set(results.gallery.groups) == {"Cell prototypes", "Background prototypes"}
    assert outcome.info.gallery_patches.shape[:2] == (4, 2)  # 4 prototypes, the top 2 of 2 training images

    model_file = tmp_path / "models" / "mine.cxm"
    panel.save(model_file)
    qtbot.waitUntil(lambda: controller.saved_path == str(model_file), timeout=WAIT_MS)
    assert "Saved as" in results.summary.text()
    from countxplain.images import read_image
    from countxplain.inference import Counter
    from countxplain.modelfile import load_model

    bundle = load_model(model_file)
    assert bundle.name == "mine" and bundle.gallery is not None
    assert bundle.provenance["training_start"] == "current"

    qtbot.mouseClick(results.use_button, LEFT)
    store = window.session.store
    qtbot.waitUntil(lambda: window.session.model is not None and window.session.model.name == "mine", timeout=WAIT_MS)
    path = store.paths()[0]
    qtbot.waitUntil(lambda: store[path].analysis is not None and store[path].analysis.model_name == "mine"
                    and store[path].status == "done", timeout=WAIT_MS)
    qtbot.waitUntil(window.runner.is_idle, timeout=WAIT_MS)  # the recount done: torch runs on one thread at a time
    expected = Counter(bundle, device="cpu").count(read_image(path).pixels).count
    assert store[path].count == pytest.approx(expected, rel=1e-4, abs=1e-4)
    assert window.status.model_label.text().startswith("Model: mine")
    gui = window.runner.gui_thread_ident
    assert all(ident != gui for _, kind, _, ident in window.runner.thread_log if kind in ("train", "save-trained"))
