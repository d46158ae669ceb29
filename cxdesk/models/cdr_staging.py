"""The CDR importer's staging area (see :mod:`cxdesk.services.cdr_staging`): plain Core
tables, no ORM classes, made by migration 0005 like every other table (the application
role on PostgreSQL may not create anything at run time).

``cdr_import_runs`` holds one resume marker per import (*run*); ``cdr_import_rows`` holds
every run's checked rows until the run publishes them into ``cdrs``, keyed by (run, callid)
so a callid seen earlier in the same file is found at once. Nothing but the importer
reads them."""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text

from cxdesk.models.base import Base, UTCDateTime
from cxdesk.models.calls import Cdr

cdr_import_runs = Table(
    "cdr_import_runs", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file_key", String(64), nullable=False, index=True),  # SHA-256 of the file and the options
    Column("file_name", String(255), nullable=False),
    Column("version", Integer, nullable=False),  # moves with every slice: one writer per run
    Column("published", Integer, nullable=False),
    Column("records", Integer, nullable=False),  # non-blank records read and accounted for
    Column("line", Integer, nullable=False),  # the physical line the last of them ended on
    Column("duplicates", Integer, nullable=False),
    Column("bad_count", Integer, nullable=False),
    Column("bad_rows", Text, nullable=False),  # JSON [[line, reason], ...], the first MAX_REPORTED
    Column("customers_new", Text, nullable=False),  # JSON {customer_id: currency} of placeholders to create
    Column("updated_at", UTCDateTime, nullable=False),
)


def _type(column: Column):
    """A cdrs column's type (a foreign key column's type is only filled in from the column it refers to)."""
    return Integer() if column.foreign_keys else column.type


cdr_import_rows = Table(
    "cdr_import_rows", Base.metadata,
    Column("run_id", Integer, ForeignKey("cdr_import_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("callid", Cdr.__table__.c.callid.type, primary_key=True),
    Column("line", Integer, nullable=False),  # where the row is in the file (to name an earlier one)
    *(Column(c.name, _type(c), nullable=c.nullable) for c in Cdr.__table__.columns if c.name not in ("id", "callid")),
    sqlite_with_rowid=False,
)
