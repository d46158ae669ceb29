"""Where data, settings and logs live (platformdirs; XDG variables are honoured on Linux)."""
from __future__ import annotations

from pathlib import Path

import platformdirs

from cxdesk import APP_NAME


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_database_path() -> Path:
    return data_dir() / "cxdesk.db"
