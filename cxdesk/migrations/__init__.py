"""Alembic migrations of the cxdesk schema (environment in env.py, scripts in versions/)."""
from __future__ import annotations

from cxdesk.models.audit import SEARCH_TABLE


def autogenerate_includes(name: str | None, type_: str, _parent_names) -> bool:
    """Whether alembic compares an object with the models: the substring-search objects the
    migration makes by hand are not ORM objects (the audit search table, SQLite's shadow
    tables of it, and pg_trgm indexes, named *_trgm)."""
    return not (name or "").startswith(SEARCH_TABLE) and not (name or "").endswith("_trgm")
