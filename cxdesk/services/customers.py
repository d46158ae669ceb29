"""Customers (accounts): the list, create and edit, balance adjustments, the Main tab header.

Every write goes through the audited unit of work. Edits take the version the user
loaded and are refused with a ConflictError naming who changed the row meanwhile.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import ConflictError, NotFound, ValidationError
from cxdesk.models import INVOICE_SCHEDULES, STATUSES, Cdr, Customer, utcnow
from cxdesk.models.cdr_staging import visible_cdrs
from cxdesk.models.base import MONEY_MAX, MONEY_SCALE
from cxdesk.services import party_checks
from cxdesk.services.actor import Actor
from cxdesk.services.uow import unit_of_work

NAME_MAX = 200
TAGS_MAX = 500
TAG_MAX = 40
REASON_MAX = 500
CHANNELS_MAX = 100_000
FLOW_SPEED_MAX = 10_000
DUE_DAYS_MAX = 365
#: the longest call the header looks for: calls that started before now - 24 h - this
#: are not read (switches cut calls long before a day is over)
MAX_CALL = dt.timedelta(hours=24)
PEAK_WINDOW = dt.timedelta(hours=24)


# ---------------------------------------------------------------------------
# values as typed -> values as stored
# ---------------------------------------------------------------------------


def when(moment: dt.datetime | None) -> str:
    """A time as conflict messages show it: 2026-11-22 14:03 UTC."""
    if moment is None:
        return "an unknown time"
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def check_version(row: Any, expected_version: int | None, what: str) -> None:
    """Refuse to save over a row someone else changed since the user loaded it."""
    if expected_version is None or row.version == expected_version:
        return
    who = row.updated_by or "someone"
    raise ConflictError(
        f"{what[0].upper()}{what[1:]} was changed by {who} at {when(row.updated_at)} after you opened it; "
        "reload it and apply your change again."
    )


def parse_money(value: Any, field: str, label: str) -> Decimal:
    """An exact amount from a Decimal, an int or the text a user typed ("-1,250.50")."""
    if isinstance(value, float) or isinstance(value, bool):
        raise TypeError("money must be Decimal, int or str, never float")
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "").replace("_", "")
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", text):
            text = text.replace(",", "")
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise ValidationError(
                f"{label}: '{value.strip()}' is not an amount; type a number like 1250.50 or -50.", field=field)
        value = Decimal(text)
    if not isinstance(value, Decimal):
        raise TypeError(f"cannot use {type(value).__name__} as money")
    if not value.is_finite():
        raise ValidationError(f"{label} must be a number.", field=field)
    if abs(value) > MONEY_MAX:
        raise ValidationError(f"{label} is too large; the limit is {MONEY_MAX:,.0f}.", field=field)
    if value.as_tuple().exponent < -MONEY_SCALE and value != value.quantize(Decimal(1).scaleb(-MONEY_SCALE)):
        raise ValidationError(f"{label} has more than {MONEY_SCALE} decimal places; round it.", field=field)
    return value


def parse_int(value: Any, field: str, label: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValidationError(f"{label} must be a whole number.", field=field)
    if isinstance(value, str):
        text = value.strip().replace("_", "").replace(",", "")
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValidationError(f"{label}: '{value.strip()}' is not a whole number; type digits only.", field=field)
        value = int(text)
    if not isinstance(value, int):
        raise ValidationError(f"{label} must be a whole number.", field=field)
    if not low <= value <= high:
        raise ValidationError(f"{label} must be between {low:,} and {high:,}, not {value:,}.", field=field)
    return value


def _choice(value: Any, choices: tuple[str, ...], field: str, label: str) -> str:
    text = str(value or "").strip().lower()
    for c in choices:
        if text == c.lower():
            return c
    raise ValidationError(f"{label} '{value}' is not one of: {', '.join(choices)}.", field=field)


def normalise_customer_name(value: str) -> str:
    name = " ".join(str(value or "").split())
    if not name:
        raise ValidationError("Type the customer's name.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"The name is too long ({len(name)} characters; at most {NAME_MAX}).", field="name")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValidationError("The name contains control characters; type it again.", field="name")
    return name


def normalise_currency(value: str) -> str:
    """An ISO 4217 currency code (the maintained list of the ``iso4217`` package)."""
    return party_checks.check_currency(value)


def normalise_tags(value: str) -> str:
    out: list[str] = []
    seen: set[str] = set()
    for part in str(value or "").split(","):
        tag = " ".join(part.split())
        if not tag:
            continue
        if len(tag) > TAG_MAX:
            raise ValidationError(f"The tag '{tag[:20]}...' is too long; at most {TAG_MAX} characters each.", field="tags")
        if tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    tags = ",".join(out)
    if len(tags) > TAGS_MAX:
        raise ValidationError(f"The tags are too long together ({len(tags)} characters; at most {TAGS_MAX}).", field="tags")
    return tags


@dataclass
class CustomerForm:
    """The fields of the customer form, as typed (strings are parsed and checked)."""

    name: str
    currency: str = "USD"
    status: str = "Active"
    debit_limit: Decimal | int | str = Decimal("0")
    channels: int | str = 0
    flow_speed: int | str = 0
    tax_percent: Decimal | int | str = Decimal("0")
    invoice_schedule: str = "Monthly"
    invoice_due_days: int | str = 30
    portal_access: bool = True
    tags: str = ""
    # the buyer on its invoices (EN 16931)
    address_lines: str = ""
    city: str = ""
    post_code: str = ""
    country: str = ""
    vat_id: str = ""
    buyer_reference: str = ""
    #: S, Z, E, AE, K or O; empty: S with a tax rate above 0, else Z
    vat_category: str = ""
    vat_exemption_reason: str = ""
    vat_exemption_code: str = ""

    def clean(self) -> dict[str, Any]:
        """Column values, or ValidationError naming the first field that is wrong."""
        if not isinstance(self.portal_access, bool):
            raise ValidationError("Portal Access must be on or off.", field="portal_access")
        tax = parse_money(self.tax_percent, "tax_percent", "Tax")
        if not Decimal(0) <= tax <= Decimal(100):
            raise ValidationError(f"Tax must be between 0 and 100 percent, not {tax}.", field="tax_percent")
        category = str(self.vat_category or "").strip() or ("S" if tax > 0 else "Z")
        category, reason, code = party_checks.check_vat(category, tax, self.vat_exemption_reason,
                                                         self.vat_exemption_code)
        return {
            "name": normalise_customer_name(self.name),
            "currency": normalise_currency(self.currency),
            "status": _choice(self.status, STATUSES, "status", "Status"),
            "debit_limit": parse_money(self.debit_limit, "debit_limit", "Debit Limit"),
            "channels": parse_int(self.channels, "channels", "Channels", 0, CHANNELS_MAX),
            "flow_speed": parse_int(self.flow_speed, "flow_speed", "Flow Speed", 0, FLOW_SPEED_MAX),
            "tax_percent": tax,
            "invoice_schedule": _choice(self.invoice_schedule, INVOICE_SCHEDULES, "invoice_schedule", "Invoice Schedule"),
            "invoice_due_days": parse_int(self.invoice_due_days, "invoice_due_days", "Invoice Due Days", 0, DUE_DAYS_MAX),
            "portal_access": self.portal_access,
            "tags": normalise_tags(self.tags),
            "address_lines": party_checks.check_address_lines(self.address_lines),
            "city": party_checks.check_text(self.city, "city", "The city", 100),
            "post_code": party_checks.check_text(self.post_code, "post_code", "The post code", 20),
            "country": party_checks.check_country(self.country),
            "vat_id": party_checks.check_vat_id(self.vat_id),
            "buyer_reference": party_checks.check_text(self.buyer_reference, "buyer_reference",
                                                       "The buyer reference", 200),
            "vat_category": category,
            "vat_exemption_reason": reason,
            "vat_exemption_code": code,
        }


FORM_FIELDS = tuple(f.name for f in fields(CustomerForm))


@dataclass(frozen=True)
class CustomerRecord:
    """One customer as the edit form and the Main tab show it."""

    id: int
    name: str
    status: str
    currency: str
    credit: Decimal
    debit_limit: Decimal
    channels: int
    flow_speed: int
    tax_percent: Decimal
    invoice_schedule: str
    invoice_due_days: int
    portal_access: bool
    tags: str
    version: int
    updated_by: str
    updated_at: dt.datetime
    address_lines: str = ""
    city: str = ""
    post_code: str = ""
    country: str = ""
    vat_id: str = ""
    buyer_reference: str = ""
    vat_category: str = "S"
    vat_exemption_reason: str = ""
    vat_exemption_code: str = ""

    @property
    def balance(self) -> Decimal:
        return self.credit

    def form(self) -> CustomerForm:
        """A form holding this record's values (edit it with dataclasses.replace)."""
        return CustomerForm(**{name: getattr(self, name) for name in FORM_FIELDS})


