#!/usr/bin/env bash
# Install the Debian packages the test suite and the Qt app need:
#   PostgreSQL server (tests start their own cluster with initdb; the system cluster is
#   not used), gnome-keyring + D-Bus (Secret Service tests), Xvfb/xauth (real windows
#   for screenshots), poppler-utils (PDF checks), desktop-file-utils + appstream
#   (.desktop and metainfo validators), LibreOffice Calc without a GUI (the Summary's
#   XLSX and clipboard HTML read back as Calc shows them: soffice --headless
#   --convert-to), and the libraries PySide6 loads.
#
# Fast and offline when everything is present (dpkg-query / command -v only).
# Needs root or passwordless sudo to install; otherwise prints what is missing and
# exits 0 (tests needing those parts then skip locally, and fail under CI=true).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# Qt runtime libraries for PySide6 (xcb platform under Xvfb; offscreen needs fewer).
QT_LIBS=(
    libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
    libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libglib2.0-0
    fonts-dejavu-core
)
TOOLS=(gnome-keyring dbus dbus-x11 xvfb xauth poppler-utils desktop-file-utils appstream libreoffice-calc-nogui)

# package -> a command it provides (a present command counts as installed, whatever
# packaged it)
declare -A COMMAND_OF=(
    [gnome-keyring]=gnome-keyring-daemon
    [dbus]=dbus-daemon
    [dbus-x11]=dbus-launch
    [xvfb]=Xvfb
    [xauth]=xauth
    [poppler-utils]=pdftotext
    [desktop-file-utils]=desktop-file-validate
    [appstream]=appstreamcli
    [libreoffice-calc-nogui]=soffice
)

installed() {  # installed PKG: true when dpkg has PKG (or its t64 rename) installed
    local status
    for name in "$1" "${1}t64"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null || true)
        [[ $status == installed ]] && return 0
    done
    return 1
}

have_postgres_server() {
    local f
    for f in /usr/lib/postgresql/*/bin/initdb; do
        [[ -x $f ]] && return 0
    done
    return 1
}

missing=()
have_postgres_server || missing+=(postgresql)
for pkg in "${TOOLS[@]}"; do
    if ! command -v "${COMMAND_OF[$pkg]}" >/dev/null 2>&1 && ! installed "$pkg"; then
        missing+=("$pkg")
    fi
done
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${QT_LIBS[@]}"; do
        installed "$pkg" || missing+=("$pkg")
    done
fi

if ((${#missing[@]} == 0)); then
    echo "install-os-deps: all OS packages present"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-os-deps: not a Debian/Ubuntu system; please install the equivalents of: ${missing[*]}"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
else
    echo "install-os-deps: missing OS packages (needs root): apt-get install ${missing[*]}"
    exit 0
fi

echo "install-os-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -q
# --no-install-recommends: postgresql recommends sysstat, gnome-keyring recommends
# gnome-keyring-pkcs11 and libpam-gnome-keyring, libreoffice-calc-nogui recommends
# fonts and Java parts; none of them is needed here.
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

if ! have_postgres_server; then
    echo "install-os-deps: postgresql installed but no /usr/lib/postgresql/*/bin/initdb found" >&2
    exit 1
fi
echo "install-os-deps: done"
