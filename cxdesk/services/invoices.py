"""Invoices: generated from the call summary, numbered without gaps, listed, exported.

Generating
    ``generate_for_periods(db, actor, customer_id, "monthly", [start, ...])`` makes one
    invoice per period (the rows ticked in the Summary's Action column), all or none.
    ``auto_generate(db, actor, customer_id or None)`` makes every invoice missing under
    the customers' Invoice Schedule for periods that have ended and have traffic (at
    least one call attempt, i.e. a row in the Summary); running it again creates nothing.
    Both first roll up the CDRs imported since the last rollup, so the summary they read
    is complete.

    A period is never invoiced twice: a period that overlaps an existing invoice of the
    customer, fully or in part (a monthly invoice after a daily one in that month), is
    refused with the number of that invoice. Numbers come from the one ``invoice_counter``
    row, locked FOR UPDATE in the generating transaction (on SQLite the write
    transaction's BEGIN IMMEDIATE does the same), so they run 1, 2, 3... without gaps or
    duplicates even when several workstations generate at once; the overlap check runs
    under the same lock.

Figures (EN 16931)
    Lines are one per UTC day (from the hourly summary) or one per destination (the
    period's CDRs grouped by ``customer_card_dest_code``/``customer_card_dest_name``),
    after the option "invoice-line-grouping". Per line: calls (connected) and minutes
    (billed duration) for information, and the invoiced quantity 1 (unit code C62, "one":
    the line's calls as one item) at an item price equal to the line net, so that
    line net = quantity x price holds exactly. The amounts, all in the currency's minor
    unit (ISO 4217: 2 decimals, JPY 0, KWD 3), half-up:

    * the invoice ``net`` is the period's exact customer charge (the Summary row's
      Customer Charge) rounded once; the line nets are the exact line charges rounded so
      that they add up to it (largest remainder, each within one minor unit): BR-CO-10;
    * ``tax`` = round(net x rate / 100): the customer's one VAT category per invoice, so
      the VAT of that category (BR-CO-17) and the invoice's VAT total (BR-CO-14);
    * ``total`` = net + tax (BR-CO-13, BR-CO-15), amount due = total (BR-CO-16: nothing
      prepaid, no rounding amount).

    Line taxes are shown only as a split of the invoice tax over the lines (they add up).
    Invoices made before migration 0003 keep their figures (``legacy_amounts``).

Lifecycle
    ``Draft`` (generated; its invoice date may change) -> ``Issued`` (``issue_invoice``:
    immutable from then on, the seller and buyer are frozen into it) -> payments
    (``record_payment``, ``set_paid_status``: Unpaid, Pending, Part Paid, Paid) and
    ``Credited`` (``credit_invoice``: a credit note, type 381, in its own gapless series
    CN-1, CN-2..., referencing the invoice). A credited period may be invoiced again.

Audit
    One GENERATE entry per invoice with the invoice row as its after-document, and one
    GENERATE entry on ``invoice_lines`` (same key: the invoice id) listing its lines. The
    counter moves within those entries. Issuing, payments and paid status changes are
    UPDATE entries; a credit note is a CREATE entry plus the invoice's UPDATE.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import ConflictError, NotFound, ValidationError
from cxdesk.models import Cdr, Customer, Invoice, InvoiceCounter, InvoiceLine, utcnow
from cxdesk.models.cdr_staging import visible_cdrs
from cxdesk.models.base import MONEY_SCALE
from cxdesk.models.invoices import CreditNote
from cxdesk.services import options, party_checks, rollup
from cxdesk.services.actor import Actor
from cxdesk.services.customers import id_number
from cxdesk.services.einvoice.document import amount_places
from cxdesk.services.summary import check_period, period_end, period_label, period_start, summary_rows
from cxdesk.services.uow import jsonable, unit_of_work

KINDS = ("daily", "weekly", "monthly")
#: Invoice Schedule (customer field) -> period kind
SCHEDULE_KINDS = {"Daily": "daily", "Weekly": "weekly", "Monthly": "monthly"}
COUNTER_ID = 1
CREDIT_COUNTER_ID = 2
#: invoiced quantity of every line and its unit (UN/ECE Recommendation 20 "C62": one)
LINE_QUANTITY = Decimal(1)
LINE_UNIT = "C62"
#: English month names, whatever the locale (Qt sets the C library's from the environment)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
_MICRO = Decimal(1).scaleb(-MONEY_SCALE)
_HUNDRED = Decimal(100)
_SIXTY = Decimal(60)
_DAY = dt.timedelta(days=1)
_UTC = dt.timezone.utc
_PREC = 60  # decimal digits for money arithmetic: far beyond any amount the columns hold


# -- money ----------------------------------------------------------------------------
def minor_units(currency: str) -> int:
    """Decimals of the currency's minor unit (ISO 4217): 2 for most, 0 for JPY, 3 for KWD..."""
    return party_checks.minor_units(currency)


