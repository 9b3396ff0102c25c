"""The CountXplain network: a feature extractor and a prototype density head.

Two extractors (``ModelConfig.extractor``):

* ``"csrnet"`` (the paper's): CSRNet, VGG-16 conv1_1..conv4_3 and six dilated convolutions,
  output stride 8.
* ``"vgg-s4"``: VGG-16 conv1_1..conv3_3, frozen, with conv2_2 average-pooled beside conv3_3
  (output stride 4), standardised, then three trained 3×3 convolutions (two dilated). Finer
  maps, and few trained weights, so a few annotated images can fit them.

Two similarities (``ModelConfig.similarity``): the paper's ``"log"``, log((d + 1) / (d + ε)),
which never falls to zero, and ``"gaussian"``, exp(-γ_k d), which vanishes away from its
prototype. Two density layers (``ModelConfig.density``): the paper's ``"free"`` 1×1
convolution with a bias, and ``"cells-add"``: cell prototypes add with weights ≥ 0,
background prototypes add nothing and there is no constant, so the count is exactly the sum
of the cell prototypes' contributions.

Shapes: an input batch (B, 3, H, W) with H and W multiples of the stride s gives features
(B, 64, H/s, W/s), and the head gives density (B, 1, H/s, W/s), similarity and distance maps
(B, K, H/s, W/s).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .density import padded_size

VGG16_FRONTEND = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)
CSRNET_BACKEND = (512, 512, 512, 256, 128, 64)
SIMILARITY_EPSILON = 1e-4
# vgg-s4: the VGG modules up to conv2_2's ReLU, then up to conv3_3's; their channels side by side
VGG_S4_CUTS = (9, 16)
VGG_S4_CONV2 = 128
VGG_S4_CHANNELS = VGG_S4_CONV2 + 256
VGG_S4_CONV3_LAYERS = 3
VGG_S4_BACKEND = (128, 128, 64)
EXTRACTORS = ("csrnet", "vgg-s4")
SIMILARITIES = ("log", "gaussian")
DENSITIES = ("free", "cells-add")


@dataclass
class ModelConfig:
    """Architecture of a CountXplain model, stored in the model file."""

    k_cell: int = 4
    k_bg: int = 4
    prototype_dim: int = 64
    extractor: str = "csrnet"
    similarity: str = "log"
    density: str = "free"

    def __post_init__(self) -> None:
        for name, choices in (("extractor", EXTRACTORS), ("similarity", SIMILARITIES), ("density", DENSITIES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} '{getattr(self, name)}' is not one of {', '.join(choices)}")

    @property
    def k_total(self) -> int:
        return self.k_cell + self.k_bg

    @property
    def output_stride(self) -> int:
        return 4 if self.extractor == "vgg-s4" else 8

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """A configuration from a model file; files made before the extractor, similarity and density
        choices existed are the paper's model."""
        sizes = {k: int(data[k]) for k in ("k_cell", "k_bg", "prototype_dim")}
        choices = {k: str(data.get(k, default)) for k, default in
                   (("extractor", "csrnet"), ("similarity", "log"), ("density", "free"))}
        return cls(**sizes, **choices)


def vgg16_frontend() -> nn.Sequential:
    """VGG-16 ``features[:23]`` (conv1_1..conv4_3 with ReLUs): indices match torchvision's."""
    layers: list[nn.Module] = []
    in_channels = 3
    for spec in VGG16_FRONTEND:
        if spec == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, spec, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = spec
    return nn.Sequential(*layers)


def csrnet_backend() -> nn.Sequential:
    """Six 3×3 dilation-2 convolutions with ReLU (CSRNet configuration B)."""
    layers: list[nn.Module] = []
    in_channels = 512
    for channels in CSRNET_BACKEND:
        layers += [nn.Conv2d(in_channels, channels, kernel_size=3, padding=2, dilation=2), nn.ReLU(inplace=True)]
        in_channels = channels
    return nn.Sequential(*layers)


