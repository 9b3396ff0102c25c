"""The prepared accelerator check runs end to end (here on the CPU, as on a GPU machine with --device cuda)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import REPO_ROOT


@pytest.mark.slow
def test_the_gpu_check_runs_on_the_cpu_and_records_every_step(tmp_path):
    out = tmp_path / "gpu_check.json"
    result = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu",
                             "--sizes", "64", "--out", str(out)], capture_output=True, text=True, timeout=1200,
                            env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    row = json.loads(out.read_text())["cpu"]
    assert all(row[step]["passed"] for step in ("devices", "agreement", "speed", "fine_tune"))
    assert row["agreement"]["by_precision"]["fp32"]["worst_relative_difference"] == 0.0
    assert row["fine_tune"]["images"] >= 2 and len(row["fine_tune"]["counts"]) == row["fine_tune"]["images"]
