"""Test e-invoice Documents built by hand, amounts by EN 16931 (shared by the e-invoice
unit and integration tests and bench/einvoice.py)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from cxdesk.services.einvoice.document import (
    CREDIT_NOTE,
    INVOICE,
    Document,
    Line,
    Party,
    PaymentMeans,
    Totals,
    VatBreakdown,
)

D = Decimal
PLACES = {"EUR": 2, "GBP": 2, "JPY": 0, "KWD": 2}  # KWD: EN 16931 allows 2 decimals at most
REASONS = {
    "E": ("VATEX-EU-132", "Exempt based on article 132 of Council Directive 2006/112/EC"),
    "AE": ("VATEX-EU-AE", "Reverse charge"),
    "K": ("VATEX-EU-IC", "Intra-Community supply"),
}

SELLER = Party(
    name="Nordwind Telecom GmbH",
    address_lines=("Hafenstrasse 12",),
    city="Hamburg",
    post_code="20457",
    country_code="DE",
    vat_id="DE123456789",
    registration_id="HRB 123456",
    electronic_address="billing@nordwind.example",
    contact_email="billing@nordwind.example",
)
PAYMENT = PaymentMeans(iban="DE89370400440532013000", bic="COBADEFFXXX", account_name="Nordwind Telecom GmbH")

BUYERS = {
    "S": Party("Acme Calls GmbH", ("Marktplatz 1", "2. OG"), "Berlin", "10117", "DE", vat_id="DE987654321"),
    "Z": Party("Thames Voice Ltd", ("1 River Street",), "London", "SE1 9PP", "GB", vat_id="GB123456789"),
    "E": Party("Sakura Health KK", ("1-1 Chiyoda",), "Tokyo", "100-0001", "JP"),
    "AE": Party("Gulf Connect BV", ("Keizersgracht 5",), "Amsterdam", "1015 CJ", "NL", vat_id="NL123456789B01"),
    "K": Party("Lumiere Telecom SARL", ("5 rue de la Paix",), "Paris", "75002", "FR", vat_id="FR12345678901"),
}


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)


def line(n: int, qty: str, price: str, category: str, rate: str, places: int, unit: str = "MIN") -> Line:
    net = _round(D(qty) * D(price), places)
    assert net == D(qty) * D(price), "choose quantity x price exact"
    return Line(str(n), f"Outbound calls zone {n}", D(qty), unit, D(price), net, category, D(rate),
                dt.date(2026, 1, 1), dt.date(2026, 1, 31))


def document(lines: list[Line], currency: str, buyer: Party, *, number: str = "INV-2026-0001",
             type_code: str = INVOICE, prepaid: str = "0", **extra) -> Document:
    """A document whose breakdown and totals follow BR-CO-10..16 and BR-CO-17."""
    places = PLACES[currency]
    groups: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    for ln in lines:
        groups[(ln.vat_category, ln.vat_rate)] += ln.net
    breakdown = tuple(
        VatBreakdown(cat, rate, taxable, _round(taxable * rate / 100, places), *REASONS.get(cat, ("", "")))
        for (cat, rate), taxable in groups.items()
    )
    line_total = sum((ln.net for ln in lines), D(0))
    tax = sum((b.tax_amount for b in breakdown), D(0))
    totals = Totals(line_total, line_total, tax, line_total + tax, line_total + tax - D(prepaid), D(prepaid))
    fields = dict(
        type_code=type_code, number=number, issue_date=dt.date(2026, 2, 1), currency=currency,
        seller=SELLER, buyer=buyer, lines=tuple(lines), breakdown=breakdown, totals=totals,
        due_date=dt.date(2026, 2, 15), buyer_reference="PO-4711", period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 1, 31), payment=dataclasses.replace(PAYMENT, payment_reference=number),
        payment_terms="Payable within 14 days", notes=("Thank you for your business.",),
    )
    fields.update(extra)
    return Document(**fields)


def samples() -> dict[str, Document]:
    """EUR standard rate, GBP zero rate, JPY exempt, KWD reverse charge, EUR intra-community,
    a mixed-category invoice and a credit note (381)."""
    two = PLACES["EUR"]
    return {
        "eur-standard": document([line(1, "1250", "0.012", "S", "19", two), line(2, "333", "0.03", "S", "19", two),
                                  line(3, "1", "5.00", "S", "19", two, unit="C62")], "EUR", BUYERS["S"]),
        "gbp-zero": document([line(1, "842", "0.01", "Z", "0", 2)], "GBP", BUYERS["Z"], number="INV-2026-0002"),
        "jpy-exempt": document([line(1, "1500", "3", "E", "0", 0), line(2, "20", "150", "E", "0", 0)], "JPY",
                               BUYERS["E"], number="INV-2026-0003"),
        "kwd-reverse": document([line(1, "4000", "0.0025", "AE", "0", 2)], "KWD", BUYERS["AE"], number="INV-2026-0004"),
        "eur-intra": document([line(1, "900", "0.02", "K", "0", 2)], "EUR", BUYERS["K"], number="INV-2026-0005",
                              delivery_country=BUYERS["K"].country_code),
        "eur-mixed": document([line(1, "842", "0.01", "S", "21", 2), line(2, "100", "0.05", "Z", "0", 2),
                               line(3, "250", "0.04", "E", "0", 2), line(4, "77", "0.11", "S", "9", 2)],
                              "EUR", BUYERS["S"], number="INV-2026-0006", prepaid="1.00"),
        "eur-credit": document([line(1, "500", "0.012", "S", "19", 2)], "EUR", BUYERS["S"], number="CN-2026-0001",
                               type_code=CREDIT_NOTE, preceding_number="INV-2026-0001",
                               preceding_date=dt.date(2026, 2, 1), due_date=None),
    }


#: the official CEN/TC 434 EN 16931 validation artefacts, release 1.3.16 (EUPL 1.2, see its
#: LICENSE.txt), kept with the tests so a clean checkout validates against them offline
OFFICIAL_RULES = Path(__file__).resolve().parent / "data" / "en16931"
