#!/usr/bin/env bash
# Build the onedir bundle into dist/cxdesktop/ and run its self-test headless.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[build]"
start=$(date +%s)
python -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller build_spec/cxdesktop.spec
end=$(date +%s)
echo "built dist/cxdesktop in $((end - start)) s, $(du -sh dist/cxdesktop | cut -f1)"
QT_QPA_PLATFORM=offscreen dist/cxdesktop/cxdesktop --self-test
