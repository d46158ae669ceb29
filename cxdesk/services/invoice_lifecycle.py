"""An invoice's life: Draft -> Issued (immutable) -> payments -> Credited by a credit note.

* A generated invoice is a **Draft**: its invoice date may still change
  (``set_invoice_date``); nothing else about it is typed by hand.
* ``issue_invoice`` makes it **Issued**: it checks the seller and buyer data EN 16931
  requires (naming the rule) and freezes both into the invoice, so a later change of
  Settings > Company or of the customer does not change an issued invoice. From then on
  every change of the document is refused; a correction is a credit note.
* Payments are recorded on issued invoices only (``record_payment``, ``set_paid_status``):
  Unpaid, Pending, Part Paid (some paid), Paid.
* ``credit_invoice`` cancels an issued invoice in full with a **credit note** (type 381)
  that references it; credit notes are numbered CN-1, CN-2... in their own gapless series
  (``invoice_counter`` row 2, locked like the invoice series). The invoice becomes
  **Credited** and its period may be invoiced again.

Everything is audited in the same transaction (UPDATE entries; CREATE for a credit note).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import ConflictError, NotFound, ValidationError
from cxdesk.models import PAID_STATUSES, Customer, Invoice, InvoiceCounter, utcnow
from cxdesk.models.invoices import CreditNote
from cxdesk.services import invoices
from cxdesk.services.actor import Actor
from cxdesk.services.customers import check_version, id_number, parse_money
from cxdesk.services.party_checks import VAT_CATEGORY_NAMES
from cxdesk.services.uow import unit_of_work

REASON_MAX = 500
#: categories whose seller must have a VAT ID (BR-S-02, BR-Z-02, BR-E-02, BR-AE-02, BR-IC-02)
SELLER_VAT_RULES = {"S": "BR-S-02", "Z": "BR-Z-02", "E": "BR-E-02", "AE": "BR-AE-02", "K": "BR-IC-02"}
#: categories whose buyer must have a VAT ID (BR-AE-02, BR-IC-02)
BUYER_VAT_RULES = {"AE": "BR-AE-02", "K": "BR-IC-02"}


@dataclass(frozen=True)
class CreditNoteRecord:
    id: int
    number: int
    invoice_id: int
    invoice_number: int
    invoice_date: dt.date  #: of the invoice it corrects
    customer_id: int
    customer_name: str
    credit_date: dt.date
    reason: str
    currency: str
    net: Decimal
    tax: Decimal
    total: Decimal
    seller: str
    buyer: str
    version: int

    @property
    def ref(self) -> str:
        return invoices.credit_note_ref(self.number)


# -- parties --------------------------------------------------------------------------
def buyer_party(customer: Customer) -> dict:
    """The buyer as an invoice names it (BG-7)."""
    return {"name": customer.name, "address": customer.address_lines, "city": customer.city,
            "post_code": customer.post_code, "country": customer.country, "vat_id": customer.vat_id,
            "buyer_reference": customer.buyer_reference, "customer_id": customer.id}


def seller_party(session: Session) -> dict:
    return dataclasses.asdict(invoices.company(session))


def check_parties(seller: dict, buyer: dict, category: str) -> None:
    """The party data EN 16931 requires for an invoice of this VAT category, one rule at a time."""
    company = "set it in Settings > Company"
    customer = f"set it in the customer's details ({buyer['name']})"
    if not seller.get("name"):
        raise ValidationError(f"BR-06: the seller's legal name is missing; {company}.", field="company-name")
    if not seller.get("country"):
        raise ValidationError(f"BR-09: the seller's country is missing; {company}.", field="company-country")
    if category in SELLER_VAT_RULES and not seller.get("vat_id"):
        raise ValidationError(f"{SELLER_VAT_RULES[category]}: the seller's VAT ID is missing; {company}.",
                              field="company-vat-id")
    if not buyer.get("country"):
        raise ValidationError(f"BR-11: the buyer's country is missing; {customer}.", field="country")
    if category in BUYER_VAT_RULES and not buyer.get("vat_id"):
        raise ValidationError(f"{BUYER_VAT_RULES[category]}: the buyer's VAT ID is missing for "
                              f"{VAT_CATEGORY_NAMES[category].lower()}; {customer}.", field="vat_id")


# -- loading and refusing ---------------------------------------------------------------
def _locked(session: Session, invoice_id: int) -> Invoice:
    inv = session.get(Invoice, invoice_id, with_for_update=True, populate_existing=True)
    if inv is None:
        raise NotFound(f"Invoice record {invoice_id} does not exist (any more); refresh the list.")
    return inv


def refuse_unless_draft(inv: Invoice) -> None:
    """Issued and credited invoices are immutable: one sentence saying what to do instead."""
    if inv.state != "Draft":
        raise ConflictError(f"Invoice {inv.number} is {inv.state.lower()} and can no longer be changed; "
                            f"correct it with a credit note (`cxdesk invoice credit {inv.number}`).")


def _refuse_unless_issued(inv: Invoice, what: str) -> None:
    if inv.state == "Draft":
        raise ConflictError(f"Invoice {inv.number} is a draft; issue it before {what}.")
    if inv.state == "Credited":
        raise ConflictError(f"Invoice {inv.number} is credited by a credit note; {what} is no longer possible.")


def _result(session: Session, inv: Invoice) -> invoices.InvoiceRecord:
    return invoices._record(inv, session.get(Customer, inv.customer_id).name)


# -- draft ----------------------------------------------------------------------------
def set_invoice_date(db: Database, actor: Actor, invoice_id: int, invoice_date: dt.date,
                     expected_version: int | None, comment: str = "") -> invoices.InvoiceRecord:
    """Move a draft's invoice date; the due date moves with it (same number of days)."""
    actor.require("edit_invoices")
    if not isinstance(invoice_date, dt.date) or isinstance(invoice_date, dt.datetime):
        raise ValidationError("Type the invoice date as YYYY-MM-DD.", field="invoice_date")
    with unit_of_work(db, actor, comment) as uow:
        inv = _locked(uow.session, invoice_id)
        check_version(inv, expected_version, f"invoice {inv.number}")
        refuse_unless_draft(inv)
        if inv.invoice_date != invoice_date:
            old = inv.invoice_date
            inv.due_date = invoice_date + (inv.due_date - inv.invoice_date)
            inv.invoice_date = invoice_date
            uow.note(inv, message=f"Changed the invoice date of draft invoice {inv.number} from {old} to {invoice_date}")
            uow.flush()
        return _result(uow.session, inv)


