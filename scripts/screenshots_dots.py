"""Screenshots of dot annotation with two counter types (a real window; run under ``xvfb-run -a``).

    xvfb-run -a python scripts/screenshots_dots.py OUT_DIR

Copies the bundled samples to a temporary folder, opens them, names a second counter type, places dots
of both types on the first image, and saves the whole window and the Dots tab as PNGs. Settings go to a
temporary file, so a user's preferences are not touched.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from screenshots import wait


def main(argv=None) -> int:
    out = Path((argv or sys.argv[1:])[0])
    out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from countxplain.resources import sample_images_dir
    from cxdesktop.main_window import MainWindow
    from cxdesktop.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="cxdesktop-dots-"))
    images = shutil.copytree(sample_images_dir(), work / "samples")
    window = MainWindow(settings=Settings(work / "settings.ini"))
    window.resize(1400, 880)
    window.show()
    wait(app, lambda: window.session.model is not None, what="the model")
    window.open_paths([images])
    store = window.session.store
    wait(app, lambda: len(store) > 0 and all(e.status in ("done", "error") for e in store.entries()), what="counts")
    first = store.paths()[0]
    window.browser.select(first)
    wait(app, lambda: window.image_view.path == first and window.annotator.entry is not None, what="the image")
    window.menu_actions["tool_annotate"].trigger()
    window.annotator.type_control.add("dividing")
    for x, y in ((40, 40), (120, 90), (200, 150)):
        window.annotator.add(x, y)
    wait(app, lambda: True)
    window.grab().save(str(out / "dots_window.png"))
    window.tabs.currentWidget().grab().save(str(out / "dots_panel.png"))
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
