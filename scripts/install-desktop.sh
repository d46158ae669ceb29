#!/usr/bin/env bash
# Install cxdesk in the user's desktop menu: the .desktop entry, the icons and the
# AppStream metadata under $XDG_DATA_HOME (default ~/.local/share). Nothing needs root.
#
#   bash scripts/install-desktop.sh [PROGRAM]
#
# The entry starts PROGRAM when given, else the frozen build (dist/cxdesk/cxdesk, from
# `make package`) when it exists, else the project venv's cxdesk.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if (($# > 0)); then
    PROGRAM=$1
    [[ $PROGRAM == /* ]] || PROGRAM="$PWD/$PROGRAM"
elif [[ -x $ROOT/dist/cxdesk/cxdesk ]]; then
    PROGRAM="$ROOT/dist/cxdesk/cxdesk"
else
    PROGRAM="$ROOT/.venv/bin/cxdesk"
fi
if [[ ! -x $PROGRAM || -d $PROGRAM ]]; then
    echo "install-desktop: $PROGRAM is not a program; run \`make venv\` or \`make package\` first" >&2
    exit 1
fi

# One argument of a desktop entry's Exec key (Desktop Entry Specification, "The Exec
# key"): quoted when it holds anything but safe characters; \ " ` $ escaped inside the
# quotes, then every \ doubled for the string value; % doubled.
exec_arg() {
    local s=$1
    if [[ $s =~ ^[A-Za-z0-9/._+-]+$ ]]; then
        printf '%s' "$s"
        return
    fi
    local out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            \\) out+='\\\\' ;;
            \" | \` | \$) out+="\\\\$c" ;;
            %) out+='%%' ;;
            *) out+=$c ;;
        esac
    done
    printf '"%s"' "$out"
}

DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor"
METAINFO="$DATA/metainfo"
mkdir -p "$APPS" "$METAINFO" "$ICONS/scalable/apps"

# awk reads the line from the environment: sed, or awk -v, would interpret its backslashes
EXEC_LINE="Exec=$(exec_arg "$PROGRAM")" awk '/^Exec=/ { print ENVIRON["EXEC_LINE"]; next } { print }' \
    "$ROOT/resources/cxdesk.desktop" > "$APPS/cxdesk.desktop.tmp"
mv "$APPS/cxdesk.desktop.tmp" "$APPS/cxdesk.desktop"

for png in "$ROOT"/cxdesk/resources/icons/cxdesk-*.png; do
    size=${png##*/cxdesk-}
    size=${size%.png}
    mkdir -p "$ICONS/${size}x${size}/apps"
    install -m 644 "$png" "$ICONS/${size}x${size}/apps/cxdesk.png"
done
install -m 644 "$ROOT/cxdesk/resources/icons/cxdesk.svg" "$ICONS/scalable/apps/cxdesk.svg"
install -m 644 "$ROOT/resources/io.cxdesk.cxdesk.metainfo.xml" "$METAINFO/io.cxdesk.cxdesk.metainfo.xml"
touch "$ICONS"  # icon theme caches notice the change by the folder's time

if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$APPS" || true
fi
echo "install-desktop: cxdesk is in the applications menu ($APPS/cxdesk.desktop, starts $PROGRAM)"