def issue_invoice(db: Database, actor: Actor, invoice_id: int, expected_version: int | None = None,
                  comment: str = "") -> invoices.InvoiceRecord:
    """Draft -> Issued: the seller and buyer are checked and frozen into the invoice."""
    actor.require("edit_invoices")
    with unit_of_work(db, actor, comment) as uow:
        session = uow.session
        inv = _locked(session, invoice_id)
        check_version(inv, expected_version, f"invoice {inv.number}")
        if inv.state != "Draft":
            raise ConflictError(f"Invoice {inv.number} is already {inv.state.lower()}.")
        seller, buyer = seller_party(session), buyer_party(session.get(Customer, inv.customer_id))
        check_parties(seller, buyer, inv.vat_category)
        inv.seller, inv.buyer = json.dumps(seller, sort_keys=True), json.dumps(buyer, sort_keys=True)
        inv.state, inv.issued_at = "Issued", uow.now
        uow.note(inv, message=f"Issued invoice {inv.number} ({inv.name}), total "
                              f"{invoices.format_amount(inv.total, inv.currency)}")
        uow.flush()
        return _result(session, inv)


# -- payments -------------------------------------------------------------------------
def _paid_status(inv: Invoice) -> str:
    if inv.paid_amount <= 0:
        return "Unpaid"
    return "Paid" if inv.paid_amount >= inv.total else "Part Paid"