#: ISO 4217 currencies whose minor unit is not 1/100, from the maintained ISO list
MINOR_UNITS = {code: party_checks.minor_units(code) for code in party_checks.currency_codes()
               if party_checks.minor_units(code) != 2}


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def invoice_quantum(currency: str) -> Decimal:
    """The step of an invoice's amounts: the minor unit, but at most 2 decimals, as EN 16931
    allows no more (BR-DEC-*): 0.01 for EUR and for KWD (whose fils are 0.001), 1 for JPY."""
    return Decimal(1).scaleb(-amount_places(minor_units(currency)))


def round_invoice(value: Decimal, currency: str) -> Decimal:
    return value.quantize(invoice_quantum(currency), ROUND_HALF_UP)


def round_money(value: Decimal, currency: str) -> Decimal:
    """Round half-up (away from zero at .5) to the currency's minor unit."""
    return value.quantize(quantum(currency), ROUND_HALF_UP)


def tax_of(net: Decimal, tax_percent: Decimal) -> Decimal:
    """net x rate / 100, exactly."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return net * tax_percent / _HUNDRED


def vat_amount(net: Decimal, tax_percent: Decimal, currency: str) -> Decimal:
    """The VAT of one category: round(sum of its line nets x rate / 100) (BR-CO-17)."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return round_invoice(tax_of(net, tax_percent), currency)


def allocate(amounts: Sequence[Decimal], target: Decimal, step: Decimal) -> list[Decimal]:
    """``amounts`` rounded to multiples of ``step`` so that they add up to ``target``.

    Largest remainder: every amount is rounded down, then the units still missing go,
    one each, to the amounts that lost the most (earlier lines first on ties). When
    ``target`` is the rounded sum of the amounts, each result is within one step of its
    amount.
    """
    if not amounts:
        return []
    floors = [a.quantize(step, ROUND_FLOOR) for a in amounts]
    units = int((target - sum(floors, Decimal(0))) / step)
    order = sorted(range(len(amounts)), key=lambda i: (floors[i] - amounts[i], i))  # largest loss first
    if units < 0:
        order.reverse()
    for k in range(abs(units)):
        i = order[k % len(order)]
        floors[i] += step if units > 0 else -step
    return floors


def format_amount(value: Decimal, currency: str, with_code: bool = True) -> str:
    """1,234.50 EUR (the currency's decimals, half-up)."""
    places = minor_units(currency)
    text = f"{round_money(value, currency):,.{places}f}"
    return f"{text} {currency}" if with_code else text


# -- records --------------------------------------------------------------------------
@dataclass(frozen=True)
class LineRecord:
    position: int
    description: str
    period_start: dt.datetime
    period_end: dt.datetime  #: exclusive
    calls: int
    minutes: Decimal
    unit_price: Decimal  #: item net price: the line net (quantity 1); legacy: net per billed minute
    net: Decimal  #: in the minor unit (legacy: exact, 6 decimals)
    tax: Decimal  #: this line's share of the invoice tax (legacy: net x rate / 100, 6 decimals)
    total: Decimal  #: net + tax
    quantity: Decimal = LINE_QUANTITY  #: invoiced quantity; net = quantity x unit_price

    @property
    def last_day(self) -> dt.date:
        return (self.period_end - _DAY).date()


