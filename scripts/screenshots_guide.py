"""Screenshots for the user guide (Help › User guide), one per main task, taken from a real window on the
bundled dsb2018 samples (run under ``xvfb-run -a -s "-screen 0 1400x900x24"`` on a server).

    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/screenshots_guide.py cxdesktop/resources/guide

The samples are copied (with their dot files) to a temporary folder first, so nothing is written
into the install folder; settings go there too. Each PNG is downscaled and reduced to a palette
so that it stays small.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from screenshots import wait

REPO = Path(__file__).resolve().parents[1]
MAX_WIDTH = 960
SAMPLE = "dsb2018-fluo-693bc645.png"  # the one reviewed; nuclei about 15 px across


def small_png(image, target: Path, max_width: int = MAX_WIDTH, colours: int = 256) -> None:
    """Save a PIL image downscaled to ``max_width`` and reduced to ``colours`` colours."""
    from PIL import Image

    image = image.convert("RGB")
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)), Image.Resampling.LANCZOS)
    image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(target, optimize=True)
    print(f"{target} ({target.stat().st_size // 1024} KB)")


def copy_samples(work: Path) -> Path:
    from countxplain.datasets import sidecar_path
    from countxplain.resources import sample_images

    folder = work / "samples"
    folder.mkdir()
    for image in sample_images():
        shutil.copy2(image, folder / image.name)
        if sidecar_path(image).exists():
            shutil.copy2(sidecar_path(image), sidecar_path(folder / image.name))
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, help="model file (default: the bundled model)")
    parser.add_argument("--size", default="1280x800", help="main window size WxH")
    args = parser.parse_args(argv)

    from PIL import Image
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from cxdesktop.main_window import MainWindow
    from cxdesktop.settings import Settings
    from cxdesktop.views.tool_viewbox import ANNOTATE, MEASURE, PAN

    work = Path(tempfile.mkdtemp(prefix="cxdesktop-guide-"))
    samples = copy_samples(work)
    args.out.mkdir(parents=True, exist_ok=True)
    window = MainWindow(model_path=args.model, settings=Settings(work / "settings.ini"))
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()
    store = window.session.store

    def shot(widget, name: str) -> None:
        wait(app, lambda: True)
        pixmap = widget.grab()
        temporary = work / name
        pixmap.save(str(temporary))
        small_png(Image.open(temporary), args.out / name)

    wait(app, lambda: window.session.model is not None, what="the model")
    shot(window, "open.png")

    window.open_paths([samples])
    wait(app, lambda: len(store) == 3 and all(e.status in ("done", "error", "cancelled") for e in store.entries()),
         what="the counts")
    path = str(samples / SAMPLE)
    window.browser.select(path)
    wait(app, lambda: window.image_view.path == path and window.image_view._density is not None, what="the overlay")
    window.tabs.setCurrentIndex(0)
    shot(window, "count.png")

    entry = store[path]
    window.set_tool(MEASURE)
    x, y = 153.6, 99.4  # a nucleus of the sample (one of its dots)
    window.measure_tool.measure(QPointF(x - 8, y), QPointF(x + 8, y))
    wait(app, lambda: entry.analysis is not None and entry.analysis.cell_diameter_px == 16.0, what="the new count")
    window.box_tool.add_box(20, 20, 130, 120)
    shot(window, "measure.png")
    window.set_tool(PAN)

    window.box_tool.remove_all()
    window.measure_tool.clear()
    window.set_tool(ANNOTATE)
    window.image_view.overlay.visible.setChecked(False)  # the dots on the image alone
    wait(app, lambda: entry.dots is not None and len(entry.dots) > 0, what="the sample's dots")
    shot(window, "annotate.png")
    window.image_view.overlay.visible.setChecked(True)
    window.set_tool(PAN)

    window.tabs.setCurrentWidget(window.prototypes)
    window.prototypes.choose(0)
    wait(app, lambda: window.image_view.prototype == 0, what="the prototype overlay")
    shot(window, "prototypes.png")
    window.prototypes.choose(-1)
    window.tabs.setCurrentWidget(window.contributions)
    shot(window, "contributions.png")

    written = []
    window.session.sigExplanationDone.connect(lambda png, js: written.append(png))
    window.session.write_explanation(path, str(work / "explanation"))
    wait(app, lambda: bool(written), what="the explanation figure")
    small_png(Image.open(written[0]), args.out / "export.png", max_width=860, colours=96)

    dialog = window.show_training()
    dialog.resize(1180, 760)
    shot(dialog, "train.png")
    dialog.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
