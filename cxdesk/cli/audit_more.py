"""cxdesk audit diff ENTRY_ID [--json] and cxdesk audit export (registered by audit_cmd)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from sqlalchemy import func, select

from cxdesk.cli.common import open_db
from cxdesk.errors import NotFound, ValidationError
from cxdesk.models import Customer
from cxdesk.services import audit_log, customers, jsondiff
from cxdesk.services.audit_log import AuditQuery


def register(asub) -> None:
    d = asub.add_parser("diff", help="what an audit entry changed: one line per changed path")
    d.add_argument("entry_id", metavar="ENTRY_ID", type=_entry_id, help="the entry's id (first column of an export)")
    d.add_argument("--json", action="store_true",
                   help='print [{"op", "path", "old", "new"}, ...]: applied in order to the before-document '
                        "(or {}), they give the after-document (or {})")
    d.set_defaults(func=diff_cmd)
    e = asub.add_parser("export", help="the audit log (or a customer's part of it) to .xlsx or .csv")
    e.add_argument("--customer", metavar="C", help="a customer's id or exact name")
    e.add_argument("--from", dest="date_from", metavar="D", help="first day, YYYY-MM-DD (UTC), or an ISO time")
    e.add_argument("--to", dest="date_to", metavar="D", help="last day, YYYY-MM-DD (UTC, included), or an ISO time")
    e.add_argument("-o", "--output", metavar="FILE", required=True, help="the file to write: .xlsx or .csv")
    e.set_defaults(func=export_cmd)


def _entry_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**63):
        raise argparse.ArgumentTypeError(f"'{text}' is not an audit entry id; give the number from the log's first column")
    return int(text)


def parse_when(text: str, option: str) -> dt.date | dt.datetime:
    """A day (YYYY-MM-DD) or an ISO date-time; a time without an offset is UTC."""
    value = text.strip()
    try:
        stamp = dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{option} '{text}' is not a date; use YYYY-MM-DD (UTC), e.g. 2026-11-22.") from None
    if not 1900 <= stamp.year < 9000:  # in UTC, the calendar's ends (years 1 and 9999) could be passed
        raise ValidationError(f"{option} '{text}' is not between 1900 and 8999; use YYYY-MM-DD (UTC), e.g. 2026-11-22.")
    if isinstance(stamp, dt.datetime) and stamp.tzinfo is None:
        return stamp.replace(tzinfo=dt.timezone.utc)
    return stamp


def diff_cmd(args) -> int:
    with open_db(args) as db, db.read_session() as session:
        found = audit_log.entry(session, args.entry_id)
        changes = audit_log.changes(found)
    if args.json:
        print(json.dumps(jsondiff.to_json_ops(changes), ensure_ascii=False, indent=2))
    elif changes:
        print(jsondiff.text_report(changes))
    else:
        print(f"Entry {args.entry_id} ({found.action} {found.table_name} {found.primary_key}) records no data change.",
              file=sys.stderr)
    return 0


def _customer_id(session, text: str) -> int:
    """An id is taken as it is (a deleted customer's entries stay in the log); a name must exist."""
    number = customers.id_number(text.strip())
    if number is not None:
        return number
    found = session.execute(
        select(Customer.id).where(func.lower(Customer.name) == text.strip().lower())
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"There is no customer named '{text}'; give its id or its exact name.")
    return found


def export_cmd(args) -> int:
    path = Path(args.output)
    writer = {".xlsx": audit_log.export_xlsx, ".csv": audit_log.export_csv}.get(path.suffix.lower())
    if writer is None:
        raise ValidationError(f"Cannot export to '{path.name}': the file name must end in .xlsx or .csv.")
    date_from = parse_when(args.date_from, "--from") if args.date_from else None
    date_to = parse_when(args.date_to, "--to") if args.date_to else None
    with open_db(args) as db, db.read_session() as session:
        customer = _customer_id(session, args.customer) if args.customer else None
        query = AuditQuery(date_from=date_from, date_to=date_to, customer_id=customer, descending=False)
        count = writer(session, query, path)
    print(f"Exported {count} audit entries to {path}.")
    return 0
