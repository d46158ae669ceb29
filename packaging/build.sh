#!/usr/bin/env bash
# Build the desktop program as one folder: dist/cxdesk/cxdesk (PyInstaller's work files
# in build/; both folders are git-ignored and never committed).
#
#   bash packaging/build.sh        (what `make package` runs)
#
# Uses the project venv; installs the `package` extra (PyInstaller) there when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

if ! "$PY" -c 'import PyInstaller' 2>/dev/null; then
    # the extra's requirements only: reinstalling cxdesk itself could disturb a test run
    mapfile -t extra < <("$PY" -c 'import tomllib
print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["package"], sep="\n")')
    echo "build: installing ${extra[*]} (the 'package' extra) into the venv"
    "$PY" -m pip install -q "${extra[@]}"
fi

started=$SECONDS
"$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath dist --workpath build packaging/cxdesk.spec
touch dist/cxdesk/cxdesk  # its time is the build's (tests reuse a build newer than the sources)
echo "build: dist/cxdesk/cxdesk ($(du -sh dist/cxdesk | cut -f1)) in $((SECONDS - started)) s"
