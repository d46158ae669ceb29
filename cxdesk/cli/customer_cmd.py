"""cxdesk customer list | add NAME --currency EUR ... | show CUSTOMER | adjust CUSTOMER AMOUNT --reason TEXT
| billing CUSTOMER [--country DE --vat-id ... --vat-category AE ...]"""
from __future__ import annotations

import dataclasses

from cxdesk.cli.common import open_db, print_table
from cxdesk.cli.signin import operator_actor
from cxdesk.models import Customer
from cxdesk.services import customers
from cxdesk.services.figures import format_decimal, minor_units
from cxdesk.services.customers import CustomerForm, find_customer
from cxdesk.services.party_checks import VAT_CATEGORY_NAMES

#: option -> CustomerForm field: the buyer and VAT data of the customer's invoices (EN 16931)
BILLING_OPTIONS = {
    "address": "address_lines", "city": "city", "post_code": "post_code", "country": "country",
    "vat_id": "vat_id", "buyer_reference": "buyer_reference", "vat_category": "vat_category",
    "exemption_reason": "vat_exemption_reason", "exemption_code": "vat_exemption_code",
}


def _billing_arguments(p, *, with_tax: bool) -> None:
    p.add_argument("--address", help="street lines, up to 3, separated by '|' (e.g. '1 Main St|Building B')")
    p.add_argument("--city")
    p.add_argument("--post-code")
    p.add_argument("--country", help="ISO 3166 two-letter code, e.g. DE")
    p.add_argument("--vat-id", help="with the country prefix, e.g. DE123456789")
    p.add_argument("--buyer-reference", help="the customer's reference for its invoices (BT-10)")
    p.add_argument("--vat-category", help="; ".join(f"{k}: {v}" for k, v in VAT_CATEGORY_NAMES.items())
                   + " (default: S above 0 %%, else Z)")
    p.add_argument("--exemption-reason", help="why no VAT is charged (E needs one; AE, K, O get a default)")
    p.add_argument("--exemption-code", help="VATEX code, e.g. VATEX-EU-132")
    if with_tax:
        p.add_argument("--tax", help="VAT rate in percent")


def _billing_values(args, with_tax: bool = False) -> dict:
    """The billing options given on the command line, as CustomerForm fields (``customer
    billing`` also takes --tax; ``customer add`` has its own)."""
    out = {}
    for option, field in BILLING_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            out[field] = value.replace("|", "\n") if option == "address" else value
    if with_tax and args.tax is not None:
        out["tax_percent"] = args.tax
    return out


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
    _billing_arguments(a, with_tax=False)
    a.set_defaults(func=add_cmd)
    b = csub.add_parser("billing", help="set the buyer and VAT data of a customer's invoices (only what is given)")
    b.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    _billing_arguments(b, with_tax=True)
    b.set_defaults(func=billing_cmd)
    show = csub.add_parser("show", help="the Main tab header: balance, available, channels in use and 24 h peak")
    show.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    show.set_defaults(func=show_cmd)
    adj = csub.add_parser("adjust", help="add to the balance (negative to deduct); audited with the reason")
    adj.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    adj.add_argument("amount", metavar="AMOUNT", help="e.g. 250.00 or -12.50")
    adj.add_argument("--reason", required=True)
    adj.set_defaults(func=adjust_cmd)


def _money(value, currency: str) -> str:
    """As everywhere: rounded once, half-up, to the currency's minor unit (1,250 JPY, 12.50 EUR)."""
    return format_decimal(value, minor_units(currency))


def list_cmd(args) -> int:
    with open_db(args) as db, db.read_session() as s:
        rows = customers.list_customers(s, args.search, args.status or None)
    print_table(["id", "name", "status", "currency", "balance"],
                [[r.id, r.name, r.status, r.currency, _money(r.balance, r.currency)] for r in rows])
    return 0


def add_cmd(args) -> int:
    form = CustomerForm(
        name=args.name, currency=args.currency, status=args.status, debit_limit=args.debit_limit,
        channels=args.channels, flow_speed=args.flow_speed, tax_percent=args.tax,
        invoice_schedule=args.invoice_schedule, invoice_due_days=args.invoice_due_days,
        portal_access=not args.no_portal, tags=args.tags, **_billing_values(args),
    )
    with open_db(args) as db:
        rec = customers.create_customer(db, operator_actor(args, db), form, args.comment)
    print(f"added customer {rec.id} ({rec.name}, {rec.currency})")
    return 0


def billing_cmd(args) -> int:
    with open_db(args) as db:
        customer_id, _ = find_customer(db, args.customer)
        with db.read_session() as s:
            rec = customers.get_customer(s, customer_id)
        values = _billing_values(args, with_tax=True)
        if values.get("vat_category", rec.vat_category).upper() != rec.vat_category:
            # another category: the old exemption reason does not carry over unless typed again
            values.setdefault("vat_exemption_reason", "")
            values.setdefault("vat_exemption_code", "")
        form = dataclasses.replace(rec.form(), **values)
        rec = customers.update_customer(db, operator_actor(args, db), customer_id, rec.version, form, args.comment)
    address = ", ".join(rec.address_lines.splitlines() + [f"{rec.post_code} {rec.city}".strip(), rec.country])
    reason = f" ({rec.vat_exemption_reason})" if rec.vat_exemption_reason else ""
    print(f"{rec.name}: {address.strip(', ')}; VAT ID {rec.vat_id or 'none'}; VAT category {rec.vat_category} "
          f"at {rec.tax_percent.normalize():f} %{reason}")
    return 0


def show_cmd(args) -> int:
    with open_db(args) as db:
        customer_id, name = find_customer(db, args.customer)
        with db.read_session() as s:
            h = customers.header_figures(s, customer_id)
    peak_at = f" at {h.peak_at:%Y-%m-%d %H:%M} UTC" if h.peak_at else ""
    print_table(["customer", name], [
        ["status", h.status],
        ["balance", f"{_money(h.balance, h.currency)} {h.currency}"],
        ["debit limit", f"{_money(h.debit_limit, h.currency)} {h.currency}"],
        ["available", f"{_money(h.available, h.currency)} {h.currency}"],
        ["channels", f"{h.channels_in_use} in use of {h.channels_limit}"],
        ["peak 24 h", f"{h.peak_24h}{peak_at}"],
    ])
    return 0


def adjust_cmd(args) -> int:
    with open_db(args) as db:
        customer_id, name = find_customer(db, args.customer)
        balance = customers.adjust_balance(db, operator_actor(args, db), customer_id, args.amount, args.reason, args.comment)
        with db.read_session() as s:
            currency = s.get(Customer, customer_id).currency
    print(f"balance of {name} is now {_money(balance, currency)} {currency}")
    return 0