def record_payment(db: Database, actor: Actor, invoice_id: int, amount: Decimal | int | str,
                   expected_version: int | None = None, comment: str = "") -> invoices.InvoiceRecord:
    """A payment received for an issued invoice: Part Paid until the total is reached, then Paid."""
    actor.require("edit_invoices")
    value = parse_money(amount, "amount", "The payment")
    with unit_of_work(db, actor, comment) as uow:
        inv = _locked(uow.session, invoice_id)
        check_version(inv, expected_version, f"invoice {inv.number}")
        _refuse_unless_issued(inv, "recording a payment")
        step = invoices.quantum(inv.currency)
        if value <= 0:
            raise ValidationError("The payment must be more than zero.", field="amount")
        if value % step:
            raise ValidationError(f"{inv.currency} amounts have {invoices.minor_units(inv.currency)} decimals; "
                                  f"round the payment.", field="amount")
        outstanding = inv.total - inv.paid_amount
        if value > outstanding:
            raise ValidationError(f"The payment is more than the {invoices.format_amount(outstanding, inv.currency)} "
                                  f"still due on invoice {inv.number}; check the amount.", field="amount")
        inv.paid_amount += value
        inv.paid_status = _paid_status(inv)
        uow.note(inv, message=f"Recorded a payment of {invoices.format_amount(value, inv.currency)} for invoice "
                              f"{inv.number}: {inv.paid_status.lower()}, "
                              f"{invoices.format_amount(inv.total - inv.paid_amount, inv.currency)} due")
        uow.flush()
        return _result(uow.session, inv)


def set_paid_status(db: Database, actor: Actor, invoice_id: int, status: str, expected_version: int | None,
                    comment: str = "") -> invoices.InvoiceRecord:
    """Unpaid (no payment), Pending, Paid (paid in full) or Part Paid (only with part recorded)."""
    actor.require("edit_invoices")
    wanted = str(status or "").strip().lower().replace("partly", "part")
    new = next((s for s in PAID_STATUSES if s.lower() == wanted), None)
    if new is None:
        raise ValidationError(f"'{status}' is not a paid status; choose one of: {', '.join(PAID_STATUSES)}.",
                              field="paid_status")
    with unit_of_work(db, actor, comment) as uow:
        inv = _locked(uow.session, invoice_id)
        check_version(inv, expected_version, f"invoice {inv.number}")
        old = inv.paid_status
        if old == new:
            return _result(uow.session, inv)
        _refuse_unless_issued(inv, "changing its paid status")
        if new == "Part Paid" and not 0 < inv.paid_amount < inv.total:
            raise ValidationError(f"Record the payment received for invoice {inv.number} instead; it is then "
                                  "part paid by itself.", field="paid_status")
        inv.paid_status = new
        inv.paid_amount = {"Paid": inv.total, "Unpaid": Decimal(0)}.get(new, inv.paid_amount)
        uow.note(inv, message=f"Changed the paid status of invoice {inv.number} from {old} to {new}")
        uow.flush()
        return _result(uow.session, inv)


# -- credit notes ---------------------------------------------------------------------
def _credit_record(session: Session, cn: CreditNote) -> CreditNoteRecord:
    inv = session.get(Invoice, cn.invoice_id)
    return CreditNoteRecord(
        id=cn.id, number=cn.number, invoice_id=inv.id, invoice_number=inv.number, invoice_date=inv.invoice_date,
        customer_id=cn.customer_id, customer_name=session.get(Customer, cn.customer_id).name,
        credit_date=cn.credit_date, reason=cn.reason, currency=cn.currency, net=cn.net, tax=cn.tax, total=cn.total,
        seller=cn.seller, buyer=cn.buyer, version=cn.version)


