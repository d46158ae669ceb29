"""cxdesk invoice generate CUSTOMER --period P --date D | auto [CUSTOMER] [--until DATE]
| list [CUSTOMER] | issue NUMBER | date NUMBER DATE | pay NUMBER AMOUNT | paid NUMBER STATUS
| credit NUMBER [--reason TEXT] | export NUMBER [--format F] -o FILE"""
from __future__ import annotations

from cxdesk.cli.common import open_db, print_table
from cxdesk.cli.signin import operator_actor
from cxdesk.errors import ValidationError
from cxdesk.services import invoice_export, invoice_lifecycle, invoices
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
    i = isub.add_parser("issue", help="issue a draft invoice (or all drafts): from then on it cannot change")
    i.add_argument("number", nargs="?", help="the invoice number (Invoice ID)")
    i.add_argument("--all-drafts", action="store_true", help="issue every draft invoice, oldest first")
    i.set_defaults(func=issue_cmd)
    d = isub.add_parser("date", help="change the invoice date of a draft (the due date moves with it)")
    d.add_argument("number", help="the invoice number (Invoice ID)")
    d.add_argument("date", metavar="DATE", help="the new invoice date, e.g. 2026-02-01")
    d.set_defaults(func=date_cmd)
    pay = isub.add_parser("pay", help="record a payment received for an issued invoice")
    pay.add_argument("number", help="the invoice number (Invoice ID)")
    pay.add_argument("amount", metavar="AMOUNT", help="the amount received, e.g. 120.50")
    pay.set_defaults(func=pay_cmd)
    paid = isub.add_parser("paid", help="set the paid status of an issued invoice: Unpaid, Pending, Paid")
    paid.add_argument("number", help="the invoice number (Invoice ID)")
    paid.add_argument("status", metavar="STATUS")
    paid.set_defaults(func=paid_cmd)
    c = isub.add_parser("credit", help="cancel an issued invoice with a credit note (CN-1, CN-2...)")
    c.add_argument("number", help="the invoice number (Invoice ID)")
    c.add_argument("--reason", default="", help="why it is credited (on the credit note and in the audit log)")
    c.add_argument("--date", metavar="DATE", help="the credit note's date (default: today, UTC)")
    c.set_defaults(func=credit_cmd)
    e = isub.add_parser("export", help="write an invoice (7) or credit note (CN-1) as PDF, Factur-X, UBL, CII "
                                       "or Excel; e-invoices are validated first")
    e.add_argument("number", help="the invoice number (Invoice ID) or the credit note's (CN-1)")
    e.add_argument("--format", choices=invoice_export.FORMATS,
                   help="default: by the file's suffix (.pdf: pdf, .xlsx: xlsx)")
    e.add_argument("-o", "--output", required=True, metavar="FILE")
    e.set_defaults(func=export_cmd)


def _describe(inv: invoices.InvoiceRecord) -> str:
    return (f"invoice {inv.number} for {inv.customer_name}: {inv.name} ({inv.period_text} UTC), "
            f"total {inv.amount(inv.total)}, due {inv.due_date.isoformat()}")


def generate_cmd(args) -> int:
    start, _end = parse_period(args.period, args.date)
    invoice_date = parse_day(args.invoice_date, "invoice_date") if args.invoice_date else None
    with open_db(args) as db:
        customer_id, _ = find_customer(db, args.customer)
        (inv,) = invoices.generate_for_periods(db, operator_actor(args, db), customer_id, args.period, [start],
                                               invoice_date=invoice_date, comment=args.comment)
    print(f"generated {_describe(inv)}")
    return 0


def auto_cmd(args) -> int:
    until = parse_day(args.until, "until") if args.until else None
    with open_db(args) as db:
        customer_id = find_customer(db, args.customer)[0] if args.customer else None
        result = invoices.auto_generate(db, operator_actor(args, db), customer_id, until=until, comment=args.comment)
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
            notes = invoice_lifecycle.list_credit_notes(s, customer_id)
    print_table(["invoice", "customer", "name", "invoice date", "due date", "total", "state", "paid"],
                [[r.number, r.customer_name, r.name, r.invoice_date.isoformat(), r.due_date.isoformat(),
                  invoices.format_amount(r.total, r.currency),
                  f"{r.state} by {r.credit_note}" if r.credit_note else r.state, r.paid_status] for r in rows])
    if notes:
        print()
        print_table(["credit note", "customer", "invoice", "date", "total", "reason"],
                    [[n.ref, n.customer_name, n.invoice_number, n.credit_date.isoformat(),
                      invoices.format_amount(n.total, n.currency), n.reason] for n in notes])
    return 0


def _invoice_id(db, number: str) -> tuple[int, int]:
    """(record id, version) of the invoice with this number."""
    with db.read_session() as s:
        inv = invoices.find_invoice(s, number)
    return inv.id, inv.version


def issue_cmd(args) -> int:
    if bool(args.number) == bool(args.all_drafts):
        raise ValidationError("Name the invoice number to issue, or --all-drafts (not both).", field="number")
    with open_db(args) as db:
        if args.all_drafts:
            with db.read_session() as s:
                drafts = [(r.id, r.version) for r in invoices.list_invoices(s) if r.state == "Draft"]
        else:
            drafts = [_invoice_id(db, args.number)]
        for invoice_id, version in drafts:
            inv = invoice_lifecycle.issue_invoice(db, operator_actor(args, db), invoice_id, version, comment=args.comment)
            print(f"issued {_describe(inv)}")
    if args.all_drafts:
        print(f"issued {len(drafts)} draft invoice{'s' if len(drafts) != 1 else ''}")
    return 0


def date_cmd(args) -> int:
    day = parse_day(args.date, "invoice_date")
    with open_db(args) as db:
        invoice_id, version = _invoice_id(db, args.number)
        inv = invoice_lifecycle.set_invoice_date(db, operator_actor(args, db), invoice_id, day, version, args.comment)
    print(f"dated {_describe(inv)}")
    return 0


def pay_cmd(args) -> int:
    with open_db(args) as db:
        invoice_id, version = _invoice_id(db, args.number)
        inv = invoice_lifecycle.record_payment(db, operator_actor(args, db), invoice_id, args.amount, version, args.comment)
    print(f"invoice {inv.number}: {inv.paid_status}, paid {inv.amount(inv.paid_amount)}, "
          f"{inv.amount(inv.outstanding)} due")
    return 0


def paid_cmd(args) -> int:
    with open_db(args) as db:
        invoice_id, version = _invoice_id(db, args.number)
        inv = invoice_lifecycle.set_paid_status(db, operator_actor(args, db), invoice_id, args.status, version, args.comment)
    print(f"invoice {inv.number}: {inv.paid_status}")
    return 0


def credit_cmd(args) -> int:
    credit_date = parse_day(args.date, "date") if args.date else None
    with open_db(args) as db:
        invoice_id, version = _invoice_id(db, args.number)
        cn = invoice_lifecycle.credit_invoice(db, operator_actor(args, db), invoice_id, args.reason, credit_date=credit_date,
                                              expected_version=version, comment=args.comment)
    print(f"credit note {cn.ref} cancels invoice {cn.invoice_number} ({cn.customer_name}), total "
          f"{invoices.format_amount(cn.total, cn.currency)}")
    return 0


def export_cmd(args) -> int:
    with open_db(args) as db:
        what = invoice_export.export(db, cli_actor(), args.number, args.format, args.output)
    print(f"wrote {what} to {args.output}")
    return 0