@dataclass(frozen=True)
class ShownLine:
    """A line as the invoice shows it: amounts rounded to the minor unit, columns adding up."""

    line: LineRecord
    net: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class InvoiceRecord:
    id: int
    number: int
    customer_id: int
    customer_name: str
    name: str
    period_kind: str
    period_start: dt.datetime
    period_end: dt.datetime  #: exclusive
    invoice_date: dt.date
    due_date: dt.date
    currency: str
    tax_percent: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal
    paid_status: str
    version: int
    updated_by: str
    updated_at: dt.datetime
    lines: tuple[LineRecord, ...] = field(default=())
    paid_amount: Decimal = Decimal(0)
    state: str = "Draft"
    issued_at: dt.datetime | None = None
    vat_category: str = "S"
    vat_exemption_reason: str = ""
    vat_exemption_code: str = ""
    legacy_amounts: bool = False
    #: JSON of the parties as issued ("" while a draft)
    seller: str = ""
    buyer: str = ""

    @property
    def is_draft(self) -> bool:
        return self.state == "Draft"

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.paid_amount

    @property
    def last_day(self) -> dt.date:
        return (self.period_end - _DAY).date()

    @property
    def period_text(self) -> str:
        first, last = self.period_start.date(), self.last_day
        return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"

    @property
    def net_shown(self) -> Decimal:
        return self.net if not self.legacy_amounts else round_money(self.net, self.currency)

    @property
    def tax_shown(self) -> Decimal:
        """Total - Net shown, so that the three printed figures add up."""
        return self.total - self.net_shown

    def shown_lines(self) -> list[ShownLine]:
        """The lines with nets adding up to Net shown and taxes to Tax shown."""
        step = quantum(self.currency) if self.legacy_amounts else invoice_quantum(self.currency)
        nets = allocate([ln.net for ln in self.lines], self.net_shown, step)
        taxes = allocate([ln.tax for ln in self.lines], self.tax_shown, step)
        return [ShownLine(ln, n, t, n + t) for ln, n, t in zip(self.lines, nets, taxes)]

    def amount(self, value: Decimal, with_code: bool = True) -> str:
        return format_amount(value, self.currency, with_code)


@dataclass(frozen=True)
class InvoiceRow:
    """One line of the invoice list."""

    id: int
    number: int
    customer_id: int
    customer_name: str
    name: str
    period_kind: str
    period_start: dt.datetime
    period_end: dt.datetime
    invoice_date: dt.date
    due_date: dt.date
    currency: str
    total: Decimal
    paid_status: str
    version: int
    state: str = "Issued"
    paid_amount: Decimal = Decimal(0)
    #: the credit note that cancels it ("" if none): "CN-3"
    credit_note: str = ""


@dataclass(frozen=True)
class Company:
    """The seller (Settings > Company): legal name, address, country, VAT ID, bank account."""

    name: str
    address: str  #: the street lines, one per line (up to 3)
    city: str = ""
    post_code: str = ""
    country: str = ""
    vat_id: str = ""
    registration_id: str = ""
    iban: str = ""
    bic: str = ""


@dataclass(frozen=True)
class AutoResult:
    created: list[InvoiceRecord]
    #: periods of the schedule left alone, one sentence each (partly invoiced already)
    skipped: list[str]

    def sentence(self) -> str:
        if not self.created:
            head = "no invoice was missing"
        else:
            numbers = ", ".join(str(i.number) for i in self.created)
            head = f"created {len(self.created)} invoice{'s' if len(self.created) != 1 else ''} ({numbers})"
        return head + (f"; {len(self.skipped)} period(s) skipped" if self.skipped else "")


# -- reads ----------------------------------------------------------------------------
def _record(inv: Invoice, customer_name: str, lines: Iterable[LineRecord] | None = None) -> InvoiceRecord:
    values = {f.name: getattr(inv, f.name) for f in fields(InvoiceRecord)
              if f.name not in ("customer_name", "lines")}
    if lines is None:
        lines = [LineRecord(**{f.name: getattr(ln, f.name) for f in fields(LineRecord)}) for ln in inv.lines]
    return InvoiceRecord(customer_name=customer_name, lines=tuple(lines), **values)


def credit_note_ref(number: int) -> str:
    """How a credit note's number is shown and typed: CN-3."""
    return f"CN-{number}"


