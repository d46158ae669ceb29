"""CDR import staging tables: one resume marker per run, one table for every run's rows

Revision ID: 0005
Revises: 0004

The importer stages a long import in slices (cxdesk.services.cdr_staging). It used to
create ``cdr_import_runs`` and one ``cdr_import_rows_<run>`` table per run at run time,
which the least-privilege application role on PostgreSQL may not do (no CREATE in the
schema). Both are made here instead: ``cdr_import_runs`` as before and one
``cdr_import_rows`` for all runs, keyed by (run_id, callid).

A database the older program already imported into holds those runtime tables: they
are dropped first (nothing in them was ever visible; an import interrupted before this
upgrade starts again from its first line). Downgrade drops the new tables (the older
program makes its own again).
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from cxdesk.models.base import Exact, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("cxdesk.migrations.0005")


def _drop_runtime_tables() -> None:
    bind = op.get_bind()
    names = sa.inspect(bind).get_table_names()
    old = sorted(n for n in names if n == "cdr_import_runs"
                 or (n.startswith("cdr_import_rows_") and n.removeprefix("cdr_import_rows_").isdigit()))
    for name in old:
        op.drop_table(name)
    if old:
        log.warning("dropped the CDR import staging tables the older program made (%s); an import "
                    "interrupted before this upgrade starts again from its first line", ", ".join(old))


def upgrade() -> None:
    _drop_runtime_tables()
    op.create_table(
        "cdr_import_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_key", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("bad_count", sa.Integer(), nullable=False),
        sa.Column("bad_rows", sa.Text(), nullable=False),
        sa.Column("customers_new", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdr_import_runs")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_cdr_import_runs_file_key"), "cdr_import_runs", ["file_key"], unique=False)
    op.create_table(
        "cdr_import_rows",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("callid", sa.String(length=120), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("dt", UTCDateTime(timezone=True), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("source_cli", sa.String(length=40), nullable=False),
        sa.Column("dest_number", sa.String(length=40), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("customer_duration", sa.Integer(), nullable=False),
        sa.Column("customer_charge", Exact(precision=18, scale=6), nullable=False),
        sa.Column("customer_card_rate", Exact(precision=18, scale=6), nullable=False),
        sa.Column("customer_card_dest_code", sa.String(length=20), nullable=False),
        sa.Column("customer_card_dest_name", sa.String(length=80), nullable=False),
        sa.Column("customer_card_currency", sa.String(length=3), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("provider_charge", Exact(precision=18, scale=6), nullable=False),
        sa.Column("pdd_out", sa.Integer(), nullable=False),
        sa.Column("ring_duration", sa.Integer(), nullable=False),
        sa.Column("sip_code", sa.Integer(), nullable=False),
        sa.Column("sip_reason", sa.String(length=80), nullable=False),
        sa.Column("release_reason", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["cdr_import_runs.id"],
                                name=op.f("fk_cdr_import_rows_run_id_cdr_import_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "callid", name=op.f("pk_cdr_import_rows")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("cdr_import_rows")
    op.drop_index(op.f("ix_cdr_import_runs_file_key"), table_name="cdr_import_runs")
    op.drop_table("cdr_import_runs")
