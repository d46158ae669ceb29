"""Issue 16: the invoice's life (draft, issued and immutable, payments, credit notes in their
own gapless series), the seller and buyer checked and frozen at issue, the EN 16931
document built from the database (totals by BR-CO-10..16, valid in both syntaxes), and
migration 0003 keeping the invoices made before it."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from cxdesk.errors import ConflictError, PermissionDenied, ValidationError
from cxdesk.models import AuditEntry, Customer, Invoice, InvoiceCounter
from cxdesk.models.invoices import CreditNote
from cxdesk.services import invoice_document, invoice_lifecycle as life, invoices, options
from cxdesk.services.uow import unit_of_work
from tests.unit.test_invoices import FEB, JAN, NOW, cdr, day, insert, one_sentence

SELLER = {"company-name": "Example Carrier GmbH", "company-address": "Friedrichstrasse 1", "company-city": "Berlin",
          "company-post-code": "10115", "company-country": "DE", "company-vat-id": "DE123456789",
          "company-registration-id": "HRB 12345", "company-iban": "DE89370400440532013000",
          "company-bic": "COBADEFFXXX"}


def set_seller(db, admin, **changes) -> None:
    for key, value in {**SELLER, **changes}.items():
        options.set_value(db, admin, key, value)


def customer(make_customer, db, name: str, currency: str, category: str, rate: str, **fields) -> int:
    reasons = {"E": "Exempt under Article 132 of Directive 2006/112/EC", "AE": "Reverse charge"}
    defaults = {"country": "FR", "city": "Paris", "post_code": "75002", "address_lines": "1 rue de la Paix",
                "vat_id": "FR12345678901", "vat_exemption_reason": reasons.get(category, "")}
    return make_customer(db, name, currency=currency, vat_category=category, tax_percent=Decimal(rate),
                         **{**defaults, **fields})


def state(db) -> tuple:
    with db.read_session() as s:
        return ([tuple(r) for r in s.execute(select(*Invoice.__table__.c).order_by(Invoice.id))],
                [tuple(r) for r in s.execute(select(*CreditNote.__table__.c).order_by(CreditNote.id))],
                [tuple(r) for r in s.execute(select(*InvoiceCounter.__table__.c).order_by(InvoiceCounter.id))],
                s.scalar(select(func.count()).select_from(AuditEntry)))


@pytest.fixture
def draft(db, make_customer, admin, accountant) -> invoices.InvoiceRecord:
    set_seller(db, admin)
    cid = customer(make_customer, db, "Acme SARL", "EUR", "S", "20")
    insert(db, admin, [cdr("a", day(5), cid, 60, "8.4151"), cdr("b", day(6), cid, 60, "1.004")])
    return invoices.generate_for_periods(db, accountant, cid, "monthly", [JAN], now=NOW)[0]


# -- issuing ---------------------------------------------------------------------------------
def test_a_generated_invoice_is_a_draft_and_issuing_freezes_the_parties(db, draft, admin, accountant):
    assert (draft.state, draft.seller, draft.buyer, draft.issued_at) == ("Draft", "", "", None)
    moved = life.set_invoice_date(db, accountant, draft.id, dt.date(2026, 2, 10), draft.version)
    assert (moved.invoice_date, moved.due_date) == (dt.date(2026, 2, 10), dt.date(2026, 3, 12))

    issued = life.issue_invoice(db, accountant, draft.id, moved.version, "sent by post")
    assert (issued.state, issued.version) == ("Issued", moved.version + 1)
    assert json.loads(issued.seller)["vat_id"] == "DE123456789"
    assert json.loads(issued.buyer) == {
        "name": "Acme SARL", "address": "1 rue de la Paix", "city": "Paris", "post_code": "75002", "country": "FR",
        "vat_id": "FR12345678901", "buyer_reference": "", "customer_id": draft.customer_id}
    with db.read_session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert (entry.action, entry.table_name, entry.comment) == ("UPDATE", "invoices", "sent by post")
    assert entry.message == f"Issued invoice {draft.number} (January 2026), total {issued.amount(issued.total)}"

    # later changes of the seller and the buyer do not change the issued invoice
    set_seller(db, admin, **{"company-name": "Renamed Carrier AG", "company-vat-id": "DE999999999"})
    with unit_of_work(db, admin) as uow:
        uow.session.get(Customer, draft.customer_id).city = "Lyon"
    with db.read_session() as s:
        doc = invoices.einvoice_document(s, draft.id)
    assert (doc.seller.name, doc.seller.vat_id, doc.buyer.city) == ("Example Carrier GmbH", "DE123456789", "Paris")


def test_an_issued_invoice_cannot_change(db, draft, accountant):
    issued = life.issue_invoice(db, accountant, draft.id, draft.version)
    before = state(db)
    for attempt, message in [
        (lambda: life.set_invoice_date(db, accountant, issued.id, dt.date(2026, 2, 3), issued.version),
         f"Invoice {issued.number} is issued and can no longer be changed; correct it with a credit note "
         f"(`cxdesk invoice credit {issued.number}`)."),
        (lambda: life.issue_invoice(db, accountant, issued.id, issued.version),
         f"Invoice {issued.number} is already issued."),
    ]:
        with pytest.raises(ConflictError) as err:
            attempt()
        assert str(err.value) == message and one_sentence(str(err.value))
        assert state(db) == before


@pytest.mark.parametrize("missing, category, rule", [
    ({"company-vat-id": ""}, "S", "BR-S-02: the seller's VAT ID is missing; set it in Settings > Company."),
    ({"company-name": ""}, "S", "BR-06: the seller's legal name is missing; set it in Settings > Company."),
    ({"company-country": ""}, "Z", "BR-09: the seller's country is missing; set it in Settings > Company."),
    ({"buyer:country": ""}, "E", "BR-11: the buyer's country is missing; set it in the customer's details (Buyer Co)."),
    ({"buyer:vat_id": ""}, "AE", "BR-AE-02: the buyer's VAT ID is missing for reverse charge; set it in the "
                                 "customer's details (Buyer Co)."),
])
def test_issuing_names_the_rule_and_the_field_of_missing_party_data(db, make_customer, admin, accountant,
                                                                      missing, category, rule):
    set_seller(db, admin, **{k: v for k, v in missing.items() if not k.startswith("buyer:")})
    cid = customer(make_customer, db, "Buyer Co", "EUR", category, "20" if category == "S" else "0",
                   **{k[6:]: v for k, v in missing.items() if k.startswith("buyer:")})
    insert(db, admin, [cdr("a", day(5), cid, 60, "1")])
    (inv,) = invoices.generate_for_periods(db, accountant, cid, "monthly", [JAN], now=NOW)
    before = state(db)
    with pytest.raises(ValidationError) as err:
        life.issue_invoice(db, accountant, inv.id, inv.version)
    assert str(err.value) == rule and one_sentence(str(err.value))
    assert state(db) == before


# -- payments --------------------------------------------------------------------------------
def test_payments_make_an_issued_invoice_part_paid_then_paid(db, draft, accountant, staff):
    with pytest.raises(ConflictError, match="is a draft; issue it before recording a payment"):
        life.record_payment(db, accountant, draft.id, "1.00", draft.version)
    inv = life.issue_invoice(db, accountant, draft.id, draft.version)
    assert inv.total == Decimal("11.30")  # 8.4151 + 1.004 = 9.4191 -> 9.42, VAT round(1.884) = 1.88
    before = state(db)
    for amount, error, message in [
        ("0", ValidationError, "The payment must be more than zero."),
        ("1.005", ValidationError, "EUR amounts have 2 decimals; round the payment."),
        ("11.31", ValidationError, f"The payment is more than the 11.30 EUR still due on invoice {inv.number}; "
                                   "check the amount."),
        ("ten", ValidationError, "The payment: 'ten' is not an amount; type a number like 1250.50 or -50."),
    ]:
        with pytest.raises(error) as err:
            life.record_payment(db, accountant, inv.id, amount, inv.version)
        assert str(err.value) == message and err.value.field == "amount"
    with pytest.raises(PermissionDenied):
        life.record_payment(db, staff, inv.id, "1", inv.version)
    assert state(db) == before

    with pytest.raises(ValidationError, match="Record the payment received for invoice .* instead"):
        life.set_paid_status(db, accountant, inv.id, "partly paid", inv.version)  # without any payment
    assert state(db) == before
    part = life.record_payment(db, accountant, inv.id, "10", inv.version)
    assert (part.paid_status, part.paid_amount, part.outstanding) == ("Part Paid", Decimal(10), Decimal("1.30"))
    paid = life.record_payment(db, accountant, inv.id, "1.30", part.version)
    assert (paid.paid_status, paid.outstanding) == ("Paid", Decimal(0))
    unpaid = life.set_paid_status(db, accountant, inv.id, "unpaid", paid.version)  # the bank reversed it
    assert (unpaid.paid_status, unpaid.paid_amount) == ("Unpaid", Decimal(0))


# -- credit notes ----------------------------------------------------------------------------
def test_credit_notes_cancel_issued_invoices_in_their_own_gapless_series(db, make_customer, admin, accountant):
    set_seller(db, admin)
    a = customer(make_customer, db, "A SARL", "EUR", "S", "20")
    b = customer(make_customer, db, "B KK", "JPY", "Z", "0", country="JP", vat_id="")
    insert(db, admin, [cdr(f"{c}{m}", day(5, m), c, 60, "3") for c in (a, b) for m in (1, 2)])
    made = {(c, start): invoices.generate_for_periods(db, accountant, c, "monthly", [start], now=NOW)[0]
            for c in (a, b) for start in (JAN, FEB)}
    draft = made[(a, FEB)]
    with pytest.raises(ConflictError, match="is a draft and was never issued, so there is nothing to credit"):
        life.credit_invoice(db, accountant, draft.id, "x")
    issued = {key: life.issue_invoice(db, accountant, inv.id, inv.version) for key, inv in made.items()
              if key != (a, FEB)}

    first = life.credit_invoice(db, accountant, issued[(b, JAN)].id, " wrong   rate ", credit_date=dt.date(2026, 3, 1))
    second = life.credit_invoice(db, accountant, issued[(a, JAN)].id)
    assert (first.ref, first.reason, first.invoice_number, first.total, first.currency) == (
        "CN-1", "wrong rate", issued[(b, JAN)].number, issued[(b, JAN)].total, "JPY")
    assert second.ref == "CN-2"  # across customers, without gaps, apart from the invoice numbers
    before = state(db)
    with pytest.raises(ConflictError) as err:
        life.credit_invoice(db, accountant, issued[(a, JAN)].id)
    assert str(err.value) == f"Invoice {issued[(a, JAN)].number} is already credited by credit note CN-2."
    with pytest.raises(ConflictError, match="credited by a credit note; recording a payment is no longer possible"):
        life.record_payment(db, accountant, issued[(a, JAN)].id, "1")
    assert state(db) == before
    with db.read_session() as s:
        assert s.get(InvoiceCounter, invoices.CREDIT_COUNTER_ID).last_number == 2
        assert s.get(InvoiceCounter, invoices.COUNTER_ID).last_number == 4
        rows = {r.number: r for r in invoices.list_invoices(s)}
        assert (rows[first.invoice_number].state, rows[first.invoice_number].credit_note) == ("Credited", "CN-1")
        assert [n.ref for n in life.list_credit_notes(s, a)] == ["CN-2"]
        assert life.find_credit_note(s, "cn-1").id == first.id
        entries = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "credit_notes")
                            .order_by(AuditEntry.id)).all()
    assert [(e.action, e.comment) for e in entries] == [("CREATE", "wrong rate"), ("CREATE", "")]
    assert entries[0].message == (f"Credit note CN-1 cancels invoice {first.invoice_number} (January 2026), total "
                                  "3 JPY: wrong rate")

    # the credited period may be invoiced again; Auto Generate does not do it by itself
    assert invoices.auto_generate(db, accountant, a, now=NOW).created == []
    (again,) = invoices.generate_for_periods(db, accountant, a, "monthly", [JAN], now=NOW)
    assert again.number == 5 and again.net == issued[(a, JAN)].net


# -- the EN 16931 document -------------------------------------------------------------------
@pytest.mark.parametrize("currency, category, rate, charges", [
    ("EUR", "S", "19", ["8.4151", "0.333333", "0.333333"]),
    ("GBP", "S", "20", ["0.004", "0.004"]),
    ("JPY", "Z", "0", ["100.4", "0.1"]),
    ("KWD", "E", "0", ["1.2344", "0.0001", "7.5555"]),
    ("EUR", "AE", "0", ["2.125"]),
])
def test_the_document_states_the_stored_figures_by_br_co_10_to_16(db, make_customer, admin, accountant,
                                                                  currency, category, rate, charges):
    from cxdesk.services.einvoice import document as doc_model
    from cxdesk.services.einvoice.validate import check

    set_seller(db, admin)
    cid = customer(make_customer, db, "Buyer", currency, category, rate, buyer_reference="PO-9")
    insert(db, admin, [cdr(f"c{i}", day(5 + i), cid, 60, c) for i, c in enumerate(charges)])
    (inv,) = invoices.generate_for_periods(db, accountant, cid, "monthly", [JAN], now=NOW)
    inv = life.issue_invoice(db, accountant, inv.id, inv.version)
    with db.read_session() as s:
        doc = invoices.einvoice_document(s, inv.id)
    step = invoices.invoice_quantum(currency)
    assert (doc.type_code, doc.number, doc.currency, doc.buyer_reference) == ("380", str(inv.number), currency, "PO-9")
    assert sum(ln.net for ln in doc.lines) == doc.totals.line_total == inv.net  # BR-CO-10
    assert all(ln.quantity * ln.unit_price == ln.net and ln.net % step == 0 for ln in doc.lines)
    (vat,) = doc.breakdown
    assert (vat.category, vat.taxable_amount, vat.tax_amount) == (category, inv.net, inv.tax)
    assert vat.tax_amount == (vat.taxable_amount * Decimal(rate) / 100).quantize(step)  # BR-CO-17 (half-up ties aside)
    assert doc.totals.tax == vat.tax_amount  # BR-CO-14
    assert doc.totals.tax_exclusive == doc.totals.line_total  # BR-CO-13
    assert doc.totals.tax_inclusive == doc.totals.tax_exclusive + doc.totals.tax == inv.total  # BR-CO-15
    assert doc.totals.payable == doc.totals.tax_inclusive  # BR-CO-16
    assert max(-ln.net.as_tuple().exponent for ln in doc.lines) <= doc_model.MAX_AMOUNT_PLACES
    assert (vat.exemption_reason != "") == (category in ("E", "AE"))
    assert doc.payment.iban == "DE89370400440532013000" and doc.payment.payment_reference == str(inv.number)
    check(doc)  # XSD and the EN 16931 Schematron, both syntaxes: raises naming the rule


def test_category_o_states_no_vat_ids_and_the_credit_note_cites_its_invoice(db, make_customer, admin, accountant):
    from cxdesk.services.einvoice.validate import check

    set_seller(db, admin)
    cid = customer(make_customer, db, "Outside Co", "USD", "O", "0", country="US", vat_id="")
    with unit_of_work(db, admin) as uow:  # O gets its reason as the form would give it
        c = uow.session.get(Customer, cid)
        c.vat_exemption_reason, c.vat_exemption_code = "Not subject to VAT", "VATEX-EU-O"
    insert(db, admin, [cdr("o", day(5), cid, 60, "4.5")])
    (inv,) = invoices.generate_for_periods(db, accountant, cid, "monthly", [JAN], now=NOW)
    inv = life.issue_invoice(db, accountant, inv.id, inv.version)
    cn = life.credit_invoice(db, accountant, inv.id, "service not delivered", credit_date=dt.date(2026, 2, 20))
    with db.read_session() as s:
        doc = invoices.einvoice_document(s, inv.id)
        credit = invoice_document.credit_note_document(s, cn.id)
    assert (doc.seller.vat_id, doc.buyer.vat_id) == ("", "")  # BR-O-02..04
    assert (credit.type_code, credit.number, credit.issue_date) == ("381", "CN-1", dt.date(2026, 2, 20))
    assert (credit.preceding_number, credit.preceding_date) == (str(inv.number), inv.invoice_date)
    assert credit.totals == doc.totals and credit.notes == (f"Cancels invoice {inv.number}: service not delivered",)
    check(doc)
    check(credit)


# -- migration 0003 --------------------------------------------------------------------------
def test_migration_keeps_existing_invoices_as_issued_with_their_figures(tmp_path):
    from alembic import command

    from cxdesk.db import alembic_config, open_database
    from cxdesk.models.base import Exact, UTCDateTime

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        t = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
        stamps = {"version": 1, "created_at": t, "updated_at": t, "updated_by": "old"}
        money = {c: Exact() for c in ("credit", "debit_limit", "tax_percent", "net", "tax", "total", "minutes",
                                      "unit_price")}
        times = {c: UTCDateTime() for c in ("created_at", "updated_at", "period_start", "period_end")}

        def insert(table: str, **values) -> None:
            cols = [sa.column(k, money.get(k, times.get(k))) for k in values]
            conn.execute(sa.table(table, *cols).insert().values(**values))

        insert("customers", id=1, name="Old Co", status="Active", currency="EUR", credit=Decimal(0),
               debit_limit=Decimal(0), channels=0, flow_speed=0, tax_percent=Decimal(20), invoice_schedule="Monthly",
               invoice_due_days=30, portal_access=True, tags="", **stamps)
        insert("customers", id=2, name="Zero Co", status="Active", currency="GBP", credit=Decimal(0),
               debit_limit=Decimal(0), channels=0, flow_speed=0, tax_percent=Decimal(0), invoice_schedule="Monthly",
               invoice_due_days=30, portal_access=True, tags="", **stamps)
        insert("invoices", id=1, number=1, customer_id=1, name="December 2024", period_kind="monthly",
               period_start=t - dt.timedelta(days=31), period_end=t, invoice_date=dt.date(2025, 1, 2),
               due_date=dt.date(2025, 2, 1), currency="EUR", tax_percent=Decimal(20), net=Decimal("8.415100"),
               tax=Decimal("1.683020"), total=Decimal("10.10"), paid_status="Paid", **stamps)
        insert("invoice_lines", id=1, invoice_id=1, position=1, description="Calls", period_start=t, period_end=t,
               calls=3, minutes=Decimal("12.5"), unit_price=Decimal("0.673208"), net=Decimal("8.415100"),
               tax=Decimal("1.683020"), total=Decimal("10.098120"))
    engine.dispose()

    db = open_database(url)  # migrates to the head
    try:
        with db.read_session() as s:
            inv = invoices.get_invoice(s, 1)
            assert (inv.state, inv.legacy_amounts, inv.vat_category, inv.paid_amount, inv.issued_at) == (
                "Issued", True, "S", Decimal("10.10"), t)
            assert (inv.net, inv.tax, inv.total) == (Decimal("8.415100"), Decimal("1.683020"), Decimal("10.10"))
            assert dataclasses.astuple(inv.lines[0])[4:9] == (3, Decimal("12.5"), Decimal("0.673208"),
                                                             Decimal("8.415100"), Decimal("1.683020"))
            assert inv.lines[0].quantity == Decimal("12.5")  # minutes: its price was per minute
            assert [c.vat_category for c in s.scalars(select(Customer).order_by(Customer.id))] == ["S", "Z"]
            assert s.get(InvoiceCounter, invoices.CREDIT_COUNTER_ID).last_number == 0
        with pytest.raises(ConflictError, match="Invoice 1 is issued and can no longer be changed"):
            from cxdesk.services.actor import Actor

            life.set_invoice_date(db, Actor("alice", "admin"), 1, dt.date(2025, 1, 3), None)
    finally:
        db.close()
