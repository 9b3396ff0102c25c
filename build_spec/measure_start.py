"""Time how long the frozen app takes to show its window, and screenshot it (Linux, Xvfb).

    python build_spec/measure_start.py [--bundle dist/cxdesktop] [--runs 3] [--screenshot out.png] [--wait 20]

Starts its own Xvfb (with -fbdir, so the screen can be read back without xwd/ImageMagick), launches
the bundle's executable with a throwaway HOME, and polls ``xwininfo`` until a window named
"CountXplain Desktop" is mapped (IsViewable). Prints one line per run and the median. With
--screenshot, the last run is left open --wait seconds (the model loads and the sample counts)
and the screen is saved as PNG.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TITLE = "CountXplain Desktop"


def window_viewable(display: str) -> bool:
    done = subprocess.run(["xwininfo", "-display", display, "-name", TITLE], capture_output=True, text=True)
    return done.returncode == 0 and "IsViewable" in done.stdout


def read_xwd(path: Path):
    """The Xvfb framebuffer file (XWD, ZPixmap, 32 bits per pixel) as a PIL image."""
    from PIL import Image

    data = path.read_bytes()
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height = fields[0], fields[4], fields[5]
    byte_order, bits_per_pixel, bytes_per_line, ncolors = fields[7], fields[11], fields[12], fields[19]
    if bits_per_pixel != 32:
        raise ValueError(f"{path}: {bits_per_pixel} bits per pixel (expected 32)")
    start = header_size + 12 * ncolors
    raw = data[start:start + bytes_per_line * height]
    mode = "BGRX" if byte_order == 0 else "XRGB"
    return Image.frombuffer("RGB", (width, height), raw, "raw", mode, bytes_per_line, 1)


def start_xvfb(tmp: Path, attempts: int = 3):
    """An Xvfb on a free display that answers ``xwininfo -root``: (process, ":N"), or (None, why).

    A server that announced its display but does not answer within 10 s is stopped and another
    one started: the app must never be the first client of a server that is not up."""
    why = "no attempt"
    for _ in range(attempts):
        read_fd, write_fd = os.pipe()  # Xvfb picks a free display and writes its number here
        # -noreset: by default the server resets whenever its last client leaves, and a client that connects
        # during that reset is refused; the polling xwininfo leaves every 20 ms while the app connects
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1400x900x24", "-fbdir",
                                 str(tmp), "-nolisten", "tcp", "-noreset"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, pass_fds=(write_fd,))
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            display = ":" + pipe.readline().strip()
        deadline = time.monotonic() + 10
        while display != ":" and xvfb.poll() is None and time.monotonic() < deadline:
            if subprocess.run(["xwininfo", "-display", display, "-root"], capture_output=True).returncode == 0:
                return xvfb, display
            time.sleep(0.1)
        why = (f"Xvfb exited with status {xvfb.poll()}" if xvfb.poll() is not None
               else f"display {display} did not answer within 10 s")
        xvfb.terminate()
        xvfb.wait()
    return None, why


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="dist/cxdesktop")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--screenshot", help="PNG to write from the last run")
    parser.add_argument("--wait", type=float, default=20.0, help="seconds to leave the last run open first")
    parser.add_argument("--args", nargs="*", default=[], help="arguments for the app (e.g. a sample image)")
    args = parser.parse_args()
    exe = Path(args.bundle).resolve() / "cxdesktop"
    if not exe.is_file():
        print(f"no executable at {exe}", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="cxstart-"))
    xvfb, display = start_xvfb(tmp)
    if xvfb is None:
        print(f"Xvfb did not start: {display}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        return 1
    times = []
    try:
        env = {**os.environ, "DISPLAY": display, "HOME": str(tmp / "home"), "XDG_CONFIG_HOME": str(tmp / "config"),
               "QT_QPA_PLATFORM": "xcb"}
        for run in range(args.runs):
            start = time.perf_counter()
            app = subprocess.Popen([str(exe), *args.args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            shown = None
            while time.perf_counter() - start < 60 and app.poll() is None:
                if window_viewable(display):
                    shown = time.perf_counter() - start
                    break
                time.sleep(0.02)
            last = run == args.runs - 1
            if shown is not None and last and args.screenshot:
                time.sleep(args.wait)
                read_xwd(tmp / "Xvfb_screen0").save(args.screenshot)
            alive = app.poll() is None
            app.send_signal(signal.SIGTERM)
            try:
                output = app.communicate(timeout=10)[0].decode(errors="replace")
            except subprocess.TimeoutExpired:
                app.kill()
                output = app.communicate()[0].decode(errors="replace")
            if shown is None:
                server = "running" if xvfb.poll() is None else f"exited with status {xvfb.poll()}"
                print(f"run {run + 1}: no window within 60 s (app {'running' if alive else 'exited'}; "
                      f"Xvfb on {display} {server})\n{output}")
                return 1
            times.append(shown)
            print(f"run {run + 1}: window shown after {shown:.2f} s")
        print(f"median {statistics.median(times):.2f} s over {len(times)} runs (max {max(times):.2f} s)")
        if args.screenshot:
            print(f"screenshot: {args.screenshot}")
        return 0
    finally:
        xvfb.terminate()
        xvfb.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
