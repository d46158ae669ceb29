"""The CDR importer's staging area (see :mod:`cxdesk.services.cdr_staging`): plain Core
tables, no ORM classes, made by migration 0005 like every other table (the application
role on PostgreSQL may not create anything at run time).

``cdr_import_runs`` holds one resume marker per import (*run*); ``cdr_import_rows`` holds
every run's checked rows until the run publishes them into ``cdrs``, keyed by (run, callid)
so a callid seen earlier in the same file is found at once. Nothing but the importer
reads them but :func:`visible_cdrs`, the filter every reader of ``cdrs`` applies: a run
moves its rows into ``cdrs`` in slices (tagged with ``cdrs.import_run_id``) and they count
only once the run is marked published (``published``: 0 staging or moving, 1 published,
-1 abandoned and being cleared)."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text, or_, select

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
    # the rows moved into cdrs so far (migration 0006): how many, and their id bounds
    Column("moved", Integer, nullable=False, server_default="0"),
    Column("first_id", BigInteger, nullable=True),
    Column("last_id", BigInteger, nullable=True),
)

PUBLISHED, MOVING, ABANDONED = 1, 0, -1
#: SQL: the ids of runs whose rows in cdrs must not count yet
HIDDEN_RUNS_SQL = f"SELECT id FROM cdr_import_runs WHERE published <> {PUBLISHED}"
#: SQL condition on a cdrs row (unqualified columns): it counts
VISIBLE_SQL = f"(import_run_id IS NULL OR import_run_id NOT IN ({HIDDEN_RUNS_SQL}))"


def visible_cdrs(table=None):
    """The condition every reader of cdrs applies: the row is not part of an import that has
    not published yet (``table``: cdrs or an alias of it)."""
    column = (Cdr.__table__ if table is None else table).c.import_run_id
    hidden = select(cdr_import_runs.c.id).where(cdr_import_runs.c.published != PUBLISHED)
    return or_(column.is_(None), column.not_in(hidden))


def _type(column: Column):
    """A cdrs column's type (a foreign key column's type is only filled in from the column it refers to)."""
    return Integer() if column.foreign_keys else column.type


cdr_import_rows = Table(
    "cdr_import_rows", Base.metadata,
    Column("run_id", Integer, ForeignKey("cdr_import_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("callid", Cdr.__table__.c.callid.type, primary_key=True),
    Column("line", Integer, nullable=False),  # where the row is in the file (to name an earlier one)
    *(Column(c.name, _type(c), nullable=c.nullable) for c in Cdr.__table__.columns if c.name not in ("id", "callid", "import_run_id")),
    sqlite_with_rowid=False,
)
