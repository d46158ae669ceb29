#!/usr/bin/env bash
# Start cxdesk on the embedded demo database, creating it on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DB="$($BIN/python -c 'from cxdesk.paths import default_database_path as p; print(p())')"
if [ ! -f "$DB" ]; then
  echo "Creating the demo database at $DB ..."
  $BIN/cxdesk --db "$DB" demo --customers 30 --days 35
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: starting cxdesk on a virtual X server (xvfb-run)."
  exec xvfb-run -a "$BIN/cxdesk" --db "$DB"
fi
exec "$BIN/cxdesk" --db "$DB"
