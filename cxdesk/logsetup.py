"""A rotating log file in the platform's log dir. Logins appear; secrets and personal
data never do (services log ids and logins, not values)."""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from cxdesk.paths import log_dir

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(level: int = logging.INFO) -> Path:
    path = log_dir() / "cxdesk.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    return path
