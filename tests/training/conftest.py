"""Fixtures of the training tests."""

from __future__ import annotations

import pytest
import torch

from helpers.training import blob_image


@pytest.fixture(scope="module")
def images():
    torch.set_num_threads(1)
    return [blob_image(i) for i in range(4)], [blob_image(10 + i) for i in range(2)]
