"""audit chain v2: every entry's hash also covers its id

Revision ID: 0002
Revises: 0001

The first chain hashed every column but the id, so an entry could be renumbered unseen.
This pass re-hashes the whole chain with ``cxdesk.auditproof.entry_hash`` (id included),
in id order, and moves the head to the new last hash. It lifts the append-only trigger
for the pass only; a SQLite database is copied to a backup before any migration runs.
"""
import sqlalchemy as sa
from alembic import op

import cxdesk.models.base
from cxdesk import auditproof

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
BATCH = 5000

entries = sa.table(
    "audit_entries",
    sa.column("id", sa.Integer()),
    *(sa.column(name, cxdesk.models.base.UTCDateTime(timezone=True) if name == "created_at"
                else sa.Integer() if name == "customer_id" else sa.Text())
      for name in auditproof.FIELDS),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def _stamp(value):
    import datetime as dt

    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _rehash() -> None:
    bind = op.get_bind()
    prev, last = GENESIS, 0
    columns = [entries.c[name] for name in auditproof.FIELDS]
    while True:
        rows = bind.execute(sa.select(entries.c.id, *columns).where(entries.c.id > last)
                            .order_by(entries.c.id).limit(BATCH)).all()
        if not rows:
            break
        updates = []
        for row in rows:
            values = dict(zip(auditproof.FIELDS, row[1:]))
            values["created_at"] = _stamp(values["created_at"])
            new = auditproof.entry_hash(row[0], prev, values)
            updates.append({"eid": row[0], "p": prev, "h": new})
            prev, last = new, row[0]
        bind.execute(sa.update(entries).where(entries.c.id == sa.bindparam("eid"))
                     .values(prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")), updates)
    bind.execute(sa.text("UPDATE audit_head SET last_hash = :h WHERE id = 1"), {"h": prev})


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_entries_no_update")
        _rehash()
        op.execute("CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
                   "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END")
    else:
        op.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        _rehash()
        op.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")


def downgrade() -> None:
    raise NotImplementedError("the v1 chain hashed less; there is no way back to it")
