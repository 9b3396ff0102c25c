#!/usr/bin/env bash
# Build the onedir bundle into dist/cxdesktop/ (and "dist/CountXplain Desktop.app" on macOS), then run its
# self-test headless. Usage: build_spec/build.sh [--no-self-test]
# Works in Git Bash on Windows too. Details, sizes and timings: build_spec/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    "$PYTHON" -m pip install -q "pyinstaller==6.22.3"
fi
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
    build_spec/cxdesktop.spec
end=$(date +%s)
chmod -R a+rX dist/cxdesktop  # readable by every user whatever the source files' modes (default.cxm may be 0600)
echo "built dist/cxdesktop in $((end - start)) s, $(du -sh dist/cxdesktop | cut -f1)"
[ "${1:-}" = "--no-self-test" ] && exit 0
case "$(uname -s)" in
    MINGW* | MSYS* | CYGWIN*) exe=dist/cxdesktop/cxdesktop.exe ;;
    *) exe=dist/cxdesktop/cxdesktop ;;
esac
QT_QPA_PLATFORM=offscreen "$exe" --self-test
