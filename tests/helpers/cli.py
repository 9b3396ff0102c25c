"""Helpers of the command-line tests: running it in a subprocess, reading its output, small images."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image


def run_cli(*args, env_extra=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "countxplain.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def cli_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def small_png(path, seed=0, size=(40, 56)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)).save(path)
    return path


def one_error_line(err):
    lines = cli_lines(err)
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]
