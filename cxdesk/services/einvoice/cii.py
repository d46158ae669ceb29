"""The Document as UN/CEFACT CII D16B XML, EN 16931 profile (the XML inside Factur-X).

Guideline ``urn:cen.eu:en16931:2017`` (= Factur-X / ZUGFeRD profile EN 16931 "Comfort").
Elements follow the order the Factur-X EN 16931 XSD requires.  A credit note is the same
document with type code 381 and a reference to the invoice it corrects (BG-3).
"""
from __future__ import annotations


from lxml import etree

from cxdesk.services.einvoice._xml import number, serialise, sub, text, yyyymmdd
from cxdesk.services.einvoice.document import Document, Line, Party

GUIDELINE = "urn:cen.eu:en16931:2017"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}


def _r(name: str) -> str:
    return f"{{{RAM}}}{name}"


def _date(parent: etree._Element, tag: str, day, ns: str = UDT) -> None:
    sub(sub(parent, _r(tag)), f"{{{ns}}}DateTimeString", yyyymmdd(day), format="102")


def _period(parent: etree._Element, start, end) -> None:
    if start is None and end is None:
        return
    period = sub(parent, _r("BillingSpecifiedPeriod"))
    if start is not None:
        _date(period, "StartDateTime", start)
    if end is not None:
        _date(period, "EndDateTime", end)


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    node = sub(parent, _r(tag))
    sub(node, _r("Name"), text(party.name))
    if party.registration_id:
        sub(sub(node, _r("SpecifiedLegalOrganization")), _r("ID"), text(party.registration_id))
    if party.contact_email or party.contact_phone:
        contact = sub(node, _r("DefinedTradeContact"))
        if party.contact_phone:
            sub(sub(contact, _r("TelephoneUniversalCommunication")), _r("CompleteNumber"), text(party.contact_phone))
        if party.contact_email:
            sub(sub(contact, _r("EmailURIUniversalCommunication")), _r("URIID"), text(party.contact_email))
    address = sub(node, _r("PostalTradeAddress"))
    if party.post_code:
        sub(address, _r("PostcodeCode"), text(party.post_code))
    for tag_, line in zip(("LineOne", "LineTwo", "LineThree"), party.address_lines):
        sub(address, _r(tag_), text(line))
    if party.city:
        sub(address, _r("CityName"), text(party.city))
    sub(address, _r("CountryID"), text(party.country_code))
    if party.electronic_address:
        sub(sub(node, _r("URIUniversalCommunication")), _r("URIID"), text(party.electronic_address),
            schemeID=party.electronic_address_scheme)
    if party.vat_id:
        sub(sub(node, _r("SpecifiedTaxRegistration")), _r("ID"), text(party.vat_id), schemeID="VA")


def _line(parent: etree._Element, line: Line) -> None:
    item = sub(parent, _r("IncludedSupplyChainTradeLineItem"))
    doc = sub(item, _r("AssociatedDocumentLineDocument"))
    sub(doc, _r("LineID"), text(line.id))
    if line.note:
        sub(sub(doc, _r("IncludedNote")), _r("Content"), text(line.note))
    sub(sub(item, _r("SpecifiedTradeProduct")), _r("Name"), text(line.description))
    price = sub(sub(item, _r("SpecifiedLineTradeAgreement")), _r("NetPriceProductTradePrice"))
    sub(price, _r("ChargeAmount"), number(line.unit_price))
    sub(sub(item, _r("SpecifiedLineTradeDelivery")), _r("BilledQuantity"), number(line.quantity), unitCode=line.unit_code)
    settlement = sub(item, _r("SpecifiedLineTradeSettlement"))
    tax = sub(settlement, _r("ApplicableTradeTax"))
    sub(tax, _r("TypeCode"), "VAT")
    sub(tax, _r("CategoryCode"), line.vat_category)
    if line.vat_category != "O":
        sub(tax, _r("RateApplicablePercent"), number(line.vat_rate))
    _period(settlement, line.period_start, line.period_end)
    sub(sub(settlement, _r("SpecifiedTradeSettlementLineMonetarySummation")), _r("LineTotalAmount"), number(line.net))


