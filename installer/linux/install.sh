#!/bin/sh
# Install IOPDesk for this user (no root needed): the app folder goes to
# ~/.local/opt/iopdesk, the `iopdesk` command to ~/.local/bin, and a menu entry and icon to
# ~/.local/share. Run it again from a newer tarball to upgrade in place; clinic data is kept
# (it lives in ~/.local/share/IOPDesk, see docs/install.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${IOPDESK_PREFIX:-"$HOME/.local"}
data=${XDG_DATA_HOME:-"$HOME/.local/share"}
app="$prefix/opt/iopdesk"

mkdir -p "$prefix/opt" "$prefix/bin" "$data/applications" "$data/icons/hicolor/256x256/apps"
rm -rf "$app.new"
cp -R "$here/iopdesk" "$app.new"
rm -rf "$app"
mv "$app.new" "$app"
ln -sf "$app/iopdesk" "$prefix/bin/iopdesk"
cp "$here/iopdesk.png" "$data/icons/hicolor/256x256/apps/iopdesk.png"
sed "s|^Exec=iopdesk|Exec=\"$app/iopdesk\"|" "$here/iopdesk.desktop" > "$data/applications/iopdesk.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" || true
echo "IOPDesk installed in $app."
echo "Start it from the applications menu, or run: $prefix/bin/iopdesk"
