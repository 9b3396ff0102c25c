"""The GUI thread's longest stall while the real default model counts a batch of 50 images.

A QTimer ticks every 5 ms on the GUI thread; the longest gap between ticks while the batch
is counted (from the drop to the last count) is the stall a user would feel. Also records
the time from creating the window to showing it. Target: longest stall < 100 ms.

Usage: python benchmarks/gui_stall.py [--n 50]   (runs offscreen; writes benchmarks/results/gui_stall.json)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "vgg")
    args = parser.parse_args(argv)
    images = sorted(str(p) for p in args.data.glob("*cell.png"))[: args.n]
    start = time.perf_counter()
    from PySide6.QtCore import QTimer

    from cxdesktop.app import create_window, parse_args

    app, window = create_window(parse_args([]))
    shown = time.perf_counter() - start
    loaded = []
    window.session.sigModelLoaded.connect(lambda info: loaded.append(time.perf_counter() - start))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    deadline = time.perf_counter() + 300
    while not loaded and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)
    timer.start()
    t0 = time.perf_counter()
    window.open_paths(images)
    store = window.session.store
    while time.perf_counter() - t0 < 1800:
        app.processEvents()
        done = [e for e in store.entries() if e.status in ("done", "error", "cancelled")]
        if len(done) >= len(images):
            break
        time.sleep(0.001)
    elapsed = time.perf_counter() - t0
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    result = {"images": len(images), "window_shown_s": round(shown, 3),
              "model_loaded_s": round(loaded[0], 2) if loaded else None, "batch_seconds": round(elapsed, 2),
              "longest_gui_stall_ms": round(1000 * max(gaps), 1) if gaps else None,
              "p99_tick_gap_ms": round(1000 * sorted(gaps)[int(0.99 * (len(gaps) - 1))], 1) if gaps else None,
              "counted": sum(e.status == "done" for e in store.entries())}
    out = ROOT / "benchmarks" / "results" / "gui_stall.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
