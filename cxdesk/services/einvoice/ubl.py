"""The Document as OASIS UBL 2.1 Invoice or CreditNote, Peppol BIS Billing 3.0.

CustomizationID and ProfileID are Peppol BIS Billing 3.0's; the content follows the EN
16931 UBL binding, elements in the order the UBL 2.1 XSD requires.  A credit note (381)
is a ``CreditNote`` document (CreditNoteTypeCode, CreditNoteLine / CreditedQuantity, the
due date under PaymentMeans) with a BillingReference to the invoice it corrects.
"""
from __future__ import annotations

from lxml import etree

from cxdesk.services.einvoice._xml import iso, number, serialise, sub, text
from cxdesk.services.einvoice.document import Document, Line, Party

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
ROOT_NS = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}


def _b(name: str) -> str:
    return f"{{{CBC}}}{name}"


def _a(name: str) -> str:
    return f"{{{CAC}}}{name}"


def _vat_scheme(parent: etree._Element) -> None:
    sub(sub(parent, _a("TaxScheme")), _b("ID"), "VAT")


def _category(parent: etree._Element, tag: str, category: str, rate, reason_code: str = "", reason: str = "") -> None:
    node = sub(parent, _a(tag))
    sub(node, _b("ID"), category)
    if category != "O":
        sub(node, _b("Percent"), number(rate))
    if reason_code:
        sub(node, _b("TaxExemptionReasonCode"), reason_code)
    if reason:
        sub(node, _b("TaxExemptionReason"), text(reason))
    _vat_scheme(node)


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    node = sub(sub(parent, _a(tag)), _a("Party"))
    if party.electronic_address:
        sub(node, _b("EndpointID"), text(party.electronic_address), schemeID=party.electronic_address_scheme)
    address = sub(node, _a("PostalAddress"))
    lines = list(party.address_lines)
    if lines:
        sub(address, _b("StreetName"), text(lines[0]))
    if len(lines) > 1:
        sub(address, _b("AdditionalStreetName"), text(lines[1]))
    if party.city:
        sub(address, _b("CityName"), text(party.city))
    if party.post_code:
        sub(address, _b("PostalZone"), text(party.post_code))
    if len(lines) > 2:
        sub(sub(address, _a("AddressLine")), _b("Line"), text(lines[2]))
    sub(sub(address, _a("Country")), _b("IdentificationCode"), text(party.country_code))
    if party.vat_id:
        scheme = sub(node, _a("PartyTaxScheme"))
        sub(scheme, _b("CompanyID"), text(party.vat_id))
        _vat_scheme(scheme)
    legal = sub(node, _a("PartyLegalEntity"))
    sub(legal, _b("RegistrationName"), text(party.name))
    if party.registration_id:
        sub(legal, _b("CompanyID"), text(party.registration_id))
    if party.contact_email or party.contact_phone:
        contact = sub(node, _a("Contact"))
        if party.contact_phone:
            sub(contact, _b("Telephone"), text(party.contact_phone))
        if party.contact_email:
            sub(contact, _b("ElectronicMail"), text(party.contact_email))


def _period(parent: etree._Element, start, end) -> None:
    if start is None and end is None:
        return
    period = sub(parent, _a("InvoicePeriod"))
    if start is not None:
        sub(period, _b("StartDate"), iso(start))
    if end is not None:
        sub(period, _b("EndDate"), iso(end))


def _line(parent: etree._Element, doc: Document, line: Line, kind: str) -> None:
    node = sub(parent, _a(f"{kind}Line"))
    sub(node, _b("ID"), text(line.id))
    if line.note:
        sub(node, _b("Note"), text(line.note))
    quantity = "CreditedQuantity" if kind == "CreditNote" else "InvoicedQuantity"
    sub(node, _b(quantity), number(line.quantity), unitCode=line.unit_code)
    sub(node, _b("LineExtensionAmount"), number(line.net), currencyID=doc.currency)
    _period(node, line.period_start, line.period_end)
    item = sub(node, _a("Item"))
    sub(item, _b("Name"), text(line.description))
    _category(item, "ClassifiedTaxCategory", line.vat_category, line.vat_rate)
    sub(sub(node, _a("Price")), _b("PriceAmount"), number(line.unit_price), currencyID=doc.currency)


