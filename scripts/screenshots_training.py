"""Screenshots of dot annotation and of training in CountXplain Desktop (run under ``xvfb-run -a`` on a server).

    xvfb-run -a python scripts/screenshots_training.py OUT_DIR [--model FILE] [--samples DIR]

Copies the sample images with their ``.dots.csv`` sidecars to a temporary folder (the app
writes sidecars there, never into ``--samples``), drops the sidecar of the first one, and
saves PNGs of: the annotate mode with dots proposed from the model and corrected by
hand, an image whose saved dots were restored, the training window during a short run
(live curves, time left) and after it (per-image errors, the new gallery). Settings and
checkpoints go to temporary folders.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from screenshots import wait

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, help="model file (default: the bundled model)")
    parser.add_argument("--samples", type=Path, default=REPO / "resources" / "samples")
    parser.add_argument("--size", default="1400x880", help="main window size WxH")
    parser.add_argument("--diameter", type=float, default=40.0, help="cell diameter (px) of the first sample")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from countxplain.datasets import sidecar_path
    from cxdesktop.main_window import MainWindow
    from cxdesktop.settings import Settings
    from cxdesktop.training_control import CANCELLED, DONE, FAILED

    work = Path(tempfile.mkdtemp(prefix="cxdesktop-shots-"))
    images = []
    for image in sorted(args.samples.glob("*.png")):
        if sidecar_path(image).exists():
            images.append(Path(shutil.copy2(image, work / image.name)))
            shutil.copy2(sidecar_path(image), sidecar_path(work / image.name))
    sidecar_path(images[0]).unlink()  # this one is annotated in the app, starting from the model's proposal

    args.out.mkdir(parents=True, exist_ok=True)
    window = MainWindow(model_path=args.model, settings=Settings(work / "settings.ini"))
    window.training.checkpoint_dir = work / "checkpoints"
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()
    wait(app, lambda: window.session.model is not None, what="the model")
    window.open_paths(images)
    store = window.session.store
    wait(app, lambda: all(str(p) in store and store[str(p)].status in ("done", "error", "cancelled") for p in images),
         what="the counts")

    def shot(widget, name: str) -> None:
        for _ in range(10):
            app.processEvents()
        target = args.out / name
        widget.grab().save(str(target))
        print(target)

    # annotate: propose from the model, then correct by hand
    first = str(images[0])
    window.browser.select(first)
    wait(app, lambda: window.image_view.path == first and window.image_view._density is not None, what="the overlay")
    window.cell_size.set_from_measure(args.diameter)  # as if measured with the Measure tool
    wait(app, lambda: store[first].analysis is not None and store[first].analysis.cell_diameter_px == args.diameter,
         what="the count at the measured cell size")
    window.set_tool("annotate")
    window.annotator.propose()
    entry = store[first]
    wait(app, lambda: entry.dots is not None and len(entry.dots) == round(entry.count), what="the proposed dots")
    dots = entry.dots.dots
    for x, y in dots[:2]:
        window.annotator.remove(x, y)
    window.annotator.add(entry.width * 0.5, entry.height * 0.5)
    shot(window, "07-annotate-proposed.png")
    window.image_view.overlay.visible.setChecked(False)
    shot(window, "08-annotate-no-overlay.png")
    window.image_view.overlay.visible.setChecked(True)

    # an image whose dots were saved beside it: restored when it is opened
    second = str(images[1])
    window.browser.select(second)
    wait(app, lambda: window.image_view.path == second and window.annotator.entry is store[second], what="image 2")
    shot(window, "09-annotate-restored.png")
    window.set_tool("pan")

    # training: a short run on the three annotated images, fine-tuning the current model
    dialog = window.show_training()
    panel = dialog.panel
    wait(app, lambda: not panel.setup.image_list.pending, what="the image check")
    from countxplain.training import TrainingConfig

    info = window.session.model
    panel.setup.set_base_config(TrainingConfig(
        k_cell=info.k_cell, k_bg=info.k_bg, prototype_dim=int(info.config.get("prototype_dim", 64)),
        cell_diameter_px=info.cell_diameter_px, stage1_epochs=3, stage2_epochs=12, projection_every=4, crop_cells=16,
        n_views=2, train_backend_layers=1, stage1_batch=4, stage2_batch=4))
    panel.setup.val_share.setValue(34)
    seen = []
    window.training.sigProgress.connect(lambda p: seen.append((p.stage, p.epoch)))
    panel.start()  # checks the images once more, then trains
    wait(app, lambda: ("stage2", 5) in seen or window.training.state in (DONE, FAILED, CANCELLED),
         what="stage 2 under way")
    shot(dialog, "10-training-running.png")
    wait(app, lambda: window.training.state in (DONE, FAILED, CANCELLED), what="the end of training")
    panel.tabs.setCurrentWidget(panel.curves)
    shot(dialog, "11-training-curves.png")
    panel.tabs.setCurrentWidget(panel.results)
    shot(dialog, "12-training-results.png")
    dialog.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
