"""The app section: ``benchmarks/app_start.py`` in fresh processes, launch to window and to first count."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .config import ROOT
from .fixtures import real_pixels


def section_app(args, model_file: Path) -> dict:
    from PIL import Image

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "cells256.png"
        Image.fromarray((real_pixels(256) * 255).round().astype(np.uint8)).save(image)
        for i in range(1 if args.quick else args.app_runs):
            config = Path(tmp) / f"config{i}"
            config.mkdir()
            env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(config))
            env.pop("COUNTXPLAIN_MODEL", None)
            command = [sys.executable, str(ROOT / "benchmarks" / "app_start.py"), str(image), "--model",
                       str(model_file)]
            launched = time.time()
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
            line = next((out for out in done.stdout.splitlines() if out.startswith("{")), None)
            if line is None:
                runs.append({"error": f"exit {done.returncode}: {done.stderr.strip()[-500:]}"})
                continue
            payload = json.loads(line)
            stamps = {k: v - launched for k, v in payload["stamps"].items() if isinstance(v, float)}
            runs.append({"since_launch_s": stamps, "count": payload["count"], "error": payload["error"]})
            print(f"  run {i + 1}: visible {stamps.get('visible', float('nan')):.2f} s, first count "
                  f"{stamps.get('first_count', float('nan')):.2f} s (model loaded "
                  f"{stamps.get('model_loaded', float('nan')):.2f} s)",
                  flush=True)
    good = [r for r in runs if not r.get("error") and "first_count" in r["since_launch_s"]]
    summary = {"runs": runs, "image": "256×256 PNG (vgg 001)", "model": str(model_file)}
    if good:
        for key in ("visible", "model_loaded", "first_count", "gui_modules_imported", "script"):
            values = [r["since_launch_s"][key] for r in good if key in r["since_launch_s"]]
            if values:
                summary[f"{key}_median_s"] = statistics.median(values)
    return summary