def list_invoices(session: Session, customer_id: int | None = None) -> list[InvoiceRow]:
    """Invoices by number, of one customer or all, each with its credit note if any."""
    stmt = (select(*(getattr(Invoice, f.name) for f in fields(InvoiceRow)
                     if f.name not in ("customer_name", "credit_note")),
                   Customer.name.label("customer_name"), CreditNote.number.label("cn"))
            .join(Customer, Customer.id == Invoice.customer_id)
            .outerjoin(CreditNote, CreditNote.invoice_id == Invoice.id).order_by(Invoice.number))
    if customer_id is not None:
        stmt = stmt.where(Invoice.customer_id == customer_id)
    out = []
    for row in session.execute(stmt):
        values = row._asdict()
        cn = values.pop("cn")
        out.append(InvoiceRow(credit_note=credit_note_ref(cn) if cn else "", **values))
    return out


def get_invoice(session: Session, invoice_id: int) -> InvoiceRecord:
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"Invoice record {invoice_id} does not exist (any more); refresh the list.")
    return _record(inv, session.get(Customer, inv.customer_id).name)


def find_invoice(session: Session, number: int | str) -> InvoiceRecord:
    """An invoice by its number (the Invoice ID users see)."""
    text = str(number).strip()
    wanted = id_number(text)  # ASCII digits that fit the column; not "²" nor 10**30
    if wanted is None:
        raise ValidationError(f"'{text}' is not an invoice number; use the Invoice ID `cxdesk invoice list` shows.",
                              field="number")
    inv = session.scalars(select(Invoice).where(Invoice.number == wanted)).one_or_none()
    if inv is None:
        raise NotFound(f"There is no invoice number {wanted}; check it with `cxdesk invoice list`.")
    return _record(inv, session.get(Customer, inv.customer_id).name)


#: Company field -> option key
COMPANY_OPTIONS = {
    "name": "company-name", "address": "company-address", "city": "company-city",
    "post_code": "company-post-code", "country": "company-country", "vat_id": "company-vat-id",
    "registration_id": "company-registration-id", "iban": "company-iban", "bic": "company-bic",
}


def company(session: Session) -> Company:
    return Company(**{name: options.get(session, key) for name, key in COMPANY_OPTIONS.items()})


# -- periods --------------------------------------------------------------------------
def check_kind(period_kind: str) -> str:
    kind = (period_kind or "").strip().lower()
    if kind == "24h":
        raise ValidationError("Hour rows of the 24-hour view cannot be invoiced; switch the Summary to Daily, "
                              "Weekly or Monthly and tick the periods there.", field="period")
    if kind not in KINDS:
        check_period(kind)  # names the summary periods
        raise ValidationError(f"'{period_kind}' cannot be invoiced; use daily, weekly or monthly.", field="period")
    return kind


def invoice_name(kind: str, start: dt.datetime) -> str:
    """The Name column: the period as the Summary labels it ("January 2026" for a month)."""
    if kind == "monthly":
        return f"{MONTHS[start.month - 1]} {start.year}"
    return period_label(kind, start)


def _aligned(kind: str, start: dt.datetime) -> dt.datetime:
    if not isinstance(start, dt.datetime) or start.tzinfo is None:
        raise ValueError("period starts must be timezone-aware UTC datetimes")
    start = start.astimezone(_UTC)
    if period_start(kind, start) != start:
        raise ValidationError(f"{start:%Y-%m-%d %H:%M} UTC is not the start of a {kind} period; "
                              "tick the rows of the Summary again.", field="period")
    return start


def _covering(session: Session, customer_id: int, start: dt.datetime, end: dt.datetime) -> Invoice | None:
    """The first invoice of the customer that overlaps [start, end), if any (credited ones
    do not count: their period may be invoiced again)."""
    return session.scalars(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.period_start < end,
                              Invoice.period_end > start, Invoice.state != "Credited")
        .order_by(Invoice.number).limit(1)
    ).first()


