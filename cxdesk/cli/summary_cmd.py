"""cxdesk summary CUSTOMER --period P [--from DATE] [--to DATE] [-o FILE.xlsx|FILE.csv]"""
from __future__ import annotations

from sqlalchemy import select

from cxdesk.cli.cdr_cmd import PERIODS
from cxdesk.cli.common import open_db, print_table
from cxdesk.models import Customer
from cxdesk.services.actor import cli_actor


def register(sub) -> None:
    p = sub.add_parser("summary", help="a customer's call summary (UTC), printed or exported like the Summary tab")
    p.add_argument("customer", help="customer id or exact name")
    p.add_argument("--period", choices=PERIODS, default="daily",
                   help="24h: the hourly rows of the last 24 hours (or of the --to day); default daily")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last day (YYYY-MM-DD)")
    p.add_argument("-o", "--output", metavar="FILE", help="write FILE.xlsx or FILE.csv instead of printing")
    p.set_defaults(func=run)


def run(args) -> int:
    from cxdesk.services.customers import find_customer
    from cxdesk.services.summary import export_summary, parse_day, summary_table, summary_view, total_texts

    date_from = parse_day(args.date_from, "date_from") if args.date_from else None
    date_to = parse_day(args.date_to, "date_to") if args.date_to else None
    with open_db(args) as db:
        customer_id, name = find_customer(db, args.customer)
        with db.read_session() as session:
            currency = session.scalar(select(Customer.currency).where(Customer.id == customer_id))
            rows = summary_view(session, customer_id, args.period, date_from, date_to)
    if args.output:
        export_summary(cli_actor(), rows, args.output, currency=currency, period=args.period,
                       title=f"{name}: {args.period} summary (UTC)")
        print(f"wrote {len(rows)} {args.period} rows of {name} to {args.output}")
        return 0
    table = summary_table(rows, currency, args.period)
    columns = [table.texts(c, 0, table.row_count, grouping=True) for c in range(table.column_count)]
    lines = [list(r) for r in zip(*columns)]
    if rows:
        lines.append(total_texts(rows, table))
    print_table([c.title for c in table.columns], lines)
    marks = [f"{r.label}: {'partial' if r.partial else ''}{', ' if r.partial and r.invoices else ''}"
             f"{'invoiced in ' + ', '.join(map(str, r.invoices)) if r.invoices else ''}"
             for r in rows if r.partial or r.invoices]
    if marks:
        print("Notes: " + "; ".join(marks))
    return 0