def _record(c: Customer) -> CustomerRecord:
    return CustomerRecord(**{f.name: getattr(c, f.name) for f in fields(CustomerRecord)})


@dataclass(frozen=True)
class CustomerRow:
    """One line of the customer list."""

    id: int
    name: str
    status: str
    currency: str
    balance: Decimal
    version: int


# ---------------------------------------------------------------------------
# reads
# ---------------------------------------------------------------------------


def get_customer(session: Session, customer_id: int) -> CustomerRecord:
    c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound(f"Customer {customer_id} does not exist (any more); refresh the list.")
    return _record(c)


def list_customers(session: Session, search: str = "", status: str | None = None) -> list[CustomerRow]:
    """The customer list: name contains ``search`` (any case) or the id equals it; one status or all."""
    stmt = select(Customer.id, Customer.name, Customer.status, Customer.currency, Customer.credit, Customer.version)
    term = (search or "").strip()
    if term:
        cond = func.lower(Customer.name).contains(term.lower(), autoescape=True)
        if (number := id_number(term)) is not None:
            cond = cond | (Customer.id == number)
        stmt = stmt.where(cond)
    if status:
        stmt = stmt.where(Customer.status == _choice(status, STATUSES, "status", "Status"))
    stmt = stmt.order_by(func.lower(Customer.name), Customer.id)
    return [CustomerRow(*row) for row in session.execute(stmt)]