def _covered_message(label: str, start: dt.datetime, end: dt.datetime, inv: Invoice, others: bool = False) -> str:
    """One sentence naming the invoice that covers [start, end); ``others``: more periods were ticked."""
    if inv.period_start <= start and inv.period_end >= end:
        advice = "untick it and generate the others" if others else "open that invoice instead of generating another"
        return f"{label} is already invoiced: invoice {inv.number} ({inv.name}) covers it; {advice}."
    advice = "untick it and generate the others" if others else "invoice the rest with shorter periods"
    return f"{label} is already invoiced in part: invoice {inv.number} ({inv.name}) covers part of it; {advice}."


# -- lines ----------------------------------------------------------------------------
def _minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / _SIXTY).quantize(_MICRO, ROUND_HALF_UP)


@dataclass(frozen=True)
class _RawLine:
    description: str
    start: dt.datetime
    end: dt.datetime
    calls: int
    seconds: int
    charge: Decimal  #: exact


def standard_lines(raw: Sequence[_RawLine], tax_percent: Decimal, currency: str) -> tuple[list[LineRecord], Decimal]:
    """The lines by EN 16931 and the invoice tax: nets rounded to add up to the rounded
    exact charge, quantity 1 at price = net, the tax (one category) split over the lines."""
    step = invoice_quantum(currency)
    net = round_invoice(sum((r.charge for r in raw), Decimal(0)), currency)
    nets = allocate([r.charge for r in raw], net, step)
    tax = vat_amount(net, tax_percent, currency)
    with localcontext() as ctx:
        ctx.prec = _PREC
        taxes = allocate([tax_of(n, tax_percent) for n in nets], tax, step)
    lines = [LineRecord(i, r.description, r.start, r.end, int(r.calls), _minutes(int(r.seconds)), n, n, t, n + t,
                        LINE_QUANTITY) for i, (r, n, t) in enumerate(zip(raw, nets, taxes), 1)]
    return lines, tax


def _day_lines(session: Session, customer_id: int, start: dt.datetime, end: dt.datetime) -> list[_RawLine]:
    rows = summary_rows(session, customer_id, "daily", start.date(), (end - _DAY).date())
    return [_RawLine(f"Calls on {r.label}", r.period_start, r.period_end, r.connected, r.billed_seconds,
                     r.customer_charge) for r in rows]


def _destination_lines(session: Session, customer_id: int, start: dt.datetime, end: dt.datetime) -> list[_RawLine]:
    rows = session.execute(
        select(Cdr.customer_card_dest_code, Cdr.customer_card_dest_name,
               func.sum(case((Cdr.duration > 0, 1), else_=0)), func.sum(Cdr.customer_duration),
               func.sum(Cdr.customer_charge))
        .where(Cdr.customer_id == customer_id, Cdr.dt >= start, Cdr.dt < end, visible_cdrs())
        .group_by(Cdr.customer_card_dest_code, Cdr.customer_card_dest_name)
    ).all()
    out = []
    for code, name, calls, seconds, net in sorted(rows, key=lambda r: (r[1].lower(), r[0])):
        description = f"{name} ({code})" if name and code else name or code or "Unknown destination"
        out.append(_RawLine(description, start, end, calls or 0, seconds or 0, net or Decimal(0)))
    return out


# -- generating -----------------------------------------------------------------------
def _lock_counter(session: Session, counter_id: int = COUNTER_ID) -> int:
    return session.execute(
        select(InvoiceCounter.last_number).where(InvoiceCounter.id == counter_id).with_for_update()
    ).scalar_one()


def _has_traffic(session: Session, customer_id: int, kind: str, start: dt.datetime) -> bool:
    return bool(summary_rows(session, customer_id, kind, start.date(), start.date()))


