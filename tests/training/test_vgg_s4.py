"""The stride-4 VGG model: a similarity that vanishes, a density layer where only cell prototypes add,
trained and fine-tuned through the one entry point, saved, loaded and counted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from countxplain.explain import contributions
from countxplain.inference import Counter
from countxplain.modelfile import load_model, save_model
from countxplain.network import CountXplain, ModelConfig, gaussian_similarity
from countxplain.training import train_model
from countxplain.training.config import config_for_start
from helpers.training import annotated_images

S4 = dict(extractor="vgg-s4", similarity="gaussian", density="cells-add")
TINY_S4 = dict(**S4, k_cell=3, k_bg=2, prototype_dim=8, steps=24, validations=2, view_scales=(1.0,), max_view_px=64)


def test_the_gaussian_similarity_is_one_at_the_prototype_and_vanishes_far_from_it():
    distances = torch.tensor([0.0, 1.0, 10.0, 100.0]).view(1, 4, 1, 1)
    similarity = gaussian_similarity(distances, torch.zeros(4)).view(-1)
    assert similarity[0] == 1.0 and similarity[3] < 1e-40
    assert torch.all(similarity[1:] < similarity[:-1])


def test_only_cell_prototypes_add_and_there_is_no_constant():
    torch.manual_seed(0)
    network = CountXplain(ModelConfig(k_cell=3, k_bg=2, prototype_dim=8, **S4)).eval()
    with torch.no_grad():
        network.head.density_layer.raw_weight.copy_(torch.tensor([-5.0, 0.0, 2.0, 4.0, -1.0]))
    weight = network.head.density_layer.weight.view(-1)
    assert torch.all(weight[:3] > 0) and torch.all(weight[3:] == 0)
    assert network.head.density_layer.bias is None
    output = network(torch.rand(1, 3, 48, 64))
    assert output.density.shape == (1, 1, 12, 16) and output.similarity.shape == (1, 5, 12, 16)
    assert torch.all(output.density >= 0)
    by_prototype = (output.similarity * weight.view(1, -1, 1, 1)).sum(dim=(2, 3))
    assert torch.allclose(by_prototype.sum(), output.density.sum(), rtol=1e-5)


def test_an_unknown_architecture_name_is_refused():
    with pytest.raises(ValueError, match="similarity 'cosine' is not one of log, gaussian"):
        ModelConfig(similarity="cosine")


@pytest.fixture(scope="module")
def s4_run(tmp_path_factory):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("cells")
    samples = annotated_images(folder, n=4, size=64)
    return folder, samples, train_model(samples, "default", TINY_S4, gallery_k=2)


def test_a_trained_s4_model_counts_at_the_images_own_scale_and_its_cells_explain_the_count(s4_run):
    folder, samples, run = s4_run
    bundle = load_model(save_model(run.bundle, folder / "s4.cxm"))
    assert bundle.config.extractor == "vgg-s4" and bundle.preprocessing["native_scale"] is True
    assert all(image.scale == 1.0 for image in run.train_images + run.val_images)
    pixels = run.train_images[0].pixels
    counter = Counter(bundle, device="cpu")
    result = counter.count(pixels, with_similarity=True)
    assert result.density.shape == (16, 16) and result.cell_px == (4.0, 4.0)
    assert counter.count(pixels, cell_diameter_px=40.0).count == pytest.approx(result.count)  # no rescale
    explained = contributions(bundle, result)
    assert explained.bias_term == 0.0 and np.all(explained.values[~explained.is_cell] == 0)
    assert explained.values[explained.is_cell].sum() == pytest.approx(result.count, rel=1e-5)
    assert counter.count(np.zeros((40, 40, 3), np.float32)).count >= 0.0
    assert bundle.gallery.patches.shape[:2] == (5, 2)
    assert all("@" in source for sources in bundle.gallery.sources for source in sources)


def test_a_model_trained_at_a_count_scale_counts_every_image_resized_by_it(s4_run):
    folder, samples, run = s4_run
    tuned = train_model(samples, "fine-tune", {"steps": 4, "validations": 1, "max_view_px": 64,
                                               "view_scales": (1.0,), "count_scale": 0.5},
                        init=run.bundle, gallery_k=0).bundle
    bundle = load_model(save_model(tuned, folder / "half.cxm"))
    assert bundle.preprocessing["count_scale"] == 0.5
    result = Counter(bundle, device="cpu").count(run.train_images[0].pixels, cell_diameter_px=40.0)
    assert result.scale == 0.5 and result.density.shape == (8, 8)  # 64 px at 0.5, stride 4


def test_fine_tuning_keeps_the_starting_models_architecture_and_sizes(s4_run):
    folder, samples, run = s4_run
    parent = load_model(save_model(run.bundle, folder / "parent.cxm"))
    tuned = train_model(samples, "fine-tune", {"steps": 8, "validations": 1, "max_view_px": 64,
                                               "k_cell": 3, "k_bg": 2, "prototype_dim": 8}, init=parent, gallery_k=0)
    assert tuned.config.model_config() == parent.config
    assert tuned.bundle.provenance["parent_model"]["file"] == "parent.cxm"
    changed = [key for key, value in tuned.bundle.network.state_dict().items()
               if not torch.equal(value, parent.network.state_dict()[key])]
    assert changed and not any(key.startswith("extractor.frontend") for key in changed)


def test_fine_tuning_a_csrnet_model_keeps_it_a_csrnet_model(tiny_model_file):
    from countxplain.training import preset_config

    config = config_for_start(preset_config("fine-tune"), load_model(tiny_model_file))
    assert (config.extractor, config.similarity, config.density) == ("csrnet", "log", "free")


def test_a_calibrated_start_scales_the_cell_weights_by_the_factor_that_fits_the_training_views_counts(s4_run):
    from countxplain.training.vgg_s4 import scale_density_weights

    folder, samples, run = s4_run
    options = dict(steps=1, validations=1, view_scales=(1.0,), calibrate_start=True)

    def start_factor(model) -> float:
        tuned = train_model(samples, "fine-tune", options, init=model, gallery_k=0)
        return next(h["factor"] for h in tuned.history if h["stage"] == "calibrate")

    as_trained = load_model(save_model(run.bundle, folder / "as-trained.cxm"))
    tripled = load_model(save_model(run.bundle, folder / "tripled.cxm"))
    scale_density_weights(tripled.network.head.density_layer, 3.0)
    before = tripled.network.head.density_layer.weight.detach().clone()
    # within bfloat16 rounding, where the CPU computes it (the calibration counts under autocast)
    assert start_factor(tripled) == pytest.approx(start_factor(as_trained) / 3.0, rel=1e-2)
    assert torch.equal(tripled.network.head.density_layer.weight.detach(), before)  # the parent is left as it was
    untouched = train_model(samples, "fine-tune", {**options, "calibrate_start": False}, init=tripled, gallery_k=0)
    assert not any(h["stage"] == "calibrate" for h in untouched.history)


def test_scaling_the_density_weights_keeps_background_weights_at_zero():
    from countxplain.network import CellsAddDensity
    from countxplain.training.vgg_s4 import scale_density_weights

    layer = CellsAddDensity(2, 4)
    with torch.no_grad():
        layer.raw_weight.copy_(torch.tensor([-2.0, 1.0, 3.0, 0.0]))
    before = layer.weight.detach().clone().view(-1)
    scale_density_weights(layer, 0.25)
    after = layer.weight.detach().view(-1)
    assert torch.allclose(after[:2], 0.25 * before[:2], rtol=1e-5) and torch.all(after[2:] == 0)


def test_cached_features_finished_through_the_conv3_layers_are_the_frozen_features():
    torch.manual_seed(0)
    extractor = CountXplain(ModelConfig(k_cell=3, k_bg=2, prototype_dim=8, **S4)).extractor.eval()
    images = torch.rand(1, 3, 40, 48)
    with torch.no_grad():
        frozen = extractor.frozen_features(images)
        for layers in range(4):
            cached = extractor.cached_features(images, layers)
            assert torch.allclose(extractor.finish_frozen(cached, layers), frozen, atol=1e-5)
    with pytest.raises(ValueError, match="train_vgg_layers must be 0 to 3"):
        extractor.cached_features(images, 4)


def test_fine_tuning_with_trained_vgg_layers_changes_those_layers_only(s4_run):
    folder, samples, run = s4_run
    base = run.bundle
    tuned = train_model(samples, "fine-tune", {"steps": 6, "validations": 1, "max_view_px": 64,
                                               "view_scales": (1.0,), "train_vgg_layers": 1},
                        init=base, gallery_k=0).bundle
    before, after = base.network.extractor.frontend, tuned.network.extractor.frontend
    changed = [i for i, (a, b) in enumerate(zip(before, after))
               if isinstance(a, torch.nn.Conv2d) and not torch.equal(a.weight, b.weight)]
    assert changed == [14]  # conv3_3, the last conv3 layer
    with pytest.raises(Exception, match="train_vgg_layers must be 0 to 3"):
        train_model(samples, "fine-tune", {"train_vgg_layers": 5}, init=base)


def test_more_training_views_get_more_steps_where_the_preset_asks_for_steps_per_view():
    from countxplain.training import preset_config
    from countxplain.training.vgg_s4 import steps_for

    config = preset_config("fine-tune")
    assert steps_for(config, 6) == config.steps  # few views: the preset's steps
    assert steps_for(config, 36) == round(config.steps_per_view * 36) > config.steps
    assert steps_for(preset_config("default"), 10_000) == preset_config("default").steps
    with pytest.raises(Exception, match="steps_per_view must not be negative"):
        preset_config("fine-tune", steps_per_view=-1)
