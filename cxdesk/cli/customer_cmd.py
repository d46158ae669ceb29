"""cxdesk customer list | add NAME --currency EUR ... | show CUSTOMER | adjust CUSTOMER AMOUNT --reason TEXT"""
from __future__ import annotations

from cxdesk.cli.common import open_db, print_table
from cxdesk.services import customers
from cxdesk.services.actor import cli_actor
from cxdesk.services.customers import CustomerForm, find_customer


def register(sub) -> None:
    p = sub.add_parser("customer", help="customer accounts: list, add, show, adjust the balance")
    csub = p.add_subparsers(dest="customer_command", metavar="ACTION", required=True)
    ls = csub.add_parser("list", help="list customers with status, currency and balance")
    ls.add_argument("--search", default="", help="part of the name (any case), or an id")
    ls.add_argument("--status", default="", help="only this status: Active, Inactive, Penalty, Pending Approval")
    ls.set_defaults(func=list_cmd)
    a = csub.add_parser("add", help="add a customer (the balance starts at 0)")
    a.add_argument("name")
    a.add_argument("--currency", required=True, help="three letters, e.g. EUR; fixed once the account exists")
    a.add_argument("--status", default="Active")
    a.add_argument("--debit-limit", default="0", help="0 = pre-pay, positive = credit line")
    a.add_argument("--channels", default="0", help="maximum concurrent calls")
    a.add_argument("--flow-speed", default="0", help="calls per second")
    a.add_argument("--tax", default="0", help="tax in percent")
    a.add_argument("--invoice-schedule", default="Monthly", help="Daily, Weekly or Monthly")
    a.add_argument("--invoice-due-days", default="30")
    a.add_argument("--no-portal", action="store_true", help="without customer portal access")
    a.add_argument("--tags", default="", help="comma-separated")
    a.set_defaults(func=add_cmd)
    show = csub.add_parser("show", help="the Main tab header: balance, available, channels in use and 24 h peak")
    show.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    show.set_defaults(func=show_cmd)
    adj = csub.add_parser("adjust", help="add to the balance (negative to deduct); audited with the reason")
    adj.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    adj.add_argument("amount", metavar="AMOUNT", help="e.g. 250.00 or -12.50")
    adj.add_argument("--reason", required=True)
    adj.set_defaults(func=adjust_cmd)


def list_cmd(args) -> int:
    with open_db(args) as db, db.read_session() as s:
        rows = customers.list_customers(s, args.search, args.status or None)
    print_table(["id", "name", "status", "currency", "balance"],
                [[r.id, r.name, r.status, r.currency, f"{r.balance:,.2f}"] for r in rows])
    return 0


def add_cmd(args) -> int:
    form = CustomerForm(
        name=args.name, currency=args.currency, status=args.status, debit_limit=args.debit_limit,
        channels=args.channels, flow_speed=args.flow_speed, tax_percent=args.tax,
        invoice_schedule=args.invoice_schedule, invoice_due_days=args.invoice_due_days,
        portal_access=not args.no_portal, tags=args.tags,
    )
    with open_db(args) as db:
        rec = customers.create_customer(db, cli_actor(), form, args.comment)
    print(f"added customer {rec.id} ({rec.name}, {rec.currency})")
    return 0


def show_cmd(args) -> int:
    with open_db(args) as db:
        customer_id, name = find_customer(db, args.customer)
        with db.read_session() as s:
            h = customers.header_figures(s, customer_id)
    peak_at = f" at {h.peak_at:%Y-%m-%d %H:%M} UTC" if h.peak_at else ""
    print_table(["customer", name], [
        ["status", h.status],
        ["balance", f"{h.balance:,.2f} {h.currency}"],
        ["debit limit", f"{h.debit_limit:,.2f} {h.currency}"],
        ["available", f"{h.available:,.2f} {h.currency}"],
        ["channels", f"{h.channels_in_use} in use of {h.channels_limit}"],
        ["peak 24 h", f"{h.peak_24h}{peak_at}"],
    ])
    return 0


def adjust_cmd(args) -> int:
    with open_db(args) as db:
        customer_id, name = find_customer(db, args.customer)
        balance = customers.adjust_balance(db, cli_actor(), customer_id, args.amount, args.reason, args.comment)
    print(f"balance of {name} is now {balance:,.2f}")
    return 0