def _create(uow, customer: Customer, kind: str, start: dt.datetime, number: int, invoice_date: dt.date,
            grouping: str) -> InvoiceRecord:
    """Insert invoice ``number`` with its lines, audited; the counter is moved by the caller."""
    session = uow.session
    end = period_end(kind, start)
    make_lines = _destination_lines if grouping == "destination" else _day_lines
    lines, tax = standard_lines(make_lines(session, customer.id, start, end), customer.tax_percent, customer.currency)
    net = sum((ln.net for ln in lines), Decimal(0))
    total = net + tax
    inv = Invoice(
        number=number, customer_id=customer.id, name=invoice_name(kind, start), period_kind=kind,
        period_start=start, period_end=end, invoice_date=invoice_date,
        due_date=invoice_date + dt.timedelta(days=customer.invoice_due_days), currency=customer.currency,
        tax_percent=customer.tax_percent, net=net, tax=tax, total=total, paid_status="Unpaid",
        paid_amount=Decimal(0), state="Draft", vat_category=customer.vat_category,
        vat_exemption_reason=customer.vat_exemption_reason, vat_exemption_code=customer.vat_exemption_code,
        legacy_amounts=False, seller="", buyer="",
    )
    uow.add(inv, action="GENERATE", message=(
        f"Generated invoice {number} for customer {customer.id} ({customer.name}): {inv.name}, "
        f"{len(lines)} line{'s' if len(lines) != 1 else ''} by {grouping}, "
        f"total {format_amount(total, customer.currency)}"))
    uow.flush()
    if lines:
        rows = [{"invoice_id": inv.id, **{f.name: getattr(ln, f.name) for f in fields(LineRecord)}} for ln in lines]
        # one audit entry lists the lines (below) instead of one CREATE entry per line
        session.execute(insert(InvoiceLine.__table__), rows, execution_options={"cxdesk_audited": True})
    uow.record("GENERATE", "invoice_lines", inv.id, f"Lines of invoice {number} ({len(lines)}, by {grouping})",
               after={"invoice": number, "lines": [_line_doc(ln) for ln in lines]}, customer_id=customer.id)
    return _record(inv, customer.name, lines)


def _line_doc(ln: LineRecord) -> dict:
    return {"description": ln.description, "from": jsonable(ln.period_start), "to": jsonable(ln.period_end),
            "calls": ln.calls, "minutes": jsonable(ln.minutes), "quantity": jsonable(ln.quantity),
            "unit_price": jsonable(ln.unit_price),
            "net": jsonable(ln.net), "tax": jsonable(ln.tax), "total": jsonable(ln.total)}


def _move_counter(session: Session, last_number: int) -> None:
    # audited by the GENERATE entries of the invoices that took the numbers
    session.execute(update(InvoiceCounter.__table__).where(InvoiceCounter.id == COUNTER_ID)
                    .values(last_number=last_number), execution_options={"cxdesk_audited": True})


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"Customer {customer_id} does not exist (any more); refresh the list.")
    return customer


def generate_for_periods(
    db: Database,
    actor: Actor,
    customer_id: int,
    period_kind: str,
    period_starts: Iterable[dt.datetime],
    *,
    invoice_date: dt.date | None = None,
    now: dt.datetime | None = None,
    comment: str = "",
) -> list[InvoiceRecord]:
    """Generate Invoice for the rows ticked in the Summary: one invoice per period, all or none.

    ``period_kind`` is the Summary view ("daily", "weekly", "monthly"; "24h" is refused:
    hour rows cannot be invoiced) and ``period_starts`` the ``period_start`` of each
    ticked ``SummaryRow``. Refused (nothing created) when a period has not ended by
    ``now``, has no calls, or is already invoiced in full or in part (the message names
    the invoice). Invoice date: ``invoice_date`` or today (UTC); due date: invoice date
    + the customer's Invoice Due Days. Returns the new invoices, oldest period first.
    """
    actor.require("generate_invoices")
    kind = check_kind(period_kind)
    starts = sorted({_aligned(kind, s) for s in period_starts})
    if not starts:
        raise ValidationError("Tick the periods to invoice in the Action column first.", field="period")
    now = now or utcnow()
    invoice_date = invoice_date or now.astimezone(_UTC).date()
    for start in starts:
        if period_end(kind, start) > now:
            raise ValidationError(
                f"{invoice_name(kind, start)} has not ended yet (it ends {period_end(kind, start):%Y-%m-%d %H:%M} UTC); "
                "invoice it after that.", field="period")
    rollup.run(db)
    with unit_of_work(db, actor, comment) as uow:
        session = uow.session
        customer = _customer(session, customer_id)
        last = _lock_counter(session)  # from here on, no other workstation generates
        for start in starts:
            end = period_end(kind, start)
            covering = _covering(session, customer.id, start, end)
            if covering is not None:
                raise ConflictError(_covered_message(invoice_name(kind, start), start, end, covering, len(starts) > 1))
            if not _has_traffic(session, customer.id, kind, start):
                raise ValidationError(f"{invoice_name(kind, start)} has no calls of {customer.name} to invoice.",
                                      field="period")
        grouping = options.get(session, "invoice-line-grouping")
        created = [_create(uow, customer, kind, start, last + i, invoice_date, grouping)
                   for i, start in enumerate(starts, 1)]
        _move_counter(session, last + len(created))
    return created


