#!/bin/sh
# What the tests need beyond pip on Debian/Ubuntu: a virtual X server (Xvfb) and the xcb
# libraries Qt's xcb platform plugin loads, for the test that opens the frozen app's window;
# gdb, for the native stacks tests/hang_watchdog.py prints when a test hangs.
# Elsewhere, or when they are present, it does nothing; that test is then skipped.
set -e
PACKAGES="xvfb xauth x11-utils libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 gdb"
if [ "$(uname -s)" != "Linux" ] || ! command -v apt-get >/dev/null 2>&1; then
    exit 0
fi
if command -v Xvfb >/dev/null 2>&1 && command -v xwininfo >/dev/null 2>&1 && command -v gdb >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
