"""Shared fixtures. Qt runs offscreen; data comes from ../shared/data beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("COUNTXPLAIN_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA_ROOT.is_dir():
        pytest.fail(f"shared data not found at {DATA_ROOT} (set COUNTXPLAIN_DATA)")
    return DATA_ROOT


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """A full-size CountXplain network with seeded random head weights and a small gallery,
    saved through the real model-file writer (used where a trained model is not needed)."""
    import torch

    from countxplain.modelfile import Gallery, ModelBundle, save_model
    from countxplain.network import CountXplain, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(k_cell=2, k_bg=2, prototype_dim=16)
    network = CountXplain(config)
    with torch.no_grad():
        network.head.density_layer.weight.fill_(0.002)
        network.head.density_layer.bias.zero_()
    gallery = Gallery(torch.randint(0, 255, (4, 3, 48, 48, 3), dtype=torch.uint8), torch.rand(4, 3),
                      [["a.png@1,1"] * 3 for _ in range(4)])
    bundle = ModelBundle(network, {"cell_diameter_px": 10.0}, {"name": "tiny test model"}, gallery)
    return save_model(bundle, tmp_path_factory.mktemp("models") / "tiny.cxm")


@pytest.fixture(scope="session")
def shipped_model_path() -> Path:
    from countxplain.resources import default_model_path

    path = default_model_path()
    if not path.exists():
        pytest.fail(f"the shipped default model is missing at {path}")
    return path


@pytest.fixture
def rgb_image(tmp_path) -> Path:
    """A small real PNG with bright round blobs on a dark background."""
    from PIL import Image

    yy, xx = np.mgrid[0:96, 0:128]
    image = np.zeros((96, 128), dtype=np.float32)
    for cy, cx in [(20, 20), (50, 70), (70, 100), (30, 90)]:
        image += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)
    rgb = (np.stack([image * 0.2, image, image * 0.4], axis=2).clip(0, 1) * 255).astype(np.uint8)
    path = tmp_path / "blobs.png"
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture
def one_torch_thread():
    """Run torch on one thread (the suite shares two cores with the app's worker)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


HANG_REPORT_AFTER_S = 840  # before pyproject's faulthandler_timeout (900 s) ends the run


def pytest_configure(config):
    """Start the hang watchdog (tests/hang_watchdog.py) on the run's real stderr."""
    import subprocess
    import sys
    import tempfile

    heartbeat = Path(tempfile.mkdtemp(prefix="cx-heartbeat-")) / "current-test"
    heartbeat.write_text("(collecting)")
    config.cx_heartbeat = heartbeat
    stderr = os.dup(sys.stderr.fileno())
    config.cx_watchdog = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("hang_watchdog.py")), str(os.getpid()), str(heartbeat),
         str(HANG_REPORT_AFTER_S)], stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, pass_fds=[stderr])
    os.close(stderr)


def pytest_runtest_protocol(item, nextitem):
    item.config.cx_heartbeat.write_text(item.nodeid)  # returns None: pytest runs the test as usual


def pytest_unconfigure(config):
    import shutil

    watchdog = getattr(config, "cx_watchdog", None)
    if watchdog is not None:
        watchdog.terminate()
        watchdog.wait(10)
        shutil.rmtree(config.cx_heartbeat.parent, ignore_errors=True)