def _missing(session: Session, customer: Customer, cutoff: dt.datetime) -> tuple[list[dt.datetime], list[str]]:
    """Schedule periods that ended by ``cutoff``, have traffic and no invoice; and the
    sentences for those that are invoiced in part (left alone)."""
    kind = SCHEDULE_KINDS.get(customer.invoice_schedule, "monthly")
    existing = session.scalars(select(Invoice).where(Invoice.customer_id == customer.id)
                               .order_by(Invoice.number)).all()
    starts, skipped = [], []
    for row in summary_rows(session, customer.id, kind):
        start, end = row.period_start, row.period_end
        if end > cutoff:
            break
        covering = next((i for i in existing if i.period_start < end and i.period_end > start), None)
        if covering is None:
            starts.append(start)
        elif not (covering.period_start <= start and covering.period_end >= end):
            skipped.append(f"{customer.name}: " + _covered_message(invoice_name(kind, start), start, end, covering))
    return starts, skipped


def auto_generate(
    db: Database,
    actor: Actor,
    customer_id: int | None = None,
    *,
    until: dt.date | None = None,
    now: dt.datetime | None = None,
    comment: str = "",
) -> AutoResult:
    """Auto Generate Invoice: every invoice missing under the Invoice Schedule of one
    customer (or of all), for periods that ended by ``now`` (and by the end of the day
    ``until``) and have traffic. Idempotent: a second run creates nothing. Each
    customer's invoices are made in one transaction; invoice date = today (UTC)."""
    actor.require("generate_invoices")
    now = now or utcnow()
    cutoff = now
    if until is not None:
        cutoff = min(now, dt.datetime(until.year, until.month, until.day, tzinfo=_UTC) + _DAY)
    rollup.run(db)
    if customer_id is None:
        with db.read_session() as s:
            ids = list(s.scalars(select(Customer.id).order_by(Customer.id)))
    else:
        ids = [customer_id]
    created: list[InvoiceRecord] = []
    skipped: list[str] = []
    for cid in ids:
        with unit_of_work(db, actor, comment) as uow:
            session = uow.session
            customer = _customer(session, cid)
            last = _lock_counter(session)
            starts, notes = _missing(session, customer, cutoff)
            skipped += notes
            if not starts:
                continue
            kind = SCHEDULE_KINDS.get(customer.invoice_schedule, "monthly")
            grouping = options.get(session, "invoice-line-grouping")
            made = [_create(uow, customer, kind, start, last + i, now.astimezone(_UTC).date(), grouping)
                    for i, start in enumerate(starts, 1)]
            _move_counter(session, last + len(made))
        created += made
    return AutoResult(created, skipped)


# -- lifecycle (cxdesk/services/invoice_lifecycle.py) -----------------------------------
def set_paid_status(db: Database, actor: Actor, invoice_id: int, status: str, expected_version: int | None,
                    comment: str = "") -> InvoiceRecord:
    """Paid, Unpaid, Pending or Part Paid of an issued invoice; see invoice_lifecycle."""
    from cxdesk.services import invoice_lifecycle

    return invoice_lifecycle.set_paid_status(db, actor, invoice_id, status, expected_version, comment)