def _settlement(parent: etree._Element, doc: Document) -> None:
    settlement = sub(parent, _r("ApplicableHeaderTradeSettlement"))
    pay = doc.payment
    if pay is not None and pay.payment_reference:
        sub(settlement, _r("PaymentReference"), text(pay.payment_reference))
    sub(settlement, _r("InvoiceCurrencyCode"), doc.currency)
    if pay is not None:
        means = sub(settlement, _r("SpecifiedTradeSettlementPaymentMeans"))
        sub(means, _r("TypeCode"), pay.code)
        account = sub(means, _r("PayeePartyCreditorFinancialAccount"))
        sub(account, _r("IBANID"), text(pay.iban))
        if pay.account_name:
            sub(account, _r("AccountName"), text(pay.account_name))
        if pay.bic:
            sub(sub(means, _r("PayeeSpecifiedCreditorFinancialInstitution")), _r("BICID"), text(pay.bic))
    for vat in doc.breakdown:
        tax = sub(settlement, _r("ApplicableTradeTax"))
        sub(tax, _r("CalculatedAmount"), number(vat.tax_amount))
        sub(tax, _r("TypeCode"), "VAT")
        if vat.exemption_reason:
            sub(tax, _r("ExemptionReason"), text(vat.exemption_reason))
        sub(tax, _r("BasisAmount"), number(vat.taxable_amount))
        sub(tax, _r("CategoryCode"), vat.category)
        if vat.exemption_reason_code:
            sub(tax, _r("ExemptionReasonCode"), vat.exemption_reason_code)
        if vat.category != "O":
            sub(tax, _r("RateApplicablePercent"), number(vat.rate))
    _period(settlement, doc.period_start, doc.period_end)
    if doc.payment_terms or doc.due_date is not None:
        terms = sub(settlement, _r("SpecifiedTradePaymentTerms"))
        if doc.payment_terms:
            sub(terms, _r("Description"), text(doc.payment_terms))
        if doc.due_date is not None:
            _date(terms, "DueDateDateTime", doc.due_date)
    t = doc.totals
    sums = sub(settlement, _r("SpecifiedTradeSettlementHeaderMonetarySummation"))
    sub(sums, _r("LineTotalAmount"), number(t.line_total))
    sub(sums, _r("TaxBasisTotalAmount"), number(t.tax_exclusive))
    sub(sums, _r("TaxTotalAmount"), number(t.tax), currencyID=doc.currency)
    sub(sums, _r("GrandTotalAmount"), number(t.tax_inclusive))
    if t.prepaid:
        sub(sums, _r("TotalPrepaidAmount"), number(t.prepaid))
    sub(sums, _r("DuePayableAmount"), number(t.payable))
    if doc.preceding_number:
        ref = sub(settlement, _r("InvoiceReferencedDocument"))
        sub(ref, _r("IssuerAssignedID"), text(doc.preceding_number))
        if doc.preceding_date is not None:
            _date(ref, "FormattedIssueDateTime", doc.preceding_date, QDT)


def cii_tree(doc: Document) -> etree._Element:
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = sub(root, f"{{{RSM}}}ExchangedDocumentContext")
    sub(sub(context, _r("GuidelineSpecifiedDocumentContextParameter")), _r("ID"), GUIDELINE)
    header = sub(root, f"{{{RSM}}}ExchangedDocument")
    sub(header, _r("ID"), text(doc.number))
    sub(header, _r("TypeCode"), doc.type_code)
    _date(header, "IssueDateTime", doc.issue_date)
    for note in doc.notes:
        sub(sub(header, _r("IncludedNote")), _r("Content"), text(note))
    trade = sub(root, f"{{{RSM}}}SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(trade, line)
    agreement = sub(trade, _r("ApplicableHeaderTradeAgreement"))
    if doc.buyer_reference:
        sub(agreement, _r("BuyerReference"), text(doc.buyer_reference))
    _party(agreement, "SellerTradeParty", doc.seller)
    _party(agreement, "BuyerTradeParty", doc.buyer)
    delivery = sub(trade, _r("ApplicableHeaderTradeDelivery"))
    if doc.delivery_country:  # BT-80
        ship = sub(sub(delivery, _r("ShipToTradeParty")), _r("PostalTradeAddress"))
        sub(ship, _r("CountryID"), text(doc.delivery_country))
    _settlement(trade, doc)
    return root


def cii_xml(doc: Document) -> bytes:
    """The CII XML (UTF-8 bytes) of ``doc``; not validated (see ``validate``)."""
    return serialise(cii_tree(doc))


