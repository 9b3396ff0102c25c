"""The PyInstaller bundle: build it with build_spec/build.sh, then self-test it headless and open its window.

dist/cxdesktop is reused when its executable is newer than every file it is built from (set
CXDESKTOP_REBUILD=1 to force a build); a fresh clone (CI) always builds, which takes about 3
minutes on 2 cores (build_spec/README.md). Any failure here fails the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO_ROOT

BUNDLE = REPO_ROOT / "dist" / "cxdesktop"
EXE = BUNDLE / ("cxdesktop.exe" if sys.platform == "win32" else "cxdesktop")
INTERNAL = BUNDLE / "_internal"
SOURCES = ["cxdesktop", "model/countxplain", "resources", "build_spec/cxdesktop.spec", "build_spec/build.sh",
           "build_spec/launch_cxdesktop.py", "pyproject.toml"]
BUILD_TIMEOUT_S = 45 * 60

pytestmark = pytest.mark.slow


def newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        path = REPO_ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if "__pycache__" not in file.parts and file.suffix != ".pyc":
                newest = max(newest, file.stat().st_mtime)
    return newest


def bundle_is_fresh() -> bool:
    return (not os.environ.get("CXDESKTOP_REBUILD") and EXE.is_file()
            and EXE.stat().st_mtime > newest_source_mtime())


@pytest.fixture(scope="module")
def bundle() -> Path:
    if bundle_is_fresh():
        print(f"reusing {BUNDLE} (newer than every source file)")
        return BUNDLE
    bash = shutil.which("bash")
    if bash is None:
        pytest.fail("bash is needed to run build_spec/build.sh")
    start = time.perf_counter()
    try:
        done = subprocess.run([bash, "build_spec/build.sh", "--no-self-test"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=BUILD_TIMEOUT_S, env={**os.environ, "PYTHON": sys.executable})
    except subprocess.TimeoutExpired:
        pytest.fail(f"build_spec/build.sh ran over {BUILD_TIMEOUT_S} s")
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, f"build failed after {elapsed:.0f} s:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
    print(f"built {BUNDLE} in {elapsed:.0f} s")
    assert EXE.is_file()
    return BUNDLE


def test_the_bundle_ships_the_model_samples_and_icons_and_is_trimmed(bundle):
    resources = INTERNAL / "resources"
    assert (resources / "models" / "default.cxm").stat().st_size > 1_000_000
    assert (resources / "models" / "MODEL_CARD.md").is_file()
    assert (resources / "models" / "cell-size-error.json").is_file()
    assert list((resources / "samples").glob("*.png")) and list((resources / "samples").glob("*.dots.csv"))
    assert (resources / "icons" / "cxdesktop.png").is_file()
    assert (INTERNAL / "torch" / "__init__.py").is_file(), "torch's .py sources must stay (the frozen app needs them)"
    for dropped in ("triton", "torchvision", "torch/include", "torch/test", "PySide6/Qt/translations",
                    "PySide6/translations"):
        assert not (INTERNAL / dropped).exists(), f"{dropped} should have been left out of the bundle"
    assert not [p for p in INTERNAL.rglob("*.a")], "static libraries should have been left out"
    assert not [p for p in INTERNAL.rglob("*WebEngine*")]


def test_the_frozen_app_self_tests_headless(bundle):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("COUNTXPLAIN_MODEL", None)  # the bundled default model, strict check against the sample's annotation
    done = subprocess.run([str(EXE), "--self-test"], capture_output=True, text=True, env=env, timeout=600)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test OK" in done.stdout and "annotated" in done.stdout


def test_the_frozen_self_test_fails_on_an_unreadable_image(bundle, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    done = subprocess.run([str(EXE), "--self-test", str(bad)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 1 and "self-test FAILED" in done.stdout, done.stdout + done.stderr


@pytest.mark.skipif(not (sys.platform.startswith("linux") and shutil.which("Xvfb") and shutil.which("xwininfo")),
                    reason="needs Xvfb and xwininfo (Linux)")
def test_the_frozen_app_shows_its_window_under_xvfb(bundle):
    done = subprocess.run([sys.executable, str(REPO_ROOT / "build_spec" / "measure_start.py"), "--bundle",
                           str(bundle), "--runs", "1"], capture_output=True, text=True, timeout=300)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "window shown after" in done.stdout


@pytest.mark.skipif(not (sys.platform.startswith("linux") and shutil.which("Xvfb") and shutil.which("xwininfo")),
                    reason="needs Xvfb and xwininfo (Linux)")
def test_the_start_measurement_display_accepts_clients_while_another_comes_and_goes(tmp_path):
    """An X server resets when its last client leaves and refuses whoever connects meanwhile; the
    window poll's xwininfo leaves every 20 ms while the app connects, so the display must not reset."""
    import threading

    sys.path.insert(0, str(REPO_ROOT / "build_spec"))
    try:
        import measure_start
    finally:
        sys.path.pop(0)
    xvfb, display = measure_start.start_xvfb(tmp_path)
    assert xvfb is not None, display
    failures = []

    def connect(times: int) -> None:
        for _ in range(times):
            done = subprocess.run(["xwininfo", "-display", display, "-root"], capture_output=True)
            failures.append(done.returncode != 0)

    try:
        other = threading.Thread(target=connect, args=(150,))
        other.start()
        connect(150)
        other.join()
    finally:
        xvfb.terminate()
        xvfb.wait()
    assert len(failures) == 300 and sum(failures) == 0, f"{sum(failures)} of 300 connections refused"
