"""Entry point of CountXplain Desktop (the ``cxdesktop`` gui-script).

    cxdesktop [IMAGE_OR_FOLDER ...] [--model FILE]
    cxdesktop --self-test [IMAGE] [--model FILE] [--device auto|cpu|cuda|mps]

The window appears at once: nothing here imports torch; the model loads in the worker.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import APP_NAME, ORGANISATION, __version__


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cxdesktop", description=f"{APP_NAME}: count cells and see why.")
    parser.add_argument("paths", nargs="*", help="images or folders to open at start")
    parser.add_argument("--model", help="model file (.cxm) to use instead of the default model")
    parser.add_argument("--self-test", action="store_true",
                        help="count a bundled sample image (or the given one) without a window; exit 0 if sane")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="device for --self-test (the window has its own device picker)")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    return parser.parse_args(argv)


def create_window(args: argparse.Namespace):
    """The application object and the shown main window, with ``args.paths`` queued to open."""
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from countxplain.resources import resources_dir

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("cxdesktop")  # ties the window to the installed cxdesktop.desktop entry (Wayland)
    app.setWindowIcon(QIcon(str(resources_dir() / "icons" / "cxdesktop.png")))
    from .main_window import MainWindow

    window = MainWindow(model_path=args.model)
    window.show()
    if args.paths:
        QTimer.singleShot(0, lambda: window.open_paths(args.paths))
    return app, window


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.self_test:
        from .selftest import run_self_test

        return run_self_test(args.paths, args.model, args.device)
    app, window = create_window(args)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
