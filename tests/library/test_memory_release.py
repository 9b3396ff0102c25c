"""Counting gives each image's freed memory back to the system (glibc keeps it otherwise)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from countxplain import inference
from countxplain.memory import release_freed_memory
from countxplain.modelfile import load_model


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_the_c_library_is_asked_to_return_its_free_pages():
    assert release_freed_memory() is True


def test_every_count_releases_the_memory_it_freed(tiny_model_file, monkeypatch):
    tiny_model = load_model(tiny_model_file)
    calls = []
    monkeypatch.setattr(inference, "release_freed_memory", lambda: calls.append(1) or True)
    counter = inference.Counter(tiny_model, device="cpu")
    counter.count(np.random.default_rng(0).random((64, 80, 3), dtype=np.float32))
    counter.count(np.random.default_rng(1).random((40, 40, 3), dtype=np.float32))
    assert len(calls) == 2
