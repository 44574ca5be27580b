#!/bin/sh
# Remove IOPDesk for this user. Clinic data (databases, backups, logs, settings) is kept
# unless --delete-data is given: it holds client records a clinic must retain.
set -eu
prefix=${IOPDESK_PREFIX:-"$HOME/.local"}
data=${XDG_DATA_HOME:-"$HOME/.local/share"}
config=${XDG_CONFIG_HOME:-"$HOME/.config"}
rm -rf "$prefix/opt/iopdesk"
[ -L "$prefix/bin/iopdesk" ] && rm -f "$prefix/bin/iopdesk"
rm -f "$data/applications/iopdesk.desktop" "$data/icons/hicolor/256x256/apps/iopdesk.png"
if [ "${1:-}" = "--delete-data" ]; then
    rm -rf "$data/IOPDesk" "$config/IOPDesk"
    echo "IOPDesk and its data on this computer were removed."
else
    echo "IOPDesk was removed. Clinic data is kept in $data/IOPDesk and settings in $config/IOPDesk."
    echo "To delete them too (cannot be undone): $0 --delete-data"
fi
