"""One invoice or credit note as EN 16931 sees it: plain frozen dataclasses, no I/O.

This is the meeting point between the invoice data (``cxdesk.services.invoices.
einvoice_document`` builds a ``Document`` from the database) and the outputs in this
package (CII / Factur-X, UBL, the PDF) and their validation.  Nothing here computes
amounts: the builder puts in the figures the invoice *states*, and validation (XSD plus
the official Schematron) checks them, e.g. BR-CO-10 (line total = sum of line nets) or
BR-CO-17 (VAT = taxable amount x rate, rounded).

Conventions (the EN 16931 business terms in brackets):

* Money is ``Decimal`` in the document currency, already rounded.  EN 16931 allows at
  most **2 decimals** on every amount except unit prices (rules BR-DEC-*), so a currency
  with 3 minor-unit digits (KWD, BHD, OMR, ...) is stated to 0.01 here; JPY has 0.
  ``amount_places`` gives the places to use.  Unit prices and quantities may have more.
* A credit note (type 381) states **positive** amounts, like the invoice it corrects, and
  names that invoice in ``preceding_number`` / ``preceding_date`` (BG-3).
* Country codes are ISO 3166-1 alpha-2 ("DE", "GB"), currency codes ISO 4217, unit codes
  UN/ECE Rec. 20 ("MIN" minute, "C62" one/piece, "HUR" hour, "MON" month).
* VAT category codes (UNCL5305): S standard, Z zero rated, E exempt, AE reverse charge,
  K intra-community supply, G export outside the EU, O not subject to VAT.  E, AE, K, G
  and O need an exemption reason (code from the VATEX list, e.g. "VATEX-EU-AE", or a text)
  on their ``VatBreakdown``; AE and K need the buyer's VAT ID; O allows no VAT IDs.
  K also needs the deliver-to country (BT-80, BR-IC-12) and the invoicing period or the
  actual delivery date (BR-IC-11): cxdesk states the period, which every invoice has.
* Empty text means "not given"; every text is written through
  ``export_safety.strip_forbidden`` by the writers, so the builder need not clean it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

INVOICE = "380"
CREDIT_NOTE = "381"
#: UNCL4461 payment means: 58 SEPA credit transfer, 30 credit transfer (non-SEPA)
SEPA_CREDIT_TRANSFER = "58"
CREDIT_TRANSFER = "30"
#: EN 16931's maximum number of decimals on an amount (BR-DEC-*)
MAX_AMOUNT_PLACES = 2


def amount_places(minor_units: int) -> int:
    """Decimals to state amounts with, for a currency with ``minor_units`` digits (ISO 4217):
    the currency's own, but never more than EN 16931 allows (KWD's 3 become 2)."""
    return min(minor_units, MAX_AMOUNT_PLACES)


@dataclass(frozen=True)
class Party:
    """Seller (BG-4) or buyer (BG-7)."""

    name: str  # BT-27 / BT-44 legal name
    address_lines: tuple[str, ...] = ()  # BT-35..36, BT-162 (at most 3 used)
    city: str = ""  # BT-37 / BT-52
    post_code: str = ""  # BT-38 / BT-53
    country_code: str = ""  # BT-40 / BT-55, ISO 3166-1 alpha-2 (required)
    vat_id: str = ""  # BT-31 / BT-48, with country prefix, e.g. "DE123456789"
    registration_id: str = ""  # BT-30 / BT-47 legal registration (company number)
    electronic_address: str = ""  # BT-34 / BT-49, e.g. an email address
    electronic_address_scheme: str = "EM"  # its scheme (EAS code list; EM = email)
    contact_email: str = ""  # BT-43 / BT-58
    contact_phone: str = ""  # BT-42 / BT-57


@dataclass(frozen=True)
class PaymentMeans:
    """How to pay (BG-16): a credit transfer to ``iban``."""

    iban: str  # BT-84, without spaces
    bic: str = ""  # BT-86
    payment_reference: str = ""  # BT-83 remittance information (usually the invoice number)
    account_name: str = ""  # BT-85
    code: str = SEPA_CREDIT_TRANSFER  # BT-81


@dataclass(frozen=True)
class Line:
    """One invoice line (BG-25)."""

    id: str  # BT-126, unique in the document ("1", "2", ...)
    description: str  # BT-153 item name
    quantity: Decimal  # BT-129
    unit_code: str  # BT-130, e.g. "MIN" or "C62"
    unit_price: Decimal  # BT-146 net price per unit (any decimals)
    net: Decimal  # BT-131 line net amount (at most 2 decimals)
    vat_category: str  # BT-151
    vat_rate: Decimal  # BT-152 percent, e.g. Decimal("21"); 0 for Z, E, AE, K, G; unused for O
    period_start: dt.date | None = None  # BT-134
    period_end: dt.date | None = None  # BT-135
    note: str = ""  # BT-127


@dataclass(frozen=True)
class VatBreakdown:
    """One VAT category and rate with its amounts (BG-23)."""

    category: str  # BT-118
    rate: Decimal  # BT-119 percent
    taxable_amount: Decimal  # BT-116, sum of this category's line nets
    tax_amount: Decimal  # BT-117, round(taxable x rate / 100)
    exemption_reason_code: str = ""  # BT-121, VATEX code
    exemption_reason: str = ""  # BT-120, text


@dataclass(frozen=True)
class Totals:
    """Document totals (BG-22), BR-CO-10 to BR-CO-16; no document-level allowances."""

    line_total: Decimal  # BT-106 = sum of line nets
    tax_exclusive: Decimal  # BT-109 = line total (no allowances / charges)
    tax: Decimal  # BT-110 = sum of breakdown tax amounts
    tax_inclusive: Decimal  # BT-112 = tax exclusive + tax
    payable: Decimal  # BT-115 = tax inclusive - prepaid
    prepaid: Decimal = Decimal(0)  # BT-113 paid amount


@dataclass(frozen=True)
class Document:
    """An invoice (380) or credit note (381) ready to be written in any syntax."""

    type_code: str  # BT-3: INVOICE or CREDIT_NOTE
    number: str  # BT-1
    issue_date: dt.date  # BT-2
    currency: str  # BT-5, ISO 4217
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    breakdown: tuple[VatBreakdown, ...]
    totals: Totals
    due_date: dt.date | None = None  # BT-9
    buyer_reference: str = ""  # BT-10
    preceding_number: str = ""  # BT-25, the corrected invoice (credit notes)
    preceding_date: dt.date | None = None  # BT-26
    period_start: dt.date | None = None  # BT-73
    period_end: dt.date | None = None  # BT-74
    delivery_country: str = ""  # BT-80 deliver-to country (BG-15); required for K (BR-IC-12)
    payment: PaymentMeans | None = None  # BG-16
    payment_terms: str = ""  # BT-20
    notes: tuple[str, ...] = field(default=())  # BT-22

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == CREDIT_NOTE
