"""A screenshot of View › Batch summary on the bundled samples split into two folders (run under
``xvfb-run -a -s "-screen 0 1400x900x24"`` on a server).

    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/screenshots_batch.py /tmp/batch.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from screenshots import wait


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, help="model file (default: the bundled model)")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from countxplain.resources import sample_images
    from cxdesktop.main_window import MainWindow
    from cxdesktop.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="cxdesktop-batch-"))
    folders = [work / "control", work / "treated"]
    for folder in folders:
        folder.mkdir()
    for i, image in enumerate(sorted(sample_images())):
        shutil.copy2(image, folders[0 if i < 2 else 1] / image.name)
    window = MainWindow(model_path=args.model, settings=Settings(work / "settings.ini"))
    window.resize(1280, 800)
    window.show()
    store = window.session.store
    wait(app, lambda: window.session.model is not None, what="the model")
    window.open_paths([str(f) for f in folders])
    wait(app, lambda: len(store) == 3 and all(e.status in ("done", "error", "cancelled") for e in store.entries()),
         what="the counts")
    window.menu_actions["batch_summary"].trigger()
    batch = window.batch_window
    wait(app, lambda: batch.view.line.text().startswith("3 images"), what="the batch view")
    batch.view.export_csv(work / "batch.csv")  # the 'Written:' line shows too
    wait(app, lambda: True)
    batch.grab().save(str(args.out))
    print(args.out, (work / "batch.csv").read_text(), sep="\n")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
