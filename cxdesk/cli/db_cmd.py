"""cxdesk db upgrade | info"""
from __future__ import annotations

from sqlalchemy import func, select

from cxdesk.cli.common import open_db
from cxdesk.db import current_revision, head_revision


def register(sub) -> None:
    p = sub.add_parser("db", help="create or upgrade the database, or show what it is")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="apply the schema migrations (also done on every open)")
    up.set_defaults(func=upgrade)
    info = dsub.add_parser("info", help="print the database, its schema revision and row counts")
    info.set_defaults(func=info_cmd)


def upgrade(args) -> int:
    with open_db(args, create=True) as db:
        print(f"{db.display}: schema {head_revision()} (up to date)")
    return 0


def info_cmd(args) -> int:
    from cxdesk.models import AuditEntry, Cdr, Contact, Customer, Invoice, Operator

    with open_db(args) as db, db.read_session() as s, db.engine.connect() as conn:
        print(f"database: {db.display}")
        print(f"schema:   {current_revision(conn)}")
        for label, model in [("customers", Customer), ("contacts", Contact), ("operators", Operator),
                             ("cdrs", Cdr), ("invoices", Invoice), ("audit entries", AuditEntry)]:
            print(f"{label + ':':15}{s.scalar(select(func.count()).select_from(model))}")
    return 0
