#!/usr/bin/env bash
# Put CountXplain Desktop in the user's applications menu (double-click to start).
# Usage: build_spec/install-linux.sh [BUNDLE_DIR]     (default BUNDLE_DIR: dist/cxdesktop beside build_spec/)
#        build_spec/install-linux.sh --uninstall
# The bundle is copied to $XDG_DATA_HOME/cxdesktop (default ~/.local/share/cxdesktop); the menu entry goes to
# $XDG_DATA_HOME/applications/cxdesktop.desktop and the icons to $XDG_DATA_HOME/icons/hicolor/<size>/apps/.
# Nothing outside $XDG_DATA_HOME is touched; no root needed.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
hicolor="$data/icons/hicolor"
target="$data/cxdesktop"
sizes="16 32 48 64 128 256"

refresh() {
    if command -v update-desktop-database >/dev/null; then update-desktop-database "$apps" 2>/dev/null || true; fi
    if command -v gtk-update-icon-cache >/dev/null && [ -f "$hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$hicolor" 2>/dev/null || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$apps/cxdesktop.desktop"
    for size in $sizes; do rm -f "$hicolor/${size}x${size}/apps/cxdesktop.png"; done
    rm -rf "$target" "$target.new"
    refresh
    echo "removed CountXplain Desktop"
    exit 0
fi

bundle="${1:-$repo/dist/cxdesktop}"
[ -x "$bundle/cxdesktop" ] && [ -f "$bundle/cxdesktop" ] || {
    echo "error: no built bundle at $bundle (run build_spec/build.sh)" >&2
    exit 1
}
bundle="$(cd "$bundle" && pwd)"
# icons: from the bundle (PyInstaller puts data under _internal/), else from the source tree
icon_dir=""
for candidate in "$bundle/_internal/resources/icons" "$bundle/resources/icons" "$repo/resources/icons"; do
    if [ -f "$candidate/cxdesktop.png" ]; then icon_dir="$candidate"; break; fi
done
[ -n "$icon_dir" ] || { echo "error: no cxdesktop.png icon in the bundle or in $repo/resources/icons" >&2; exit 1; }
entry_template="$repo/resources/cxdesktop.desktop"

mkdir -p "$apps" "$data"
rm -rf "$target.new"
cp -a "$bundle" "$target.new"
rm -rf "$target"
mv "$target.new" "$target"
for size in $sizes; do
    src="$icon_dir/cxdesktop-$size.png"
    [ "$size" = 256 ] && src="$icon_dir/cxdesktop.png"
    if [ -f "$src" ]; then
        mkdir -p "$hicolor/${size}x${size}/apps"
        cp "$src" "$hicolor/${size}x${size}/apps/cxdesktop.png"
    fi
done
if [ -f "$entry_template" ]; then
    exec_escaped="$(printf '%s' "\"$target/cxdesktop\"" | sed 's/[&|\\]/\\&/g')"
    sed "s|@EXEC@|$exec_escaped|" "$entry_template" > "$apps/cxdesktop.desktop.tmp"
else  # installer copied without the source tree
    printf '%s\n' "[Desktop Entry]" "Type=Application" "Name=CountXplain Desktop" \
        "Comment=Count cells in microscopy images and see why" "Exec=\"$target/cxdesktop\" %F" "Icon=cxdesktop" \
        "Terminal=false" "Categories=Science;Biology;Graphics;" "StartupWMClass=cxdesktop" \
        > "$apps/cxdesktop.desktop.tmp"
fi
chmod +x "$apps/cxdesktop.desktop.tmp"
mv "$apps/cxdesktop.desktop.tmp" "$apps/cxdesktop.desktop"
refresh
echo "installed: $apps/cxdesktop.desktop -> $target/cxdesktop"
