"""The hang watchdog names the hung test and prints the native stack of every thread, even
when the hung thread holds the GIL (where Python-level timeouts cannot run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

WATCHDOG = Path(__file__).with_name("hang_watchdog.py")


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed (tests/install-system-packages.sh)")
def test_a_process_stuck_holding_the_gil_gets_its_native_stacks_printed(tmp_path):
    stuck = subprocess.Popen([sys.executable, "-c", "import ctypes; ctypes.PyDLL(None).sleep(120)"])
    heartbeat = tmp_path / "current-test"
    heartbeat.write_text("tests/test_example.py::test_that_hangs")
    os.utime(heartbeat, (time.time() - 60, time.time() - 60))
    watchdog = subprocess.Popen([sys.executable, str(WATCHDOG), str(stuck.pid), str(heartbeat), "30"],
                                stderr=subprocess.PIPE, text=True)
    try:
        output = []
        for line in watchdog.stderr:
            output.append(line)
            if "end of native stacks" in line:
                break
    finally:
        stuck.kill()
        stuck.wait()
    assert watchdog.wait(60) == 0  # it ends with the process it watches
    text = "".join(output)
    assert "test_example.py::test_that_hangs has run for" in text
    assert "sleep" in text and "PyCFuncPtr_call" in text  # the C call the main thread is stuck in
    assert "_PyEval_EvalFrameDefault" not in text  # CPython's own frames are left out


def test_a_watchdog_whose_test_moves_on_stays_silent(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(12)"])
    heartbeat = tmp_path / "current-test"
    heartbeat.write_text("tests/test_example.py::test_quick")
    watchdog = subprocess.run([sys.executable, str(WATCHDOG), str(sleeper.pid), str(heartbeat), "30"],
                              capture_output=True, text=True, timeout=120)
    sleeper.wait()
    assert watchdog.returncode == 0 and watchdog.stderr == ""
