"""CDR imports publish in slices: cdrs.import_run_id and the run's move marker

Revision ID: 0006
Revises: 0005

An import used to copy all its staged rows into ``cdrs`` in one transaction, which held
the write lock for seconds on a large file. It now moves them in slices, each its own
short transaction, tagging every row with its run (``cdrs.import_run_id``, nullable, no
foreign key: run markers are deleted once published). Readers skip the rows of runs not
published yet (cxdesk.models.cdr_staging.visible_cdrs); the index on (import_run_id, id)
finds a run's rows and its lowest id at once. The run marker keeps how many rows were
moved so far and their id bounds, so a killed import resumes exactly. Existing CDRs keep a NULL run:
they count as before. The rollup passes over an unpublished import's rows instead of waiting
for it, and remembers the import (``rollup_state.passed_runs``) to add its rows once published.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cdrs", sa.Column("import_run_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_cdrs_import_run_id"), "cdrs", ["import_run_id", "id"], unique=False)
    op.add_column("cdr_import_runs", sa.Column("moved", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("cdr_import_runs", sa.Column("first_id", sa.BigInteger(), nullable=True))
    op.add_column("cdr_import_runs", sa.Column("last_id", sa.BigInteger(), nullable=True))
    op.add_column("rollup_state", sa.Column("passed_runs", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    import json

    conn = op.get_bind()
    passed = json.loads(conn.exec_driver_sql("SELECT passed_runs FROM rollup_state").scalar() or "{}")
    unpublished = set(conn.exec_driver_sql("SELECT id FROM cdr_import_runs WHERE published <> 1").scalars())
    if any(int(run) not in unpublished for run in passed):
        # published imports whose rows the rollup passed over: only this version adds them
        raise RuntimeError("The hourly summary still has to add a published import's CDRs; run 'cxdesk rollup', "
                           "then downgrade again.")
    # a run that had begun moving rows is dropped with them (the older program would see
    # them, and would resume from staged rows that are partly gone): it starts afresh
    moving = "SELECT id FROM cdr_import_runs WHERE published <> 1 AND moved > 0"
    op.execute(f"DELETE FROM cdrs WHERE import_run_id IN ({moving})")
    op.execute(f"DELETE FROM cdr_import_rows WHERE run_id IN ({moving})")
    op.execute(f"DELETE FROM cdr_import_runs WHERE id IN ({moving})")
    for name in ("last_id", "first_id", "moved"):  # ALTER TABLE ... DROP COLUMN: SQLite 3.35 and later
        op.drop_column("cdr_import_runs", name)
    op.drop_column("rollup_state", "passed_runs")
    op.drop_index(op.f("ix_cdrs_import_run_id"), table_name="cdrs")
    op.drop_column("cdrs", "import_run_id")
