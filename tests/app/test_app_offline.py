"""The app never touches the network, starts without importing torch, and self-tests headless."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from helpers import REPO_ROOT
from helpers.app import drop_paths, wait_counted


def test_counting_works_with_every_socket_refused(qtbot, monkeypatch, tiny_model_file, app_settings, rgb_image):
    attempts = []

    def refuse(self, *args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted during the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, *a))
    from cxdesktop.main_window import MainWindow

    window = MainWindow(model_path=tiny_model_file, settings=app_settings)
    qtbot.addWidget(window)
    window.show()
    drop_paths(window, [rgb_image])
    wait_counted(qtbot, window, [rgb_image])
    entry = window.session.store[str(rgb_image)]
    assert entry.status == "done" and entry.count > 0
    window.show_about()
    window.show_model_card()
    window.close()
    assert attempts == []


def _run(args, **env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env})


def test_the_gui_import_path_does_not_import_torch():
    code = ("import sys, cxdesktop.app, cxdesktop.main_window; "
            "heavy = [m for m in ('torch', 'countxplain.inference', 'countxplain.modelfile') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    done = _run(["-c", code])
    assert done.returncode == 0, done.stdout + done.stderr


def test_self_test_counts_an_image_headless(tiny_model_file, rgb_image):
    done = _run(["-m", "cxdesktop.app", "--self-test", str(rgb_image), "--model", str(tiny_model_file),
                 "--device", "cpu"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test OK" in done.stdout and "cells" in done.stdout


def test_self_test_fails_on_an_unreadable_image(tiny_model_file, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("text")
    done = _run(["-m", "cxdesktop.app", "--self-test", str(bad), "--model", str(tiny_model_file)])
    assert done.returncode == 1 and "self-test FAILED" in done.stdout


def test_self_test_uses_the_bundled_samples_by_default(tiny_model_file):
    from countxplain.resources import sample_images

    if not sample_images():
        pytest.skip("resources/samples has no images yet")
    done = _run(["-m", "cxdesktop.app", "--self-test"], COUNTXPLAIN_MODEL=str(tiny_model_file))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_window_opens_the_paths_given_on_the_command_line(qtbot, monkeypatch, tmp_path, tiny_model_file,
                                                               rgb_image):
    import cxdesktop.app
    from cxdesktop.settings import Settings

    monkeypatch.setattr("cxdesktop.main_window.Settings", lambda: Settings(tmp_path / "settings.ini"))
    args = cxdesktop.app.parse_args([str(rgb_image), "--model", str(tiny_model_file)])
    _app, window = cxdesktop.app.create_window(args)
    qtbot.addWidget(window)
    assert window.isVisible()
    wait_counted(qtbot, window, [rgb_image])
    entry = window.session.store[str(rgb_image)]
    assert entry.status == "done" and entry.count > 0
    window.close()
