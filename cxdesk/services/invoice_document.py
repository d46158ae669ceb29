"""An invoice or credit note from the database as the EN 16931 ``Document`` of
``services/einvoice/document.py`` (which the CII, UBL, Factur-X and PDF writers take).

The figures are the ones stored (see ``services/invoices.py``): nothing is recomputed
here, only stated: amounts in the invoice's step (at most 2 decimals), one VAT breakdown
(an invoice has its customer's one VAT category), totals by BR-CO-10..16 (nothing
prepaid: payments recorded later do not change the document). Parties: a draft states
Settings > Company and the customer as they are now; an issued invoice and a credit note
state the parties frozen into them when they were issued. Category O (not subject to VAT)
states no VAT IDs (BR-O-02..04). Category K (intra-community supply) states the buyer's
country as the deliver-to country (BR-IC-12); its invoicing period (BR-IC-11) is the
invoice's period, as on every invoice.
"""
from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxdesk.errors import NotFound
from cxdesk.models import Customer, Invoice
from cxdesk.models.invoices import CreditNote
from cxdesk.services import invoice_lifecycle as life
from cxdesk.services import invoices
from cxdesk.services.einvoice import document as doc


def _number(value: Decimal) -> Decimal:
    """A rate or quantity without trailing zeros and without an exponent: 17.5, 20, 1."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _party(data: dict, with_vat_id: bool) -> doc.Party:
    lines = tuple(line for line in (data.get("address") or "").splitlines() if line.strip())
    return doc.Party(name=data.get("name", ""), address_lines=lines, city=data.get("city", ""),
                     post_code=data.get("post_code", ""), country_code=data.get("country", ""),
                     vat_id=data.get("vat_id", "") if with_vat_id else "",
                     registration_id=data.get("registration_id", ""))


def _parties(session: Session, inv: Invoice, frozen: tuple[str, str]) -> tuple[dict, dict]:
    seller, buyer = frozen
    if seller and buyer:
        return json.loads(seller), json.loads(buyer)
    return life.seller_party(session), life.buyer_party(session.get(Customer, inv.customer_id))


def _lines(record: invoices.InvoiceRecord, category: str, rate: Decimal, step: Decimal) -> tuple[doc.Line, ...]:
    out = []
    for shown in record.shown_lines():
        ln = shown.line
        # legacy lines (before migration 0003) had a per-minute price: state quantity 1 at the net
        quantity, price = ((ln.quantity, ln.unit_price) if not record.legacy_amounts else (Decimal(1), shown.net))
        out.append(doc.Line(
            id=str(ln.position), description=ln.description, quantity=_number(quantity), unit_code=invoices.LINE_UNIT,
            unit_price=price.quantize(step), net=shown.net.quantize(step), vat_category=category, vat_rate=rate,
            period_start=ln.period_start.date(), period_end=ln.last_day,
            note=f"{ln.calls} calls, {ln.minutes.quantize(Decimal('0.01'))} billed minutes"))
    return tuple(out)


def _build(session: Session, inv: Invoice, *, type_code: str, number: str, issue_date, frozen: tuple[str, str],
           preceding: Invoice | None = None, note: str = "") -> doc.Document:
    record = invoices.get_invoice(session, inv.id)
    step = invoices.invoice_quantum(inv.currency) if not inv.legacy_amounts else invoices.quantum(inv.currency)
    category = inv.vat_category
    rate = _number(inv.tax_percent)
    seller, buyer = _parties(session, inv, frozen)
    with_vat_ids = category != "O"
    net, tax = record.net_shown.quantize(step), record.tax_shown.quantize(step)
    total = net + tax
    payment = None
    if seller.get("iban"):
        payment = doc.PaymentMeans(iban=seller["iban"], bic=seller.get("bic", ""), payment_reference=number,
                                   account_name=seller.get("name", ""))
    return doc.Document(
        type_code=type_code, number=number, issue_date=issue_date, currency=inv.currency,
        seller=_party(seller, with_vat_ids), buyer=_party(buyer, with_vat_ids),
        lines=_lines(record, category, rate, step),
        breakdown=(doc.VatBreakdown(category=category, rate=rate, taxable_amount=net, tax_amount=tax,
                                    exemption_reason_code=inv.vat_exemption_code,
                                    exemption_reason=inv.vat_exemption_reason),),
        totals=doc.Totals(line_total=net, tax_exclusive=net, tax=tax, tax_inclusive=total, payable=total),
        due_date=inv.due_date if type_code == doc.INVOICE else None,
        buyer_reference=buyer.get("buyer_reference", ""),
        preceding_number=str(preceding.number) if preceding is not None else "",
        preceding_date=preceding.invoice_date if preceding is not None else None,
        period_start=inv.period_start.date(), period_end=record.last_day, payment=payment,
        delivery_country=buyer.get("country", "") if category == "K" else "",
        payment_terms=f"Due {inv.due_date.isoformat()}" if type_code == doc.INVOICE else "",
        notes=(note,) if note else ())


def invoice_document(session: Session, invoice_id: int) -> doc.Document:
    """The invoice (type 380) with id ``invoice_id``."""
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"Invoice record {invoice_id} does not exist (any more); refresh the list.")
    return _build(session, inv, type_code=doc.INVOICE, number=str(inv.number), issue_date=inv.invoice_date,
                  frozen=(inv.seller, inv.buyer))


def credit_note_document(session: Session, credit_note_id: int) -> doc.Document:
    """The credit note (type 381) with id ``credit_note_id``: the invoice's lines and amounts,
    the invoice named as the one it corrects (BG-3), the reason as a note."""
    cn = session.get(CreditNote, credit_note_id)
    if cn is None:
        raise NotFound(f"Credit note record {credit_note_id} does not exist (any more); refresh the list.")
    inv = session.get(Invoice, cn.invoice_id)
    return _build(session, inv, type_code=doc.CREDIT_NOTE, number=invoices.credit_note_ref(cn.number),
                  issue_date=cn.credit_date, frozen=(cn.seller, cn.buyer), preceding=inv,
                  note=f"Cancels invoice {inv.number}" + (f": {cn.reason}" if cn.reason else ""))


def document_for(session: Session, ref: str) -> doc.Document:
    """By the number a user types: an invoice number (7) or a credit note (CN-3)."""
    text = str(ref).strip()
    if text.upper().startswith("CN-"):
        return credit_note_document(session, life.find_credit_note(session, text).id)
    return invoice_document(session, invoices.find_invoice(session, text).id)


def credit_note_id_of(session: Session, invoice_id: int) -> int | None:
    return session.scalars(select(CreditNote.id).where(CreditNote.invoice_id == invoice_id)).first()
