"""Prints the native stack of every thread of a pytest run whose current test has hung.

Started by conftest.py beside the test process: ``python hang_watchdog.py PID HEARTBEAT LIMIT_S``.
conftest rewrites the HEARTBEAT file (the test's id) as each test starts. Once it is older than
LIMIT_S, the watchdog prints the test's id and a short ``gdb`` backtrace of each thread (what
a deadlock holding the GIL looks like from C), once, to its stderr, the run's real stderr.
pytest's ``faulthandler_timeout`` then prints the Python stacks and ends the run. The watchdog
exits with the test process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

POLL_S = 5.0
FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(.*?\)(?: (?:at|from) (\S+))?")
THREAD = re.compile(r'^Thread (\d+) .*?(?:"([^"]*)")?\)?:?$')
INTERPRETER = ("_PyEval_", "_PyObject_", "PyObject_", "_PyFunction_", "cfunction_", "method_vectorcall",
               "do_call_core", "_Py_", "slot_tp_")  # CPython's own frames between two calls


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # an exited process its parent has not yet reaped is a zombie: gone all the same
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def native_stacks(pid: int) -> str:
    """One line per frame, ``function  (file)``, of each thread's top 16 frames less CPython's own."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return "(gdb is not installed: no native stacks)"
    try:
        out = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt 16"],
                             capture_output=True, text=True, timeout=180).stdout
    except subprocess.TimeoutExpired:
        return "(gdb did not answer within 180 s)"
    lines = []
    for line in out.splitlines():
        thread = THREAD.match(line)
        if thread:
            lines.append(f"thread {thread.group(1)} {thread.group(2) or ''}:")
            continue
        match = FRAME.match(line)
        if match and not match.group(1).startswith(INTERPRETER):
            function, where = match.groups()
            lines.append(f"  {function}  ({os.path.basename(where) if where else '?'})")
    return "\n".join(lines)


def main(pid: int, heartbeat: str, limit_s: float) -> int:
    reported = None
    while alive(pid):
        time.sleep(POLL_S)
        try:
            stamp = os.stat(heartbeat).st_mtime
            with open(heartbeat, encoding="utf-8") as file:
                test = file.read().strip()
        except OSError:
            continue
        if time.time() - stamp > limit_s and reported != (test, stamp):
            reported = (test, stamp)
            print(f"\n=== hang watchdog: {test} has run for {time.time() - stamp:.0f} s; native stacks ===\n"
                  f"{native_stacks(pid)}\n=== end of native stacks ===", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3])))