# -- Excel ----------------------------------------------------------------------------
def export_invoice_xlsx(actor: Actor, invoice: InvoiceRecord, issuer: Company, path: str | Path) -> None:
    """The invoice as an Excel workbook: issuer and customer, the lines, net, tax, total.

    Amounts are the figures the invoice shows (rounded, adding up), as numbers with the
    currency's number format; the file appears only when complete.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from cxdesk.services.export import atomic_file, number_format
    from cxdesk.services.export_safety import safe_text as text
    from cxdesk.services.table import Column

    actor.require("export")
    if Path(path).suffix.lower() != ".xlsx":
        raise ValidationError(f"Cannot write '{Path(path).name}': the name must end in .xlsx.", field="path")
    places = minor_units(invoice.currency)
    money = number_format(Column("m", "m", kind="money", decimals=places), invoice.currency)
    minutes = number_format(Column("n", "n", kind="minutes", decimals=2))
    price = number_format(Column("p", "p", kind="money", decimals=max(places, 4)))
    bold = Font(bold=True)

    wb = Workbook()
    ws = wb.active
    ws.title = f"Invoice {invoice.number}"
    wb.properties.title = f"Invoice {invoice.number}"
    wb.properties.creator = "cxdesk"
    ws.append([text(issuer.name or "")])
    ws["A1"].font = Font(bold=True, size=14)
    for line in (issuer.address or "").splitlines() + [f"{issuer.post_code} {issuer.city}".strip(), issuer.country,
                                                        f"VAT ID {issuer.vat_id}" if issuer.vat_id else ""]:
        if line:
            ws.append([text(line)])
    ws.append([])
    ws.append(["Invoice", invoice.number])
    ws.cell(ws.max_row, 1).font = Font(bold=True, size=14)
    ws.cell(ws.max_row, 2).font = Font(bold=True, size=14)
    ws.cell(ws.max_row, 2).alignment = Alignment(horizontal="left")
    for label, value in (("Customer", invoice.customer_name), ("Customer ID", invoice.customer_id),
                         ("Invoice date", invoice.invoice_date), ("Due date", invoice.due_date),
                         ("Period (UTC)", f"{invoice.name}: {invoice.period_text}"),
                         ("Currency", invoice.currency), ("State", invoice.state), ("Paid", invoice.paid_status)):
        value = text(value)  # every text through the one guard; numbers and dates pass as they are
        ws.append([label, value])
        ws.cell(ws.max_row, 1).font = bold
        cell = ws.cell(ws.max_row, 2)
        cell.alignment = Alignment(horizontal="left")
        if isinstance(value, dt.date):
            cell.number_format = "yyyy-mm-dd"
    ws.append([])
    headers = ["Description", "From (UTC)", "To (UTC)", "Calls", "Minutes", "Unit price",
               "Net", f"Tax {invoice.tax_percent.normalize():f} %", "Total"]
    ws.append(headers)
    for c in range(1, len(headers) + 1):
        ws.cell(ws.max_row, c).font = bold
    formats = [None, "yyyy-mm-dd", "yyyy-mm-dd", "#,##0", minutes, price, money, money, money]
    for shown in invoice.shown_lines():
        ln = shown.line
        ws.append([text(ln.description), ln.period_start.date(), ln.last_day, ln.calls, ln.minutes,
                   ln.unit_price if ln.minutes else None, shown.net, shown.tax, shown.total])
        for c, fmt in enumerate(formats, 1):
            if fmt:
                ws.cell(ws.max_row, c).number_format = fmt
    ws.append([])
    for label, value in (("Net", invoice.net_shown),
                         (f"Tax ({invoice.tax_percent.normalize():f} %)", invoice.tax_shown),
                         (f"Total {invoice.currency}", invoice.total)):
        ws.append([None] * 7 + [label, value])
        ws.cell(ws.max_row, 8).font = bold
        ws.cell(ws.max_row, 9).number_format = money
        ws.cell(ws.max_row, 9).font = bold
    for letter, width in zip("ABCDEFGHI", (38, 12, 12, 9, 12, 12, 16, 16, 18)):
        ws.column_dimensions[letter].width = width
    with atomic_file(path) as temp:
        wb.save(temp)


# -- EN 16931 (cxdesk/services/invoice_document.py) -------------------------------------
def einvoice_document(session: Session, invoice_id: int):
    """The invoice as the EN 16931 ``Document`` (services/einvoice/document.py) that the
    CII, UBL, Factur-X and PDF writers take."""
    from cxdesk.services import invoice_document

    return invoice_document.invoice_document(session, invoice_id)
