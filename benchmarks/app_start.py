"""Time CountXplain Desktop from launch to a visible window and to the first count.

Runs the real entry point (``cxdesktop.app.main``) with one image to open, in this
process, with three hooks that only record times: ``MainWindow.show`` (the window is
shown; "visible" is the first turn of the event loop after it, when the show and expose
events have been handled), the session's model-loaded signal, and its analysis-ready
signal for the image (the count with its maps is stored and drawn). Then the app quits.

Meant to be launched as a fresh process (``benchmarks/perf.py`` does, with
``QT_QPA_PLATFORM=offscreen`` and an empty settings folder); it prints one JSON line
with wall-clock (``time.time()``) stamps, so the parent can measure from the moment it
started the process.

Usage: python benchmarks/app_start.py IMAGE [--model FILE] [--timeout 120]
"""

import time

T_SCRIPT = time.time()  # before any import of ours: interpreter start-up is the parent's to see

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--model", default=None)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    stamps = {"script": T_SCRIPT}
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import cxdesktop.app as app_module  # what `cxdesktop` runs first (no Qt, no torch)

    stamps["app_module_imported"] = time.time()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import cxdesktop.main_window as main_window_module

    stamps["gui_modules_imported"] = time.time()
    window_class = main_window_module.MainWindow
    original_show = window_class.show
    image = os.path.abspath(args.image)
    state = {"window": None, "count": None, "error": None}

    def finish() -> None:
        window = state["window"]
        if window is not None:
            window.close()  # what the user does: stops the worker thread, then the event loop ends
        QApplication.instance().quit()

    def analysis_ready(path: str) -> None:
        if "first_count" in stamps or os.path.abspath(path) != image:
            return
        stamps["first_count"] = time.time()
        entry = state["window"].session.store[path]
        state["count"] = float(entry.count)
        QTimer.singleShot(0, finish)

    def model_failed(message: str, user: bool) -> None:
        state["error"] = f"model failed: {message}"
        QTimer.singleShot(0, finish)

    def job_failed(title: str, message: str) -> None:
        state["error"] = f"{title}: {message}"
        QTimer.singleShot(0, finish)

    def visible(window) -> None:
        stamps["visible"] = time.time()
        stamps["is_visible"] = bool(window.isVisible())

    def show(self) -> None:
        stamps["window_constructed"] = time.time()
        original_show(self)
        stamps["show_returned"] = time.time()
        state["window"] = self
        self.session.sigAnalysisReady.connect(analysis_ready)
        self.session.sigModelLoaded.connect(lambda info: stamps.setdefault("model_loaded", time.time()))
        self.session.sigModelFailed.connect(model_failed)
        self.session.sigJobFailed.connect(job_failed)
        QTimer.singleShot(0, lambda: visible(self))
        QTimer.singleShot(int(args.timeout * 1000), lambda: (state.update(error="timed out"), finish()))

    window_class.show = show
    argv = [image] + (["--model", args.model] if args.model else [])
    stamps["main_called"] = time.time()
    code = app_module.main(argv)
    stamps["exited_event_loop"] = time.time()
    print(json.dumps({"stamps": stamps, "count": state["count"], "error": state["error"], "exit_code": code}),
          flush=True)
    os._exit(0)  # the worker thread may still hold the model; nothing else is left to do


if __name__ == "__main__":
    sys.exit(main())
