"""Paths, section names, input sizes and repeats, and the targets the report checks."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("COUNTXPLAIN_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results" / "perf.json"
REPORT = ROOT / "benchmarks" / "PERF.md"
SCRIPT = ROOT / "benchmarks" / "perf.py"  # the entry point; its ``--worker`` mode runs in subprocesses
SECTIONS = ("matmul", "inference", "accuracy", "training", "app", "memory")
SIZES = (256, 600, 1024, 2048)
REPEATS = {256: 5, 600: 3, 1024: 3, 2048: 2}
TARGETS = {
    "fp32_efficiency_1024": 0.80,  # of measured fp32 matmul FLOP/s
    "bf16_speedup": 1.5,
    "bf16_count_change": 0.005,
    "training_speedup": 20.0,
    "window_visible_s": 1.0,
    "first_count_s": 4.0,
    "peak_8192_gb": 3.0,
}
