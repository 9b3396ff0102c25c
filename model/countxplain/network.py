"""The CountXplain network: a CSRNet feature extractor and a prototype density head.

Shapes: an input batch (B, 3, H, W) with H and W multiples of 8 gives features
(B, 64, H/8, W/8), and the head gives density (B, 1, H/8, W/8), similarity and
distance maps (B, K, H/8, W/8).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

VGG16_FRONTEND = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)
CSRNET_BACKEND = (512, 512, 512, 256, 128, 64)
SIMILARITY_EPSILON = 1e-4


@dataclass
class ModelConfig:
    """Architecture of a CountXplain model, stored in the model file."""

    k_cell: int = 4
    k_bg: int = 4
    prototype_dim: int = 64

    @property
    def k_total(self) -> int:
        return self.k_cell + self.k_bg

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        return cls(**{k: int(data[k]) for k in ("k_cell", "k_bg", "prototype_dim")})


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


class HeadOutput(NamedTuple):
    density: torch.Tensor  # (B, 1, h, w)
    similarity: torch.Tensor  # (B, K, h, w)
    distances: torch.Tensor  # (B, K, h, w)


def log_similarity(distances: torch.Tensor) -> torch.Tensor:
    """The paper's similarity of a squared distance: log((d + 1) / (d + ε))."""
    return torch.log((distances + 1.0) / (distances + SIMILARITY_EPSILON))


class PrototypeHead(nn.Module):
    """Feature processing (1×1 conv + sigmoid), K prototypes, log similarity, 1×1 density conv.

    Prototypes ``0..k_cell-1`` are cell prototypes, the rest background prototypes.
    """

    def __init__(self, config: ModelConfig, in_channels: int = CSRNET_BACKEND[-1]) -> None:
        super().__init__()
        self.config = config
        self.feature_processing = nn.Conv2d(in_channels, config.prototype_dim, kernel_size=1)
        self.prototypes = nn.Parameter(torch.rand(config.k_total, config.prototype_dim))
        self.density_layer = nn.Conv2d(config.k_total, 1, kernel_size=1)

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
        similarity = log_similarity(distances)
        return HeadOutput(self.density_layer(similarity), similarity, distances)


class CountXplain(nn.Module):
    """CSRNet feature extractor + prototype head. ``forward`` returns a ``HeadOutput``."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.extractor = CSRNet()
        self.head = PrototypeHead(self.config)

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
