"""Screenshots of every view of CountXplain Desktop (a real window; run under ``xvfb-run -a`` on a server).

    xvfb-run -a python scripts/screenshots.py OUT_DIR IMAGE [IMAGE ...] [--model FILE] [--select N]

Opens the images, waits until all are counted, selects one, and saves PNGs of: the main
window with the density overlay, a drawn box with its count, a prototype's similarity
map with its boxes, the contributions chart and the prototype gallery. Settings go to a
temporary file, so a user's preferences are not touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def wait(app, condition, timeout_s: float = 600.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)
    for _ in range(10):  # let layouts and repaints settle
        app.processEvents()
        time.sleep(0.02)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, help="model file (default: the bundled model)")
    parser.add_argument("--select", type=int, default=0, help="index of the image to review")
    parser.add_argument("--size", default="1400x880", help="window size WxH")
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.images if not path.is_file()]
    if missing:
        print(f"error: no such image file: {', '.join(missing)}", file=sys.stderr)
        return 2

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from cxdesktop.main_window import MainWindow
    from cxdesktop.settings import Settings

    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(Path(tempfile.mkdtemp(prefix="cxdesktop-shots-")) / "settings.ini")
    window = MainWindow(model_path=args.model, settings=settings)
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()
    wait(app, lambda: window.session.model is not None, what="the model")
    window.open_paths(args.images)
    store = window.session.store
    wait(app, lambda: len(store) > 0 and all(e.status in ("done", "error", "cancelled") for e in store.entries()),
         what="the counts")
    path = store.paths()[min(args.select, len(store) - 1)]
    window.browser.select(path)
    wait(app, lambda: window.image_view.path == path and window.image_view._density is not None, what="the overlay")
    entry = store[path]

    def shot(name: str) -> None:
        for _ in range(5):
            app.processEvents()
        target = args.out / name
        window.grab().save(str(target))
        print(target)

    window.tabs.setCurrentIndex(0)
    shot("01-main-density.png")

    w, h = entry.width, entry.height
    window.box_tool.add_box(w * 0.15, h * 0.2, w * 0.55, h * 0.6)
    window.box_tool.add_box(w * 0.6, h * 0.55, w * 0.9, h * 0.9)
    shot("02-boxes.png")

    window.tabs.setCurrentWidget(window.prototypes)
    window.prototypes.choose(0)
    wait(app, lambda: window.image_view.prototype == 0, what="the prototype overlay")
    shot("03-prototype-cell.png")
    background = window.session.model.k_cell
    window.prototypes.choose(background)
    wait(app, lambda: window.image_view.prototype == background, what="the background prototype overlay")
    shot("04-prototype-background.png")
    window.prototypes.choose(-1)

    window.tabs.setCurrentWidget(window.contributions)
    shot("05-contributions.png")
    window.tabs.setCurrentWidget(window.gallery)
    shot("06-gallery.png")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