class CSRNet(nn.Module):
    """CSRNet: frontend (B,3,H,W)->(B,512,H/8,W/8), backend ->(B,64,H/8,W/8), output ->(B,1,H/8,W/8)."""

    def __init__(self) -> None:
        super().__init__()
        self.frontend = vgg16_frontend()
        self.backend = csrnet_backend()
        self.output_layer = nn.Conv2d(CSRNET_BACKEND[-1], 1, kernel_size=1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backend(self.frontend(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.output_layer(self.features(images))


class VGGStride4(nn.Module):
    """Frozen VGG-16 conv1_1..conv3_3 (conv2_2 pooled beside conv3_3), standardised per channel,
    then a trained backend (a 3×3 convolution, then two dilated ones): (B, 3, H, W) -> (B, 64, H/4, W/4).

    ``frozen_features`` is the frozen part alone, (B, 384, H/4, W/4): training caches it once."""

    output_stride = 4

    def __init__(self) -> None:
        super().__init__()
        self.frontend = vgg16_frontend()[:VGG_S4_CUTS[1]]
        self.register_buffer("feature_mean", torch.zeros(1, VGG_S4_CHANNELS, 1, 1))
        self.register_buffer("feature_std", torch.ones(1, VGG_S4_CHANNELS, 1, 1))
        layers: list[nn.Module] = []
        in_channels = VGG_S4_CHANNELS
        for i, channels in enumerate(VGG_S4_BACKEND):
            dilation = 1 if i == 0 else 2
            layers += [nn.Conv2d(in_channels, channels, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
            in_channels = channels
        self.backend = nn.Sequential(*layers)

    def frozen_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.cached_features(images, 0)

    def cached_features(self, images: torch.Tensor, trained_vgg_layers: int) -> torch.Tensor:
        """What training caches when the last ``trained_vgg_layers`` (0-3) conv3 layers train: pooled
        conv2_2 beside the conv3 block's input to its first trained layer."""
        conv2 = self.frontend[:VGG_S4_CUTS[0]](images)
        inner = self.frontend[VGG_S4_CUTS[0]:self._conv3_cut(trained_vgg_layers)](conv2)
        return torch.cat([nn.functional.avg_pool2d(conv2, 2), inner], dim=1)

    def finish_frozen(self, cached: torch.Tensor, trained_vgg_layers: int) -> torch.Tensor:
        """``cached_features`` on to what ``frozen_features`` gives, through the trained conv3 layers."""
        if trained_vgg_layers == 0:
            return cached
        pooled, inner = cached[:, :VGG_S4_CONV2], cached[:, VGG_S4_CONV2:]
        return torch.cat([pooled, self.frontend[self._conv3_cut(trained_vgg_layers):](inner)], dim=1)

    def conv3_layers(self, trained_vgg_layers: int) -> nn.Module:
        """The last ``trained_vgg_layers`` conv3 layers (with their ReLUs)."""
        return self.frontend[self._conv3_cut(trained_vgg_layers):]

    @staticmethod
    def _conv3_cut(trained_vgg_layers: int) -> int:
        if not 0 <= trained_vgg_layers <= VGG_S4_CONV3_LAYERS:
            raise ValueError(f"train_vgg_layers must be 0 to {VGG_S4_CONV3_LAYERS}, not {trained_vgg_layers}")
        return VGG_S4_CUTS[1] - 2 * trained_vgg_layers

    def trained_features(self, frozen: torch.Tensor) -> torch.Tensor:
        return self.backend((frozen - self.feature_mean) / self.feature_std)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.trained_features(self.frozen_features(images))


class CellsAddDensity(nn.Module):
    """The density layer in which only cell prototypes add: weights softplus(ρ_k) ≥ 0 for the
    ``k_cell`` cell prototypes, exactly 0 for background prototypes, no bias.

    ``weight`` (1, K, 1, 1) and ``bias`` (None) read like those of a 1×1 convolution."""

    bias = None

    def __init__(self, k_cell: int, k_total: int) -> None:
        super().__init__()
        self.k_cell = k_cell
        self.raw_weight = nn.Parameter(torch.full((k_total,), -3.0))

    @property
    def weight(self) -> torch.Tensor:
        cells = (torch.arange(self.raw_weight.numel(),
                              device=self.raw_weight.device) < self.k_cell).to(self.raw_weight.dtype)
        return (nn.functional.softplus(self.raw_weight) * cells).view(1, -1, 1, 1)

    def forward(self, similarity: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bkhw,k->bhw", similarity, self.weight.view(-1).to(similarity.dtype)).unsqueeze(1)


class HeadOutput(NamedTuple):
    density: torch.Tensor  # (B, 1, h, w)
    similarity: torch.Tensor  # (B, K, h, w)
    distances: torch.Tensor  # (B, K, h, w)


def log_similarity(distances: torch.Tensor) -> torch.Tensor:
    """The paper's similarity of a squared distance: log((d + 1) / (d + ε))."""
    return torch.log((distances + 1.0) / (distances + SIMILARITY_EPSILON))


def gaussian_similarity(distances: torch.Tensor, log_gamma: torch.Tensor) -> torch.Tensor:
    """exp(-γ_k d) of squared distances (B, K, h, w), γ_k = exp(log_gamma_k): 1 at the prototype, 0 far from it."""
    return torch.exp(-log_gamma.exp().view(1, -1, 1, 1).to(distances.dtype) * distances)


class PrototypeHead(nn.Module):
    """Feature processing (1×1 conv + sigmoid), K prototypes, a similarity map each, 1×1 density.

    Prototypes ``0..k_cell-1`` are cell prototypes, the rest background prototypes.
    """

    def __init__(self, config: ModelConfig, in_channels: int = CSRNET_BACKEND[-1]) -> None:
        super().__init__()
        self.config = config
        self.feature_processing = nn.Conv2d(in_channels, config.prototype_dim, kernel_size=1)
        self.prototypes = nn.Parameter(torch.rand(config.k_total, config.prototype_dim))
        if config.similarity == "gaussian":
            self.log_gamma = nn.Parameter(torch.full((config.k_total,), math.log(0.5)))
        if config.density == "cells-add":
            self.density_layer = CellsAddDensity(config.k_cell, config.k_total)
        else:
            self.density_layer = nn.Conv2d(config.k_total, 1, kernel_size=1)

    def similarity(self, distances: torch.Tensor) -> torch.Tensor:
        if self.config.similarity == "gaussian":
            return gaussian_similarity(distances, self.log_gamma)
        return log_similarity(distances)

    def processed_features(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) backbone features -> (B, d, h, w) in (0, 1)."""
        return torch.sigmoid(self.feature_processing(features))

    def distances(self, processed: torch.Tensor, prototypes: torch.Tensor | None = None) -> torch.Tensor:
        """Squared L2 distance of every location to every prototype (the head's own unless
        given, (K, d)): (B, K, h, w)."""
        prototypes = self.prototypes if prototypes is None else prototypes
        squared_features = (processed ** 2).sum(dim=1, keepdim=True)
        squared_prototypes = (prototypes ** 2).sum(dim=1).view(1, -1, 1, 1)
        cross = torch.einsum("bdhw,kd->bkhw", processed, prototypes)
        return (squared_features - 2 * cross + squared_prototypes).clamp_min(0.0)

    def forward(self, features: torch.Tensor) -> HeadOutput:
        distances = self.distances(self.processed_features(features))
        similarity = self.similarity(distances)
        return HeadOutput(self.density_layer(similarity), similarity, distances)


class CountXplain(nn.Module):
    """CSRNet feature extractor + prototype head. ``forward`` returns a ``HeadOutput``."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.extractor = VGGStride4() if self.config.extractor == "vgg-s4" else CSRNet()
        self.head = PrototypeHead(self.config)

    @property
    def output_stride(self) -> int:
        return self.config.output_stride

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.extractor.features(images)

    def forward(self, images: torch.Tensor) -> HeadOutput:
        return self.head(self.features(images))


def normalise_batch(pixels: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> ImageNet-normalised input."""
    from .images import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    return (pixels - mean) / std


def padded_batch(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, 3) pixels in [0, 1] as the model's input: (1, 3, H', W') normalised, zero-padded (in
    normalised units) to multiples of 8."""
    tensor = normalise_batch(torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float())
    h, w = tensor.shape[-2:]
    return nn.functional.pad(tensor, (0, padded_size(w) - w, 0, padded_size(h) - h))