def _money(parent: etree._Element, tag: str, value, currency: str) -> None:
    sub(parent, _b(tag), number(value), currencyID=currency)


def ubl_tree(doc: Document) -> etree._Element:
    kind = "CreditNote" if doc.is_credit_note else "Invoice"
    root = etree.Element(f"{{{ROOT_NS[kind]}}}{kind}", nsmap={None: ROOT_NS[kind], "cac": CAC, "cbc": CBC})
    sub(root, _b("CustomizationID"), CUSTOMIZATION_ID)
    sub(root, _b("ProfileID"), PROFILE_ID)
    sub(root, _b("ID"), text(doc.number))
    sub(root, _b("IssueDate"), iso(doc.issue_date))
    if kind == "Invoice" and doc.due_date is not None:
        sub(root, _b("DueDate"), iso(doc.due_date))
    sub(root, _b(f"{kind}TypeCode"), doc.type_code)
    for note in doc.notes:
        sub(root, _b("Note"), text(note))
    sub(root, _b("DocumentCurrencyCode"), doc.currency)
    if doc.buyer_reference:
        sub(root, _b("BuyerReference"), text(doc.buyer_reference))
    _period(root, doc.period_start, doc.period_end)
    if doc.preceding_number:
        ref = sub(sub(root, _a("BillingReference")), _a("InvoiceDocumentReference"))
        sub(ref, _b("ID"), text(doc.preceding_number))
        if doc.preceding_date is not None:
            sub(ref, _b("IssueDate"), iso(doc.preceding_date))
    _party(root, "AccountingSupplierParty", doc.seller)
    _party(root, "AccountingCustomerParty", doc.buyer)
    if doc.delivery_country:  # BT-80
        location = sub(sub(root, _a("Delivery")), _a("DeliveryLocation"))
        sub(sub(sub(location, _a("Address")), _a("Country")), _b("IdentificationCode"), text(doc.delivery_country))
    pay = doc.payment
    if pay is not None:
        means = sub(root, _a("PaymentMeans"))
        sub(means, _b("PaymentMeansCode"), pay.code)
        if kind == "CreditNote" and doc.due_date is not None:
            sub(means, _b("PaymentDueDate"), iso(doc.due_date))
        if pay.payment_reference:
            sub(means, _b("PaymentID"), text(pay.payment_reference))
        account = sub(means, _a("PayeeFinancialAccount"))
        sub(account, _b("ID"), text(pay.iban))
        if pay.account_name:
            sub(account, _b("Name"), text(pay.account_name))
        if pay.bic:
            sub(sub(account, _a("FinancialInstitutionBranch")), _b("ID"), text(pay.bic))
    if doc.payment_terms:
        sub(sub(root, _a("PaymentTerms")), _b("Note"), text(doc.payment_terms))
    tax_total = sub(root, _a("TaxTotal"))
    _money(tax_total, "TaxAmount", doc.totals.tax, doc.currency)
    for vat in doc.breakdown:
        subtotal = sub(tax_total, _a("TaxSubtotal"))
        _money(subtotal, "TaxableAmount", vat.taxable_amount, doc.currency)
        _money(subtotal, "TaxAmount", vat.tax_amount, doc.currency)
        _category(subtotal, "TaxCategory", vat.category, vat.rate, vat.exemption_reason_code, vat.exemption_reason)
    t = doc.totals
    totals = sub(root, _a("LegalMonetaryTotal"))
    _money(totals, "LineExtensionAmount", t.line_total, doc.currency)
    _money(totals, "TaxExclusiveAmount", t.tax_exclusive, doc.currency)
    _money(totals, "TaxInclusiveAmount", t.tax_inclusive, doc.currency)
    if t.prepaid:
        _money(totals, "PrepaidAmount", t.prepaid, doc.currency)
    _money(totals, "PayableAmount", t.payable, doc.currency)
    for line in doc.lines:
        _line(root, doc, line, kind)
    return root


def ubl_xml(doc: Document) -> bytes:
    """The UBL XML (UTF-8 bytes) of ``doc``; not validated (see ``validate``)."""
    return serialise(ubl_tree(doc))