def credit_invoice(db: Database, actor: Actor, invoice_id: int, reason: str = "", *,
                   credit_date: dt.date | None = None, expected_version: int | None = None,
                   comment: str = "") -> CreditNoteRecord:
    """A credit note cancelling issued invoice ``invoice_id`` in full; the invoice becomes Credited."""
    actor.require("edit_invoices")
    why = " ".join(str(reason or "").split())
    if len(why) > REASON_MAX:
        raise ValidationError(f"The reason is too long ({len(why)} characters; at most {REASON_MAX}).", field="reason")
    with unit_of_work(db, actor, comment or why) as uow:
        session = uow.session
        inv = _locked(session, invoice_id)
        check_version(inv, expected_version, f"invoice {inv.number}")
        if inv.state == "Draft":
            raise ConflictError(f"Invoice {inv.number} is a draft and was never issued, so there is nothing to "
                                "credit; issue it first.")
        if inv.state == "Credited":
            done = session.scalars(select(CreditNote.number).where(CreditNote.invoice_id == inv.id)).first()
            raise ConflictError(f"Invoice {inv.number} is already credited by credit note "
                                f"{invoices.credit_note_ref(done)}.")
        customer = session.get(Customer, inv.customer_id)
        seller, buyer = seller_party(session), buyer_party(customer)
        check_parties(seller, buyer, inv.vat_category)
        number = invoices._lock_counter(session, invoices.CREDIT_COUNTER_ID) + 1
        cn = CreditNote(number=number, invoice_id=inv.id, customer_id=inv.customer_id,
                        credit_date=credit_date or utcnow().date(), reason=why, currency=inv.currency,
                        net=inv.net, tax=inv.tax, total=inv.total,
                        seller=json.dumps(seller, sort_keys=True), buyer=json.dumps(buyer, sort_keys=True))
        uow.add(cn, action="CREATE", message=(
            f"Credit note {invoices.credit_note_ref(number)} cancels invoice {inv.number} ({inv.name}), total "
            f"{invoices.format_amount(inv.total, inv.currency)}" + (f": {why}" if why else "")))
        inv.state = "Credited"
        uow.note(inv, message=f"Invoice {inv.number} credited by credit note {invoices.credit_note_ref(number)}")
        # audited by the credit note's CREATE entry, as the invoice counter is by GENERATE
        session.execute(update(InvoiceCounter.__table__).where(InvoiceCounter.id == invoices.CREDIT_COUNTER_ID)
                        .values(last_number=number), execution_options={"cxdesk_audited": True})
        uow.flush()
        return _credit_record(session, cn)


def find_credit_note(session: Session, ref: int | str) -> CreditNoteRecord:
    """A credit note by its number: CN-3 (or 3)."""
    text = str(ref).strip().upper()
    digits = text[3:] if text.startswith("CN-") else text
    number = id_number(digits)
    if number is None:
        raise ValidationError(f"'{str(ref).strip()}' is not a credit note number; type it as CN-3.", field="number")
    cn = session.scalars(select(CreditNote).where(CreditNote.number == number)).one_or_none()
    if cn is None:
        raise NotFound(f"There is no credit note {invoices.credit_note_ref(number)}; check it with "
                       "`cxdesk invoice list`.")
    return _credit_record(session, cn)


def get_credit_note(session: Session, credit_note_id: int) -> CreditNoteRecord:
    cn = session.get(CreditNote, credit_note_id)
    if cn is None:
        raise NotFound(f"Credit note record {credit_note_id} does not exist (any more); refresh the list.")
    return _credit_record(session, cn)


def list_credit_notes(session: Session, customer_id: int | None = None) -> list[CreditNoteRecord]:
    stmt = select(CreditNote).order_by(CreditNote.number)
    if customer_id is not None:
        stmt = stmt.where(CreditNote.customer_id == customer_id)
    return [_credit_record(session, cn) for cn in session.scalars(stmt)]
