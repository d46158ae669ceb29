"""The workstation's settings file (TOML) in the platform's config dir. Never a secret."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cxdesk.errors import ValidationError
from cxdesk.paths import config_dir

FILE_NAME = "config.toml"


@dataclass
class Config:
    #: database URL without a password; empty = the embedded SQLite file
    database_url: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return config_dir() / FILE_NAME


def load() -> Config:
    path = config_dir() / FILE_NAME
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"The settings file {path} is not valid TOML ({exc}); fix or delete it.")
    url = data.pop("database_url", "")
    if not isinstance(url, str):
        raise ValidationError(f"database_url in {path} must be a string.")
    return Config(database_url=url, extra=data)


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def save(cfg: Config) -> Path:
    from cxdesk.db import strip_password

    path = config_dir() / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# cxdesk settings for this workstation. Secrets live in the OS keyring, not here."]
    lines.append(f"database_url = {_toml_str(strip_password(cfg.database_url))}")
    for key, value in sorted(cfg.extra.items()):
        if isinstance(value, str):
            lines.append(f"{key} = {_toml_str(value)}")
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def database_url(db_option: str | None) -> str | None:
    """The database to open: ``--db``, else the settings file, else None (the embedded file)."""
    return db_option or load().database_url or None