def id_number(text: str) -> int | None:
    """``text`` as a record id when it is one: ASCII digits (not "²" or "٣", which
    str.isdigit accepts) that fit a database integer; else None."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def find_customer(db: Database, ref: str) -> tuple[int, str]:
    """A customer by numeric id or exact name, as the command line names one: (id, name)."""
    ref = ref.strip()
    with db.read_session() as s:
        row = None
        if (number := id_number(ref)) is not None:
            row = s.execute(select(Customer.id, Customer.name).where(Customer.id == number)).first()
        if row is None:
            row = s.execute(select(Customer.id, Customer.name).where(Customer.name == ref)).first()
    if row is None:
        raise NotFound(f"There is no customer with the id or exact name '{ref}'; check the spelling.")
    return row.id, row.name


@dataclass(frozen=True)
class HeaderFigures:
    """The Main tab header."""

    status: str
    balance: Decimal
    debit_limit: Decimal
    available: Decimal
    currency: str
    channels_in_use: int
    channels_limit: int
    peak_24h: int
    #: when the peak was first reached (None without calls)
    peak_at: dt.datetime | None


def channel_usage(calls: list[tuple[dt.datetime, int]], now: dt.datetime,
                  window: dt.timedelta = PEAK_WINDOW) -> tuple[int, int, dt.datetime | None]:
    """(in use at ``now``, peak in [now - window, now], when the peak was first reached).

    A call occupies a channel from its start to start + duration seconds (half open: a
    call ending at t and one starting at t never overlap). Sweep over start (+1) and end
    (-1) events, ends first at equal times.
    """
    start_of_window = now - window
    in_use = 0
    events: list[tuple[dt.datetime, int]] = []
    for start, seconds in calls:
        if seconds <= 0 or start > now:
            continue
        end = start + dt.timedelta(seconds=seconds)
        if end <= start_of_window:
            continue
        if start <= now < end:
            in_use += 1
        events.append((max(start, start_of_window), 1))
        if end <= now:
            events.append((end, -1))
    events.sort()  # (-1) sorts before (+1) at the same time
    running = peak = 0
    peak_at = None
    for moment, delta in events:
        running += delta
        if running > peak:
            peak, peak_at = running, moment
    return in_use, peak, peak_at


def header_figures(session: Session, customer_id: int, now: dt.datetime | None = None) -> HeaderFigures:
    """Status, balance, debit limit, available, currency and channel use for the Main tab."""
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound(f"Customer {customer_id} does not exist (any more); refresh the list.")
    calls = session.execute(
        select(Cdr.dt, Cdr.duration).where(
            Cdr.customer_id == customer_id,
            Cdr.dt > now - PEAK_WINDOW - MAX_CALL,
            Cdr.dt <= now,
            Cdr.duration > 0,
            visible_cdrs(),
        )
    ).all()
    in_use, peak, peak_at = channel_usage([(row[0], row[1]) for row in calls], now)
    return HeaderFigures(
        status=c.status, balance=c.credit, debit_limit=c.debit_limit, available=c.credit + c.debit_limit,
        currency=c.currency, channels_in_use=in_use, channels_limit=c.channels, peak_24h=peak, peak_at=peak_at,
    )


# ---------------------------------------------------------------------------
# writes
# ---------------------------------------------------------------------------


def _check_name_free(session: Session, name: str, except_id: int | None = None) -> None:
    stmt = select(Customer.id, Customer.name).where(func.lower(Customer.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Customer.id != except_id)
    other = session.execute(stmt).first()
    if other is not None:
        raise ConflictError(f"There is already a customer named '{other.name}' (id {other.id}); choose another name.",
                            field="name")


def create_customer(db: Database, actor: Actor, form: CustomerForm, comment: str = "") -> CustomerRecord:
    """A new account with a zero balance (change it with adjust_balance)."""
    actor.require("edit_customers")
    values = form.clean()
    with unit_of_work(db, actor, comment) as uow:
        _check_name_free(uow.session, values["name"])
        customer = uow.add(Customer(credit=Decimal(0), **values))
        uow.flush()
        return _record(customer)


def _load_locked(session: Session, customer_id: int) -> Customer:
    c = session.get(Customer, customer_id, with_for_update=True, populate_existing=True)
    if c is None:
        raise NotFound(f"Customer {customer_id} was deleted meanwhile; refresh the list.")
    return c


def update_customer(db: Database, actor: Actor, customer_id: int, expected_version: int, form: CustomerForm,
                    comment: str = "") -> CustomerRecord:
    """Save the edit form; refused when the row changed since ``expected_version`` was loaded."""
    actor.require("edit_customers")
    values = form.clean()
    with unit_of_work(db, actor, comment) as uow:
        c = _load_locked(uow.session, customer_id)
        check_version(c, expected_version, f"customer {c.name}")
        if values["currency"] != c.currency:
            raise ValidationError(f"The currency is fixed once the account exists ({c.currency}); "
                                  "create a new account for another currency.", field="currency")
        if values["name"] != c.name:
            _check_name_free(uow.session, values["name"], except_id=c.id)
        for key, value in values.items():
            if getattr(c, key) != value:
                setattr(c, key, value)
        uow.flush()
        return _record(c)


def adjust_balance(db: Database, actor: Actor, customer_id: int, amount: Decimal | int | str, reason: str,
                   comment: str = "") -> Decimal:
    """Add ``amount`` (negative to deduct) to the balance; the reason is audited. Returns the new balance."""
    actor.require("adjust_balance")
    delta = parse_money(amount, "amount", "The amount")
    if delta == 0:
        raise ValidationError("The amount is zero; type the amount to add, or a negative one to deduct.", field="amount")
    why = " ".join(str(reason or "").split())
    if not why:
        raise ValidationError("Type the reason for the adjustment; it is kept in the audit log.", field="reason")
    if len(why) > REASON_MAX:
        raise ValidationError(f"The reason is too long ({len(why)} characters; at most {REASON_MAX}).", field="reason")
    with unit_of_work(db, actor, comment or why) as uow:
        c = _load_locked(uow.session, customer_id)
        old = c.credit
        new = old + delta
        if abs(new) > MONEY_MAX:
            raise ValidationError("The balance would be out of range; check the amount.", field="amount")
        c.credit = new
        sign = "+" if delta > 0 else ""
        uow.note(c, message=(f"Adjusted the balance of {c.audit_label()} by {sign}{_amount(delta)} {c.currency} "
                             f"from {_amount(old)} to {_amount(new)}: {why}"))
    return new


def _amount(value: Decimal) -> str:
    """2 decimals unless the amount has more significant ones."""
    q = value.quantize(Decimal("0.01"))
    return f"{q:,.2f}" if q == value else f"{value.normalize():,f}"

