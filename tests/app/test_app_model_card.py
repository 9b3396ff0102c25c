"""Model › Model card: a card a person reads (name, training data, preset and parent model, test MAE,
known limits), with the full record one click further; fields an older file lacks are left out."""

from __future__ import annotations

import pytest

from helpers.app import WAIT_MS


def model_with_provenance(source, target, provenance: dict):
    from countxplain.modelfile import load_model, save_model

    bundle = load_model(source)
    bundle.provenance = provenance
    return save_model(bundle, target)


def use_model(qtbot, window, path):
    window.open_model(path)
    qtbot.waitUntil(lambda: window.session.model is not None and window.session.model.path == str(path),
                    timeout=WAIT_MS)


def test_the_shipped_model_has_a_card_with_data_accuracy_and_limits(qtbot, window, shipped_model_path):
    use_model(qtbot, window, shipped_model_path)
    window.menu_actions["model_card"].trigger()
    dialog = window._dialogs[-1]
    assert dialog.isVisible() and dialog.windowTitle() == "Model card"
    card = dialog.browser.toPlainText()
    assert card.startswith(window.session.model.name)
    assert "adi, dsb2018, mbm, vgg" in card and "582" in card and "78" in card  # data sets, image counts
    assert "Validation MAE" in card and "5.11" in card
    assert "Test set" in card and "6.15" in card and "136" in card  # vgg's test MAE on its 136 images
    assert "Known limits" in card and "3D stacks" in card  # from the MODEL_CARD.md shipped beside it
    assert "no preset and no parent model" in card  # an older file: said, not guessed
    assert "history" not in card and "stage1_lr" not in card and len(card) < 6000  # not the dump
    dialog.full_record_button.click()
    record = dialog.browser.toPlainText()
    assert "stage1_lr" in record and "history" in record and len(record) > 20000
    assert dialog.full_record_button.text() == "Card"
    dialog.full_record_button.click()
    assert dialog.browser.toPlainText() == card
    dialog.close()


def test_a_fine_tuned_model_names_its_preset_and_parent(qtbot, window, tiny_model_file, tmp_path):
    parent_sha = "ab12cd34ef56" + "0" * 52
    path = model_with_provenance(tiny_model_file, tmp_path / "tuned.cxm", {
        "name": "Bone marrow fine-tune", "created": "2027-01-05T10:00:00+00:00",
        "training_data": {"groups": ["marrow"], "n_train_images": 5, "n_validation_images": 1,
                          "images": ["m1.png", "m2.png"]},
        "preset": "fine-tune", "preset_overrides": {"stage1_epochs": 8},
        "parent_model": {"name": "CountXplain default", "preset": "default", "file": "default.cxm",
                         "sha256": parent_sha},
        "metrics": {"val_mae": 3.25, "test": {"marrow": {"n": 4, "mae": 2.5, "rmse": 3.0, "relative_mae": 0.05,
                                                         "cell_size": "27 px"}}},
        "history": [{"stage": "stage1", "epoch": i, "loss": 1.0} for i in range(50)]})
    use_model(qtbot, window, path)
    card = window.show_model_card().browser.toPlainText()
    assert card.startswith("Bone marrow fine-tune")
    assert "fine-tune" in card and "stage1_epochs = 8" in card
    assert "Fine-tuned from" in card and "CountXplain default (preset default), file default.cxm" in card
    assert "SHA-256 ab12cd34ef56" in card and parent_sha not in card
    assert "marrow" in card and "m1.png, m2.png" in card and "3.25" in card and "2.50" in card and "5.0%" in card
    assert "Trained on only 5 images" in card


@pytest.mark.parametrize("provenance", [
    {"name": "bare"},
    {"name": "odd", "training_data": "forty images", "metrics": {"test": ["not", "a", "table"], "val_mae": "low"},
     "parent_model": "a string", "preset_overrides": [1, 2], "known_limits": ["Only tried on mouse tissue."]},
])
def test_missing_or_odd_fields_leave_gaps_not_a_crash(qtbot, window, tiny_model_file, tmp_path, provenance):
    path = model_with_provenance(tiny_model_file, tmp_path / f"{provenance['name']}.cxm", provenance)
    use_model(qtbot, window, path)
    dialog = window.show_model_card()
    card = dialog.browser.toPlainText()
    assert card.startswith(provenance["name"])
    assert "does not record its training data" in card and "No test results are recorded" in card
    assert "Known limits" in card
    if "known_limits" in provenance:
        assert "Only tried on mouse tissue." in card
    dialog.full_record_button.click()
    assert "k_cell" in dialog.browser.toPlainText()
