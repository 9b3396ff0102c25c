#!/usr/bin/env bash
# Put CountXplain Desktop in the user's applications menu (double-click to start).
# Usage: build_spec/install-linux.sh [--uninstall] [BUNDLE_DIR]   (default BUNDLE_DIR: dist/cxdesktop)
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
target="${XDG_DATA_HOME:-$HOME/.local/share}/cxdesktop"
if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$apps/cxdesktop.desktop" "$icons/cxdesktop.png"
    rm -rf "$target"
    command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
    echo "removed CountXplain Desktop"
    exit 0
fi
bundle="${1:-dist/cxdesktop}"
[ -x "$bundle/cxdesktop" ] || { echo "error: no built bundle at $bundle (run build_spec/build.sh)" >&2; exit 1; }
mkdir -p "$apps" "$icons"
rm -rf "$target.new" && cp -a "$bundle" "$target.new" && rm -rf "$target" && mv "$target.new" "$target"
cp resources/icons/cxdesktop.png "$icons/cxdesktop.png"
sed "s|@EXEC@|$target/cxdesktop|" resources/cxdesktop.desktop > "$apps/cxdesktop.desktop.tmp"
mv "$apps/cxdesktop.desktop.tmp" "$apps/cxdesktop.desktop"
chmod +x "$apps/cxdesktop.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
echo "installed: $apps/cxdesktop.desktop -> $target/cxdesktop"
