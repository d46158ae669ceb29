"""cxdesk invoice generate CUSTOMER --period P --date D | auto [CUSTOMER] [--until DATE]
| list [CUSTOMER] | export NUMBER -o FILE.pdf|FILE.xlsx"""
from __future__ import annotations

from pathlib import Path

from cxdesk.cli.common import open_db, print_table
from cxdesk.errors import ValidationError
from cxdesk.services import invoices
from cxdesk.services.actor import cli_actor
from cxdesk.services.customers import find_customer
from cxdesk.services.summary import parse_day, parse_period


def register(sub) -> None:
    p = sub.add_parser("invoice", help="generate, list and export invoices")
    isub = p.add_subparsers(dest="invoice_command", metavar="ACTION", required=True)
    g = isub.add_parser("generate", help="invoice one ended period of a customer (never a period invoiced before)")
    g.add_argument("customer", help="customer id or exact name")
    g.add_argument("--period", choices=invoices.KINDS, required=True)
    g.add_argument("--date", required=True,
                   help="daily: a day (2026-01-05); weekly: 2026-W02 or any day in it; monthly: 2026-01 or any day in it")
    g.add_argument("--invoice-date", metavar="DATE", help="the invoice date (default: today, UTC)")
    g.set_defaults(func=generate_cmd)
    a = isub.add_parser("auto", help="create every invoice missing under the customers' Invoice Schedule")
    a.add_argument("customer", nargs="?", help="customer id or exact name (default: all customers)")
    a.add_argument("--until", metavar="DATE", help="only periods that end by the end of this day (default: now)")
    a.set_defaults(func=auto_cmd)
    ls = isub.add_parser("list", help="list invoices (of one customer, or all)")
    ls.add_argument("customer", nargs="?", help="customer id or exact name")
    ls.set_defaults(func=list_cmd)
    e = isub.add_parser("export", help="write an invoice as PDF or Excel, by the file's suffix")
    e.add_argument("number", help="the invoice number (Invoice ID)")
    e.add_argument("-o", "--output", required=True, metavar="FILE.pdf|FILE.xlsx")
    e.set_defaults(func=export_cmd)


def _describe(inv: invoices.InvoiceRecord) -> str:
    return (f"invoice {inv.number} for {inv.customer_name}: {inv.name} ({inv.period_text} UTC), "
            f"total {inv.amount(inv.total)}, due {inv.due_date.isoformat()}")


def generate_cmd(args) -> int:
    start, _end = parse_period(args.period, args.date)
    invoice_date = parse_day(args.invoice_date, "invoice_date") if args.invoice_date else None
    with open_db(args) as db:
        customer_id, _ = find_customer(db, args.customer)
        (inv,) = invoices.generate_for_periods(db, cli_actor(), customer_id, args.period, [start],
                                               invoice_date=invoice_date, comment=args.comment)
    print(f"generated {_describe(inv)}")
    return 0


def auto_cmd(args) -> int:
    until = parse_day(args.until, "until") if args.until else None
    with open_db(args) as db:
        customer_id = find_customer(db, args.customer)[0] if args.customer else None
        result = invoices.auto_generate(db, cli_actor(), customer_id, until=until, comment=args.comment)
    for inv in result.created:
        print(f"generated {_describe(inv)}")
    for note in result.skipped:
        print(f"skipped: {note}")
    print(result.sentence())
    return 0


def list_cmd(args) -> int:
    with open_db(args) as db:
        customer_id = find_customer(db, args.customer)[0] if args.customer else None
        with db.read_session() as s:
            rows = invoices.list_invoices(s, customer_id)
    print_table(["invoice", "customer", "name", "invoice date", "due date", "total", "paid"],
                [[r.number, r.customer_name, r.name, r.invoice_date.isoformat(), r.due_date.isoformat(),
                  invoices.format_amount(r.total, r.currency), r.paid_status] for r in rows])
    return 0


def export_cmd(args) -> int:
    suffix = Path(args.output).suffix.lower()
    if suffix not in (".pdf", ".xlsx"):
        raise ValidationError(f"Cannot export to '{Path(args.output).name}': the name must end in .pdf or .xlsx.")
    actor = cli_actor()
    with open_db(args) as db, db.read_session() as s:
        inv = invoices.find_invoice(s, args.number)
        issuer = invoices.company(s)
    if suffix == ".pdf":
        from cxdesk.pdf_writer import write_invoice_pdf

        write_invoice_pdf(actor, inv, issuer, args.output)
    else:
        invoices.export_invoice_xlsx(actor, inv, issuer, args.output)
    print(f"wrote invoice {inv.number} ({inv.customer_name}, total {inv.amount(inv.total)}) to {args.output}")
    return 0
