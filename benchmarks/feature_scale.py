"""Scale of a model's 64 extractor features on a protocol's training images, and what the head's sigmoid sees.

Prints, per model file: mean, standard deviation and maximum of the features, the share of
zeros, and the spread of the pre-sigmoid feature processing for a freshly initialised 1×1
convolution (seed 0) and for the model's trained one.

Usage: python benchmarks/feature_scale.py mbm 0 MODEL.cxm [MODEL.cxm ...]
"""

from __future__ import annotations

import sys

import torch

from countxplain.modelfile import load_model
from countxplain.protocols import load_protocol_data
from countxplain.training.data import padded_batch, prepare_images
from run_protocols import set_diameter


def main(argv=None) -> int:
    name, seed, *paths = argv or sys.argv[1:]
    protocol, dataset = load_protocol_data("../shared/data", name)
    train, _, _ = protocol.split(dataset, int(seed))
    diameter = set_diameter(train)
    images = prepare_images(train[:6], [protocol.dataset] * 6, 10.0, [diameter] * 6)
    for path in paths:
        network = load_model(path).network.float().eval()
        torch.manual_seed(0)
        fresh = torch.nn.Conv2d(network.head.feature_processing.in_channels, network.head.prototypes.shape[1], 1)
        with torch.inference_mode():
            features = torch.cat([network.extractor.features(padded_batch(i.pixels)).flatten(2) for i in images], 2)[0]
            locations = features.T[:, :, None, None]
            trained, start = network.head.feature_processing(locations), fresh(locations)
        print(f"{path}: features mean {features.mean():.3f} std {features.std():.3f} max {features.max():.2f} "
              f"zeros {(features == 0).float().mean():.2f}; pre-sigmoid spread at a fresh start {start.std():.2f}, "
              f"trained {trained.std():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
