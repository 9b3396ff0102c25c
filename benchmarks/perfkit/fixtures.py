"""What the sections measure on: a real-microscopy image of any size, and the benchmark model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from .config import DATA


def real_pixels(size: int) -> np.ndarray:
    """A size×size float image made of real microscopy (vgg 001, repeated), as ``read_image`` gives."""
    from countxplain.images import read_image

    source = DATA / "vgg" / "001cell.png"
    if source.exists():
        tile = read_image(source).pixels
    else:
        tile = np.random.default_rng(0).random((256, 256, 3), dtype=np.float32)
    reps = (-(-size // tile.shape[0]), -(-size // tile.shape[1]), 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:size, :size])


# ---------------------------------------------------------------------------------------------
# the model


def benchmark_model(path: str | None):
    """(bundle, file path, description, trained): the given or shipped model, else a seeded random one."""
    from countxplain.modelfile import Gallery, ModelBundle, load_model, save_model
    from countxplain.network import CountXplain, ModelConfig
    from countxplain.resources import default_model_path

    candidate = Path(path) if path else default_model_path()
    if candidate.exists():
        bundle = load_model(candidate)
        return bundle, candidate, f"{candidate} ('{bundle.name}')", True
    torch.manual_seed(0)
    network = CountXplain(ModelConfig())
    gallery = Gallery(torch.randint(0, 255, (8, 3, 48, 48, 3), dtype=torch.uint8), torch.rand(8, 3), [])
    bundle = ModelBundle(network, {"cell_diameter_px": 10.0}, {"name": "random weights (benchmark)"}, gallery)
    out = Path(tempfile.gettempdir()) / "countxplain-perf-random.cxm"
    save_model(bundle, out)
    bundle = load_model(out)
    return bundle, out, f"CountXplain(ModelConfig()) with seeded random weights (no file at {candidate})", False


def fresh_network(model_file: Path):
    """A separate copy of the network, as ``load_model`` gives it: fp32, contiguous, eval."""
    from countxplain.modelfile import load_model

    return load_model(model_file).network
