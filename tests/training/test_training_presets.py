"""The one training entry point: presets, options refused up front, the validation rule, what a model records."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from countxplain.datasets import Sample, validation_count, validation_split
from countxplain.errors import CountXplainError
from countxplain.modelfile import load_model, save_model
from countxplain.training import PRESETS, TrainingConfig, preset_config, train_model
from helpers.training import annotated_images

TINY = dict(k_cell=2, k_bg=2, prototype_dim=8, stage1_epochs=1, stage2_epochs=2, projection_every=2,
            stage1_batch=2, stage2_batch=2, crop_cells=6, n_views=1, train_backend_layers=1, min_group_views=1,
            cell_diameter_px=10.0)


def test_the_validation_rule_keeps_one_image_each_side_and_is_seeded():
    assert [validation_count(n, 0.2) for n in (1, 2, 3, 20)] == [0, 1, 1, 4]
    assert validation_count(3, 0.9) == 2
    train, val = validation_split(10, 0.2, seed=0)
    assert len(val) == 2 and sorted(train + val) == list(range(10))
    assert validation_split(10, 0.2, seed=0) == (train, val)
    with pytest.raises(ValueError, match="at least 2 annotated images"):
        validation_split(1, 0.2, seed=0)


def test_every_preset_makes_a_valid_configuration_and_they_differ():
    configs = {name: preset_config(name) for name in PRESETS}
    assert set(configs) >= {"default", "fine-tune", "csrnet", "paper"}
    assert configs["paper"] == TrainingConfig()
    assert (configs["paper"].similarity, configs["paper"].density) == ("log", "free")  # the paper's Eq. 2
    assert configs["default"] != configs["fine-tune"]
    assert configs["default"].model_config() == configs["fine-tune"].model_config()
    assert (configs["default"].extractor, configs["default"].density) == ("vgg-s4", "cells-add")
    assert configs["fine-tune"].steps < configs["default"].steps
    assert configs["csrnet"].train_backend_layers == 6 and configs["csrnet"].stage1_schedule == "cosine"


@pytest.mark.parametrize("preset, options, words", [
    ("fine-tun", {}, "did you mean 'fine-tune'"),
    ("default", {"stage1_epoch": 3}, "did you mean 'stage1_epochs'"),
    ("default", {"stage1_precision": "fp16"}, "stage1_precision 'fp16' is not one of fp32, bf16"),
    ("default", {"stage1_schedule": "linear"}, "stage1_schedule"),
    ("default", {"stage1_ema": 0.9}, "unknown training option 'stage1_ema'"),
    ("default", {"stage2_epochs": -1}, "stage2_epochs must not be negative"),
    ("default", {"stage1_lr": 0.0}, "stage1_lr must be a positive number"),
])
def test_an_unknown_preset_option_or_value_is_refused_before_any_work(preset, options, words):
    with pytest.raises(CountXplainError, match=words.replace("(", r"\(").replace("'", "'")):
        preset_config(preset, **options)


def test_a_misspelt_option_is_refused_by_train_model_before_it_reads_an_image(tmp_path):
    missing = Sample(tmp_path / "nowhere.png", tmp_path / "nowhere.dots.csv")
    with pytest.raises(CountXplainError, match="unknown training option"):
        train_model([missing, missing], "default", {"stage2_epoch": 1})


def test_a_trained_model_records_its_preset_and_a_fine_tuned_one_its_parent(tmp_path):
    torch.manual_seed(0)
    samples = annotated_images(tmp_path)
    base = train_model(samples, "paper", TINY, gallery_k=1)
    assert len(base.train_images) == 3 and len(base.val_images) == 1
    assert base.bundle.provenance["preset"] == "paper"
    assert base.bundle.provenance["preset_overrides"]["stage2_epochs"] == 2
    assert "parent_model" not in base.bundle.provenance
    assert base.bundle.gallery is not None
    parent_path = save_model(base.bundle, tmp_path / "parent.cxm")
    parent = load_model(parent_path)
    tuned = train_model(samples, "fine-tune", TINY, init=parent, gallery_k=1)
    record = tuned.bundle.provenance["parent_model"]
    assert record["file"] == "parent.cxm" and record["preset"] == "paper" and len(record["sha256"]) == 64
    assert tuned.bundle.provenance["preset"] == "fine-tune"
    assert dataclasses.asdict(tuned.config)["stage1_schedule"] == PRESETS["fine-tune"]["stage1_schedule"]
    assert tuned.config.extractor == "csrnet"  # fine-tuning keeps the parent's architecture
    saved = load_model(save_model(tuned.bundle, tmp_path / "tuned.cxm"))
    assert saved.provenance["parent_model"] == record
